"""The page's two custom components: the live view and the data set picker.

Their JavaScript and CSS live beside this file. The live view is mounted once
under a fixed key; what it gets here is only what changes with the Config
(figure layouts, the network's shape, the stream's token): the moving picture
comes through its WebSocket.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import streamlit as st

from playground.engine.config.config import Config
from playground.engine.data.datasets import DATASETS
from playground.engine.nn.activations import ACTIVATIONS
from playground.engine.nn.losses import HEADS, head_name
from playground.engine.teaching.study import SWEEPS, Study
from playground.engine.train.inference import EXTENT
from playground.server import protocol
from playground.server.live import ASSET_PREFIX, plotly_src
from playground.server.render import (
    CLASS_COLOURS,
    MIDDLE,
    NEGATIVE,
    PALETTES,
    POSITIVE,
    hex_colour,
)
from playground.ui import plots
from playground.ui.thumbnails import dataset_thumbnail, feature_list

HERE = Path(__file__).parent
JS_DIR = HERE / "js"  # the live view's ES modules, served at JS_PREFIX (app.py)
JS_PREFIX = f"{ASSET_PREFIX}/js"
# a new version of the modules gets a new URL: no browser keeps an old one
JS_VERSION = hashlib.sha256(
    b"".join(p.read_bytes() for p in sorted(JS_DIR.glob("*.js")))).hexdigest()[:12]
ENTRY_JS, LIVE_VIEW_CSS = (JS_DIR / "entry.js").read_text(), (HERE / "live_view.css").read_text()
_live_view = st.components.v2.component(
    "playground_live_view", js=ENTRY_JS, css=LIVE_VIEW_CSS, isolate_styles=False)
# a race or a sweep: the same loader, its own module (study_view.js)
_study_view = st.components.v2.component(
    "playground_study_view", js=ENTRY_JS, css=LIVE_VIEW_CSS, isolate_styles=False)
_picker = st.components.v2.component(
    "playground_dataset_picker", js=(HERE / "picker.js").read_text(),
    css=(HERE / "picker.css").read_text(), isolate_styles=False)


def _js_path(module: str) -> str:
    return f"{JS_PREFIX}/{module}?v={JS_VERSION}"


def _stream_data(token: str | None) -> dict:
    """What every view of a live stream needs: where it is and its vocabulary."""
    return {"token": token, "base_path": _base_path(),
            "plotly_src": _base_path() + plotly_src(),
            "protocol": protocol.for_js(),
            # the colour tables the frames' pictures index (js/pixels.js paints them)
            "palettes": PALETTES,
            "class_colours": [hex_colour(c) for c in CLASS_COLOURS],
            # the plane's half-width, and the orange-white-blue scale of regression values
            "extent": EXTENT, "scale": [hex_colour(c) for c in (NEGATIVE, MIDDLE, POSITIVE)],
            "series_colours": plots.LAYER_COLOURS}


def live_view_data(config: Config, token: str | None, edit_seq: int = 0,
                   draw_note: str = "") -> dict:
    shape = _layout(config.dataset, config.features, config.hidden, config.activation,
                    config.validation > 0)
    return {
        **shape,
        "layout_key": f"{shape['layout_key']}|{int(config.presenter)}|{int(bool(config.hide))}",
        **_stream_data(token),
        "presenter": config.presenter,
        # a first visit's notes on the drawing: not on a projector, nor in a teacher's
        # link that hides parts of the page (a lesson shows its own text)
        "callouts": not config.presenter and not config.hide,
        "show_test": config.show_test,
        "discretize": config.discretize,
        "edit_seq": edit_seq,  # the last edit the page applied: the view sends the next
        "draw_note": draw_note,  # what the last click on the output plot has to say
        "js_path": _js_path("live_view.js"),
    }


@lru_cache(maxsize=64)
def _layout(dataset: str, features: tuple[str, ...], hidden: tuple[int, ...],
            activation: tuple[str, ...], validation: bool = False) -> dict:
    """Figures and network shape: rebuilt in the browser only when these change.

    Cached because building Plotly figures costs ~50 ms, and every rerun (each
    click) would otherwise spend it while holding the server's GIL.
    """
    spec = DATASETS[dataset]
    head = head_name(spec.task, spec.n_classes)
    n_layers = len(hidden) + 1
    figures = {
        "boundary": plots.boundary_figure().to_plotly_json(),
        "curves": plots.curves_figure(HEADS[head].metric_name, validation).to_plotly_json(),
        "hist_weights": plots.histograms_figure(n_layers, "weights").to_plotly_json(),
        "hist_grads": plots.histograms_figure(n_layers, "gradients").to_plotly_json(),
        "norms": plots.norms_figure(n_layers).to_plotly_json(),
        "confusion": (plots.confusion_figure(spec.n_classes).to_plotly_json()
                      if spec.task == "classification" else None),
    }
    wide = spec.n_inputs > 2
    network = {
        "features": feature_list(features),
        "wide_input": f"{spec.n_inputs} pixels" if wide else None,
        "hidden": list(hidden),
        "activation": list(activation),
        "activations": {name: a.title for name, a in ACTIVATIONS.items()},
        "n_outputs": HEADS[head].n_outputs(spec.n_classes),
        # a node per class (multi-class): its colour and its name
        "output_labels": ([str(k) if dataset == "digits" else f"class {k + 1}"
                           for k in range(spec.n_classes)] if head == "multiclass" else None),
        "output_colours": [hex_colour(CLASS_COLOURS[k % len(CLASS_COLOURS)])
                           for k in range(spec.n_classes)],
    }
    layout_key = "|".join([dataset, ",".join(features), ",".join(map(str, hidden)),
                           ",".join(activation), "val" if validation else ""])
    return {"figures": _plain(figures), "network": network, "layout_key": layout_key,
            "legend": _legend(spec, head, network), "draw_modes": _draw_modes(spec, network)}


def _draw_modes(spec, network: dict) -> list[dict] | None:
    """What a click on the output plot can add: a point of each class, or of a few
    regression values (None: no plane to draw on)."""
    if spec.n_inputs != 2:
        return None
    if spec.task == "regression":
        return [{"label": f"value {v:+g}", "field": "value", "value": v}
                for v in (1.0, 0.5, 0.0, -0.5, -1.0)]
    names = (["orange", "blue"] if spec.n_classes == 2
             else [f"class {k + 1}" for k in range(spec.n_classes)])
    return [{"label": name, "field": "label", "value": k} for k, name in enumerate(names)]


def _legend(spec, head: str, network: dict) -> dict | None:
    """What the output's colours mean (None where there is no plane to colour)."""
    if spec.n_inputs != 2:
        return None
    if head == "multiclass":
        return {"kind": "classes",
                "items": list(zip(network["output_labels"], network["output_colours"]))}
    if head == "binary":
        return {"kind": "scale", "low": "orange", "high": "blue",
                "title": "probability of blue, 0 … 1"}
    return {"kind": "scale", "low": "−1", "high": "1", "title": "predicted value"}


def _base_path() -> str:
    base = (st.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{base}" if base else ""


def _plain(value: object) -> object:
    """Plotly JSON may hold numpy arrays; the component wants plain lists."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def trigger_value(key: str, name: str) -> object:
    """A component's trigger value, read inside its ``on_<name>_change`` callback."""
    state = st.session_state.get(key) or {}
    return state.get(name) if hasattr(state, "get") else getattr(state, name, None)


def live_view(config: Config, token: str | None, on_edit: Callable[[], None],
              on_expired: Callable[[], None], on_tf_link: Callable[[], None],
              on_room: Callable[[], None] = lambda: None, edit_seq: int = 0,
              draw_note: str = "") -> None:
    """Mount the live view; clicks on its drawing call ``on_edit`` before the next run,
    a TensorFlow Playground link's hash (``#activation=tanh&...``) calls ``on_tf_link``."""
    _live_view(key="live_view", data=live_view_data(config, token, edit_seq, draw_note),
               on_edit_change=on_edit, on_expired_change=on_expired,
               on_tf_link_change=on_tf_link, on_room_change=on_room)


def study_view(config: Config, study: Study, token: str | None,
               on_open: Callable[[], None], on_expired: Callable[[], None]) -> None:
    """Mount a race's or a sweep's view; a click on a member calls ``on_open``."""
    sweeping = study.kind == "sweep"
    data = {**_stream_data(token), "kind": study.kind, "labels": study.labels(),
            "names": [study.value_text(v) for v in study.values],
            "values": list(study.values) if sweeping else None,
            "knob_title": SWEEPS[study.knob].title if sweeping else study.knob,
            "log_x": sweeping and SWEEPS[study.knob].log, "epochs": study.epochs,
            "presenter": config.presenter, "js_path": _js_path("study_view.js")}
    _study_view(key="study_view", data=data, on_open_change=on_open,
                on_expired_change=on_expired)


def warm_up() -> None:
    """Build what the default page's first visit needs before anyone visits: its figures
    (and the Plotly classes they import), the data sets' and features' thumbnails. The
    first visit after a start otherwise waits ~0.5 s for them (they are cached after)."""
    live_view_data(Config(), None)
    for name in DATASETS:
        dataset_thumbnail(name)


def dataset_picker(config: Config, names: list[str], on_pick: Callable[[], None]) -> None:
    items = [{"name": n, "title": DATASETS[n].title, "png": dataset_thumbnail(n)} for n in names]
    _picker(key="dataset_picker", data={"items": items, "selected": config.dataset},
            on_pick_change=on_pick)
