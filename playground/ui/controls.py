"""Widgets bound to Config fields.

Every widget is keyed ``cfg_<field>``; its value is set from the Config before
it is drawn and its change callback writes the Config back (``visit.commit``),
so the Config stays the single source of truth and the URL follows it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import streamlit as st

from playground.engine.config.config import Config
from playground.engine.data.datasets import DATASETS
from playground.engine.nn.activations import ACTIVATIONS
from playground.engine.nn.losses import LOSSES
from playground.engine.nn.optimizers import OPTIMIZER_TITLES
from playground.ui import visit

# The TensorFlow Playground's menus; a value from a URL that is not listed is added.
LEARNING_RATES = (0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
REG_RATES = (0.0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
SPEEDS = (0.0, 1.0, 10.0, 100.0)  # epochs per second; 0: as fast as it goes
TITLES: dict[str, dict[str, str]] = {
    "activation": {n: a.title for n, a in ACTIVATIONS.items()},
    "optimizer": OPTIMIZER_TITLES,
    "loss": LOSSES,
    "regularization": {"none": "None", "l1": "L1", "l2": "L2"},
    "dataset": {n: s.title for n, s in DATASETS.items()},
    "lr_schedule": {"constant": "Constant", "step": "Step (halve every period)",
                    "exponential": "Exponential (half-life = period)",
                    "cosine": "Cosine (period)"},
    "init": {"xavier": "Xavier / Glorot", "he": "He / Kaiming", "uniform": "Uniform ±0.5",
             "zeros": "All zero (no symmetry breaking)"},
    "speed": {0.0: "max", 1.0: "1 epoch/s", 10.0: "10/s", 100.0: "100/s"},
}
Widget = Callable[..., object]


DEFAULT_VALIDATION = 20  # percent held out when early stopping is turned on without a share


def _on_change(field: str, to_config: Callable[[object], object]) -> None:
    value = to_config(st.session_state[f"cfg_{field}"])
    changes = {field: value}
    if field == "patience" and value and not visit.config().validation:
        # early stopping watches a validation loss: it needs points to watch
        changes["validation"] = DEFAULT_VALIDATION
        visit.note(f"Early stopping watches the validation loss: {DEFAULT_VALIDATION} % of "
                     "the training points are now held out for it (the test points stay "
                     "unseen), and training starts again.")
    visit.commit(visit.config().replace(**changes))


def bind(widget: Widget, field: str, label: str, *, to_widget: Callable = lambda v: v,
         to_config: Callable = lambda v: v, **kwargs: object) -> None:
    """Draw ``widget`` showing the Config's ``field``; changes write the Config."""
    key = f"cfg_{field}"
    st.session_state[key] = to_widget(getattr(visit.config(), field))
    widget(label, key=key, on_change=_on_change, args=(field, to_config), **kwargs)


def choice(field: str, label: str, options: Sequence[object] | None = None,
           **kwargs: object) -> None:
    """A selectbox over a field's choices (or the given options), with readable titles."""
    current = getattr(visit.config(), field)
    per_layer = isinstance(current, tuple)
    shown = current[0] if per_layer and current else current
    meta = Config.__dataclass_fields__[field].metadata
    options = list(options if options is not None else meta["choices"])
    if shown not in options:
        options.append(shown)
    titles = TITLES.get(field, {})
    bind(st.selectbox, field, label, options=options,
         format_func=lambda v: titles.get(v, f"{v:g}" if isinstance(v, float) else str(v)),
         to_widget=lambda v: v[0] if per_layer and v else v,
         to_config=(lambda v: (v,)) if per_layer else (lambda v: v), **kwargs)


def number(field: str, label: str, **kwargs: object) -> None:
    """A number input within the field's bounds."""
    current = getattr(visit.config(), field)
    lo, hi = Config.bound(field, visit.limits())
    if isinstance(current, float):
        bind(st.number_input, field, label, min_value=float(lo), max_value=float(hi),
             format="%g", **kwargs)
    else:
        bind(st.number_input, field, label, min_value=int(lo), max_value=int(hi), step=1,
             **kwargs)


def advanced_settings() -> None:
    """Every knob the main view leaves out, generated from the Config's fields."""
    shown_elsewhere = {"dataset", "noise", "train_ratio", "batch_size", "features", "hidden",
                       "activation", "learning_rate", "regularization", "reg_rate", "optimizer",
                       "loss", "show_test", "discretize", "speed", "data"}
    columns = st.columns(4)
    fields = [f for f in dataclasses.fields(Config) if f.name not in shown_elsewhere]
    for i, f in enumerate(fields):
        with columns[i % 4]:
            text = f.metadata["help"]
            label = text[:1].upper() + text[1:]  # "TensorFlow", not "Tensorflow"
            if f.name == "dropout":
                bind(st.slider, "dropout", "Dropout rate (every hidden layer)",
                     min_value=0.0, max_value=0.9, step=0.05,
                     to_widget=lambda v: v[0] if v else 0.0, to_config=lambda v: (v,))
            elif isinstance(f.default, bool):
                bind(st.checkbox, f.name, label)
            elif f.name == "hide":  # several parts at once
                bind(st.multiselect, "hide", label, options=list(f.metadata["choices"]),
                     to_widget=list, to_config=tuple)
            elif f.metadata["choices"]:
                choice(f.name, label)
            else:
                number(f.name, label)
