"""Config: every knob of an experiment, its default, its bounds, and its URL form.

One frozen dataclass is the single source of truth: the sidebar, the URL, the
CLI, presets, lessons and exports all read and write it. Each field's metadata
says what it means (``help``), what values it takes (``lo``/``hi`` or
``choices``) and what changing it does to a running experiment (``effect``):

- ``restart``: new data or a new network, so training starts again at epoch 0;
- ``live``: applied to the running trainer without losing progress;
- ``display``: only changes the picture.

The knobs start where the TensorFlow Playground starts; how the training
underneath differs from TF's, and ``tf_math`` that matches it, is in ``tfplayground.py``.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache

from playground.engine.config.limits import LIMITS, Limits
from playground.engine.config.text import (
    MAX_TEXT,
    format_value,
    parse_value,
    plain_number,
    shorten,
)
from playground.engine.data.datasets import DATASET_DEFAULTS, DATASETS, TF_REGRESSION_POINTS
from playground.engine.data.features import FEATURES
from playground.engine.data.own_points import data_problem, dataset_problem, max_data_text
from playground.engine.nn.activations import ACTIVATIONS
from playground.engine.nn.losses import HEADS, LOSSES, head_name
from playground.engine.nn.model import INITIALIZERS, ParamLayout
from playground.engine.nn.optimizers import OPTIMIZERS, SCHEDULES

REGULARIZATIONS = ("none", "l1", "l2")
# the parts of the page a link can hide (``hide=``), as the TensorFlow Playground's
# hideable UI: controls of the top bar, the data column, the network's edit buttons,
# and the live view's panels
HIDEABLE = ("learning_rate", "activation", "regularization", "optimizer", "loss", "speed",
            "problem", "data", "noise", "batch", "features", "layers", "transport",
            "toggles", "numbers", "curves", "histograms", "norms", "confusion", "settings",
            "share", "replay", "own_data", "compare", "slow_motion", "lessons", "callouts")
MAX_SEED = 2**31 - 1
Bound = float | Callable[[Limits], float] | None


def knob(
    default: object,
    help: str,
    effect: str,
    *,
    lo: Bound = None,
    hi: Bound = None,
    choices: tuple[str, ...] | None = None,
    max_len: int | Callable[[Limits], int] | None = None,
    check: Callable[[object, Limits], str | None] | None = None,
    max_text: Bound = None,
) -> typing.Any:
    """A Config field. ``check`` is the field's own test of a value beyond bounds and
    choices (a reason, or None); ``max_text`` caps its text form (default: config_text's)."""
    meta = dict(help=help, effect=effect, lo=lo, hi=hi, choices=choices, max_len=max_len,
                check=check, max_text=max_text)
    if isinstance(default, tuple):
        return field(default_factory=lambda: default, metadata=meta)
    return field(default=default, metadata=meta)


class ConfigError(ValueError):
    """Raised by ``validate``; ``problems`` maps each bad field to a sentence."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{name}: {why}" for name, why in problems.items()))


def bound_value(bound: Bound, limits: Limits) -> float | None:
    return bound(limits) if callable(bound) else bound


@dataclass(frozen=True)
class Config:
    # data
    dataset: str = knob("circle", "data set", "restart", choices=tuple(DATASETS))
    noise: int = knob(0, "noise in percent", "restart", lo=0, hi=50)
    train_ratio: int = knob(50, "share of points used for training, in percent", "restart",
                            lo=10, hi=90)
    validation: int = knob(0, "share of the training points held out for validation, in "
                           "percent: early stopping watches their loss", "restart", lo=0, hi=50)
    n_points: int = knob(500, "number of points (TF math on regression data: 1,200)", "restart",
                         lo=20,
                         hi=lambda lim: lim.max_points)
    data_seed: int = knob(0, "seed of the data generator", "restart", lo=0, hi=MAX_SEED)
    features: tuple[str, ...] = knob(("x1", "x2"), "input features (2-D data sets)", "restart",
                                     choices=tuple(FEATURES), max_len=len(FEATURES))
    # network
    # the cap on neurons depends on the data set: neuron_cap (cross_problems)
    hidden: tuple[int, ...] = knob((4, 2), "neurons per hidden layer", "restart", lo=1,
                                   max_len=lambda lim: lim.max_layers)
    activation: tuple[str, ...] = knob(("tanh", "tanh"),
                                       "activation per hidden layer (one name: every layer)",
                                       "restart", choices=tuple(ACTIVATIONS))
    dropout: tuple[float, ...] = knob((0.0, 0.0),
                                      "dropout rate per hidden layer (one value: every layer)",
                                      "live", lo=0.0, hi=0.9)
    init: str = knob("xavier", "weight initialization", "restart", choices=tuple(INITIALIZERS))
    init_seed: int = knob(0, "seed of the initial weights, shuffling and dropout", "restart",
                          lo=0, hi=MAX_SEED)
    # training
    loss: str = knob("cross_entropy", "loss (regression always uses mse)", "live",
                     choices=tuple(LOSSES))
    optimizer: str = knob("sgd", "optimizer", "live", choices=tuple(OPTIMIZERS))
    learning_rate: float = knob(0.03, "learning rate", "live", lo=1e-5, hi=10.0)
    momentum: float = knob(0.9, "momentum (momentum and nesterov optimizers)", "live",
                           lo=0.0, hi=0.999)
    batch_size: int = knob(10, "batch size (larger than the training set: all of it)", "live",
                           lo=1, hi=lambda lim: lim.max_points)
    regularization: str = knob("none", "weight penalty", "live", choices=REGULARIZATIONS)
    reg_rate: float = knob(0.0, "regularization rate", "live", lo=0.0, hi=10.0)
    lr_schedule: str = knob("constant", "learning-rate schedule", "live",
                            choices=tuple(SCHEDULES))
    schedule_epochs: int = knob(200, "schedule period in epochs (step, half-life, cosine)",
                                "live", lo=1, hi=100_000)
    # early stopping watches the validation loss, never the test loss: choosing when to
    # stop is choosing a model, and a test set that chose the model no longer tests it
    patience: int = knob(0, "early stopping: epochs without a better validation loss (0: "
                         "off); the weights go back to the best epoch's", "live", lo=0,
                         hi=100_000)
    speed: float = knob(0.0, "epochs per second, slow enough to narrate (0: as fast as it goes)",
                        "live", lo=0.0, hi=1000.0)
    # replaces loss, optimizer, init and the number of regression points (tfplayground.py)
    tf_math: bool = knob(False, "TensorFlow Playground math: tanh output, ±1 labels, squared "
                         "error, its init, one fixed batch order, 1,200 regression points",
                         "restart")
    # picture
    show_test: bool = knob(False, "show the test points", "display")
    discretize: bool = knob(False, "discretize the output", "display")
    presenter: bool = knob(False, "presenter mode: large type and plots for a projector",
                           "display")
    hide: tuple[str, ...] = knob((), "parts of the page to hide (a lesson shows what it needs)",
                                 "display", choices=HIDEABLE, max_len=len(HIDEABLE))
    # own points (own_data.py); last, as the longest value of a link
    data: str = knob("", "your own points (empty: the data set's generator)", "live",
                     check=data_problem, max_text=max_data_text)

    def __post_init__(self) -> None:
        # Accept a bare value for a tuple field; a per-layer list whose values are all
        # the same follows the number of layers (one value means: every layer).
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.default_factory is not dataclasses.MISSING and not isinstance(value, tuple):
                value = (value,) if isinstance(value, str | int | float) else tuple(value)
                object.__setattr__(self, f.name, value)
        for name in ("activation", "dropout"):
            value = getattr(self, name)
            if value and len(set(value)) == 1 and len(value) != len(self.hidden):
                object.__setattr__(self, name, value[:1] * len(self.hidden))

    # -- derived -----------------------------------------------------------------------
    @property
    def task(self) -> str:
        return DATASETS[self.dataset].task

    @property
    def n_inputs(self) -> int:
        spec = DATASETS[self.dataset]
        return len(self.features) if spec.n_inputs == 2 else spec.n_inputs

    def layout(self) -> ParamLayout:
        """The layer sizes of the network this Config trains on its own data set: its
        inputs, its hidden layers, and as many outputs as the data set's head needs."""
        spec = DATASETS[self.dataset]
        outputs = HEADS[head_name(spec.task, spec.n_classes)].n_outputs(spec.n_classes)
        return ParamLayout((self.n_inputs, *self.hidden, outputs))

    def replace(self, **changes: object) -> Config:
        return dataclasses.replace(self, **changes)

    @classmethod
    def defaults_for(cls, dataset: str) -> Config:
        """The defaults, with the data set's own (``DATASET_DEFAULTS``) where it has them."""
        overrides = dict(DATASET_DEFAULTS.get(dataset, {}))
        if dataset in DATASETS:
            overrides["dataset"] = dataset
        base = cls()
        return base.with_hidden(overrides.pop("hidden", base.hidden)).replace(**overrides)

    def with_dataset(self, name: str) -> Config:
        """Another data set; a setting still at the old data set's default takes the new one's."""
        old, new = Config.defaults_for(self.dataset), Config.defaults_for(name)
        values: dict[str, object] = {"dataset": name}
        if name != self.dataset:
            values["data"] = ""  # own points belong to the data set they were made for
        for field_name in {*DATASET_DEFAULTS.get(self.dataset, {}),
                           *DATASET_DEFAULTS.get(name, {})}:
            if getattr(self, field_name) == getattr(old, field_name):
                values[field_name] = getattr(new, field_name)
        return self.with_hidden(tuple(values.pop("hidden", self.hidden))).replace(**values)

    def with_hidden(self, hidden: tuple[int, ...]) -> Config:
        """Change the layers, keeping each kept layer's activation and dropout."""
        def resize(values: tuple, filler: object) -> tuple:
            return tuple(values[:len(hidden)]) + (filler,) * (len(hidden) - len(values))

        last_act = self.activation[-1] if self.activation else "tanh"
        return self.replace(hidden=tuple(hidden), activation=resize(self.activation, last_act),
                            dropout=resize(self.dropout, 0.0))

    def changed_fields(self, other: Config) -> list[str]:
        return [f.name for f in dataclasses.fields(self)
                if getattr(self, f.name) != getattr(other, f.name)]

    def effects(self, other: Config) -> set[str]:
        """What switching to ``other`` does: any of "restart", "live", "display"."""
        return {Config.__dataclass_fields__[name].metadata["effect"]
                for name in self.changed_fields(other)}

    def restarts(self, other: Config) -> bool:
        """Whether switching to ``other`` starts training again at epoch 0 (new data or a
        new network): the one rule the page, the trainer and the worker all ask."""
        return any(field_restarts(name) for name in self.changed_fields(other))

    def points(self, limits: Limits = LIMITS) -> int:
        """The number of points generated: ``n_points``, except that TF math on a
        regression data set uses the TF Playground's 1,200 (within this server's cap)."""
        if self.tf_math and self.task == "regression":
            return min(TF_REGRESSION_POINTS, limits.max_points)
        return self.n_points

    def neuron_cap(self, limits: Limits = LIMITS) -> int:
        """Neurons one hidden layer may have for this data set (wide inputs get more)."""
        wide = DATASETS[self.dataset].n_inputs > 2
        return limits.max_neurons_wide if wide else limits.max_neurons

    @staticmethod
    def bound(name: str, limits: Limits = LIMITS) -> tuple[float | None, float | None]:
        """A numeric field's (lowest, highest) value on this server; None: no bound."""
        meta = Config.__dataclass_fields__[name].metadata
        return bound_value(meta["lo"], limits), bound_value(meta["hi"], limits)

    def next_seed(self, name: str) -> int:
        """The seed after this one (wrapping), for "new data" and "new weights"."""
        return (getattr(self, name) + 1) % (MAX_SEED + 1)

    # -- checking ------------------------------------------------------------------------
    def validate(self, limits: Limits = LIMITS) -> None:
        """Raise ConfigError naming every field that is out of bounds or inconsistent."""
        problems = {f.name: why for f in dataclasses.fields(self)
                    if (why := field_problem(f.name, getattr(self, f.name), limits))}
        problems.update(cross_problems(self, limits))
        if problems:
            raise ConfigError(problems)

    # -- URL query params ----------------------------------------------------------------
    def to_params(self) -> dict[str, str]:
        """Every field that differs from its default, as URL-safe strings.

        Per-layer lists are compared with the defaults for this many layers, so a
        third tanh layer does not put ``activation=tanh,tanh,tanh`` in the URL.
        """
        # the data set's own defaults, but the data set itself always against the default
        default = Config.defaults_for(self.dataset).replace(dataset=Config().dataset)
        layered = default.with_hidden(self.hidden)
        params = {}
        for f in dataclasses.fields(self):
            baseline = layered if f.name in ("activation", "dropout") else default
            if getattr(self, f.name) != getattr(baseline, f.name):
                params[f.name] = format_value(getattr(self, f.name))
        return params

    @classmethod
    def from_params(cls, params: Mapping[str, str | list[str]],
                    limits: Limits = LIMITS) -> tuple[Config, list[str]]:
        """Parse URL query params; anything unknown or invalid keeps its default.

        Returns the config and one sentence per ignored param, never raises.
        """
        warnings: list[str] = []
        values: dict[str, object] = {}
        known = {f.name: f for f in dataclasses.fields(cls)}
        for key, raw in params.items():
            raw = raw[-1] if isinstance(raw, list) and raw else raw
            if key not in known:
                warnings.append(f"Ignored unknown setting '{shorten(key)}'.")
                continue
            try:
                value = parse_field(key, str(raw), limits)
            except ValueError:
                value, why = None, "is not a valid value"
            else:
                why = field_problem(key, value, limits)
            if why:
                warnings.append(f"Ignored {key}={shorten(str(raw))}: {why}.")
            else:
                values[key] = value
        config = cls.from_values(values)
        problems = cross_problems(config, limits)
        if problems:
            default = cls.defaults_for(config.dataset)
            # per-layer lists fall back to the default value for every layer
            fallback = {name: getattr(default, name)[:1] if name in ("activation", "dropout")
                        else getattr(default, name) for name in problems}
            if "hidden" in fallback:
                config = config.with_hidden(fallback.pop("hidden"))
            config = config.replace(**fallback)
            warnings += [f"Ignored {name}: {why}." for name, why in problems.items()]
        return config, warnings

    @classmethod
    def from_values(cls, values: Mapping[str, object]) -> Config:
        """A config from some fields; per-layer lists follow a changed ``hidden``."""
        values = dict(values)
        config = cls.defaults_for(str(values.get("dataset", cls().dataset)))
        if "hidden" in values:
            config = config.with_hidden(tuple(values.pop("hidden")))
        return config.replace(**values)


@cache
def field_type(name: str) -> tuple[type, bool]:
    """(element type, is_tuple) of a Config field (cached: the hints never change)."""
    hint = typing.get_type_hints(Config)[name]
    if typing.get_origin(hint) is tuple:
        return typing.get_args(hint)[0], True
    return hint, False


def field_restarts(name: str) -> bool:
    """Whether a new value of this field starts training again at epoch 0."""
    return Config.__dataclass_fields__[name].metadata["effect"] == "restart"


def parse_field(name: str, text: str, limits: Limits = LIMITS) -> object:
    """A field's value from its URL or command-line text; ValueError if malformed."""
    max_text = bound_value(Config.__dataclass_fields__[name].metadata["max_text"], limits)
    return parse_value(*field_type(name), text, int(max_text or MAX_TEXT))


def field_problem(name: str, value: object, limits: Limits = LIMITS) -> str | None:
    """Why this value is not allowed for the field, or None if it is."""
    meta = Config.__dataclass_fields__[name].metadata
    _, is_tuple = field_type(name)
    items = value if is_tuple else (value,)
    max_len = bound_value(meta["max_len"], limits)
    if is_tuple and max_len is not None and len(items) > max_len:
        return f"at most {int(max_len)} values"
    if is_tuple and len(set(items)) != len(items) and name in ("features", "hide"):
        return "each value at most once"
    if meta["check"] and (why := meta["check"](value, limits)):
        return why
    lo, hi = Config.bound(name, limits)
    for item in items:
        if meta["choices"] and item not in meta["choices"]:
            return f"choose one of {', '.join(meta['choices'])}"
        if lo is not None and not item >= lo:
            return f"must be at least {plain_number(lo)}"
        if hi is not None and not item <= hi:
            return f"must be at most {plain_number(hi)}"
    return None


def cross_problems(config: Config, limits: Limits) -> dict[str, str]:
    """Why settings that are each fine do not fit together (field name -> sentence)."""
    problems: dict[str, str] = {}
    if config.dataset not in DATASETS:
        return problems
    for name in ("activation", "dropout"):
        if len(getattr(config, name)) != len(config.hidden):
            problems[name] = f"give one value per hidden layer ({len(config.hidden)})"
    cap = config.neuron_cap(limits)
    if any(n > cap for n in config.hidden):
        problems["hidden"] = f"at most {cap} neurons per layer for this data set"
    if not config.features:
        problems["features"] = "choose at least one input feature"
    if config.optimizer == "nesterov" and config.momentum <= 0:
        problems["momentum"] = "Nesterov needs a momentum above 0"
    if config.tf_math and DATASETS[config.dataset].n_classes > 2:
        problems["tf_math"] = ("TensorFlow Playground math needs a two-class or regression "
                               "data set")
    if config.patience and not config.validation:
        problems["patience"] = ("early stopping watches the validation loss: hold out a "
                                "validation share of the training points first")
    if why := dataset_problem(config.data, config.dataset):
        problems["data"] = why
    return problems
