"""Files a run can leave with and come back from: its Config as JSON, its weights as
safetensors (never a pickle: loading one cannot run code), its history as CSV.

Every reader here refuses a bad file with ``ImportProblem``, one sentence a visitor can
act on, and returns nothing half-read. The weights' tensors are named as
``MLP.state_dict()`` names them (``layers.0.weight`` ``[out, in]``, ``layers.0.bias``), so
a file loads into the exported script's model or the project's ``MLP`` with
``load_state_dict``.
"""

from __future__ import annotations

import csv
import io
import json
import math
from urllib.parse import urlencode

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from playground.engine.config import Config
from playground.engine.config import _field_type as field_type  # (element type, is_tuple)
from playground.engine.config_text import param_text, shorten
from playground.engine.datasets import DATASETS
from playground.engine.history import History
from playground.engine.limits import LIMITS, Limits
from playground.engine.losses import HEADS, head_name
from playground.engine.model import ParamLayout, network_layout
from playground.engine.own_data import link_params
from playground.engine.training import unpack

CONFIG_FORMAT = "neural-network-playground/config"
WEIGHTS_FORMAT = "neural-network-playground/weights"
FORMAT_VERSION = 1
# |w| past this is refused on import: trained weights stay within a few hundred, and a
# network of such weights saturates every unit, so its first epoch diverges
MAX_IMPORTED_WEIGHT = 1e4


class ImportProblem(ValueError):
    """A file that cannot be imported; the message is one sentence for the visitor."""


# -- the Config ----------------------------------------------------------------------------
def config_json(config: Config) -> str:
    """The settings that differ from the defaults, tagged so an import knows the file."""
    return json.dumps({"format": CONFIG_FORMAT, "version": FORMAT_VERSION,
                       "config": config.to_params()}, indent=2) + "\n"


def share_query(config: Config) -> str:
    """The query part of a link that opens this experiment (``?`` and the settings; own
    points too many for a link are left out: ``own_data.fits_in_link``)."""
    params = link_params(config)
    return "?" + urlencode(params, safe=",") if params else ""


def config_from_json(data: bytes | str, limits: Limits = LIMITS) -> tuple[Config, list[str]]:
    """A Config from ``config_json``'s file, and one sentence per setting it ignored."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ImportProblem("This file is not text (UTF-8), so it cannot be a "
                                "playground config.") from None
    try:
        document = json.loads(data, parse_int=_read_int, parse_float=_read_float,
                              parse_constant=BadNumber)
    except (ValueError, RecursionError):
        raise ImportProblem("This file is not valid JSON, so it cannot be a playground "
                            "config.") from None
    if not isinstance(document, dict) or document.get("format") != CONFIG_FORMAT:
        raise ImportProblem(f"This JSON is not a playground config (it lacks \"format\": "
                            f"\"{CONFIG_FORMAT}\").")
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version > FORMAT_VERSION:
        raise ImportProblem(f"This config has format version {shorten(str(version))}, but "
                            f"this playground reads version {FORMAT_VERSION}.")
    settings = document.get("config", {})
    if not isinstance(settings, dict):
        raise ImportProblem("This config's \"config\" entry is not a set of named settings.")
    params, ignored = {}, []
    for key, value in settings.items():
        why = _value_problem(key, value)
        if why:
            ignored.append(f"Ignored {shorten(key)}: {why}.")
            continue
        text = param_text(value)
        if text is None:
            raise ImportProblem(f"The setting '{shorten(key)}' is {type(value).__name__}, "
                                "not a string or a number.")
        params[key] = text
    config, warnings = Config.from_params(params, limits)
    return config, ignored + warnings


MAX_DIGITS = 30  # no setting needs more; a number past this is refused before it is read


class BadNumber(str):
    """A number in a Config file that no setting can take (too long, or not finite),
    kept as its text so the warning can say which setting had it."""

    def problem(self) -> str:
        if self.lstrip("-") in ("NaN", "Infinity"):
            return f"{self} is not a number a setting can take"
        digits = sum(c.isdigit() for c in self)
        return (f"its number has {digits:,} digits, far too many for any setting"
                if digits > MAX_DIGITS else f"the number {shorten(self)} is too large")


def _read_int(text: str) -> int | BadNumber:
    return BadNumber(text) if len(text) > MAX_DIGITS else int(text)


def _read_float(text: str) -> float | BadNumber:
    value = float(text) if len(text) <= 2 * MAX_DIGITS else math.inf
    return value if math.isfinite(value) else BadNumber(text)


def _value_problem(key: str, value: object) -> str | None:
    """Why a Config file's value cannot be read for this setting, or None: a number no
    setting can take, or true/false for a setting that is not on/off."""
    items = value if isinstance(value, list) else [value]
    bad = next((v for v in items if isinstance(v, BadNumber)), None)
    if bad is not None:
        return bad.problem()
    if key in Config.__dataclass_fields__ and field_type(key)[0] is not bool:
        flag = next((v for v in items if isinstance(v, bool)), None)
        if flag is not None:
            wanted = "a number" if field_type(key)[0] in (int, float) else "a valid value"
            return f"{str(flag).lower()} is not {wanted}"
    return None


# -- the weights ---------------------------------------------------------------------------
def metric_name(config: Config) -> str:
    """What the Config's data set measures besides the loss: "accuracy" or "r2"."""
    spec = DATASETS[config.dataset]
    return HEADS[head_name(spec.task, spec.n_classes)].metric_name


def tensor_names(layout: ParamLayout) -> list[str]:
    """The tensors of a weights file in ParamLayout order (weights, then bias, per layer)."""
    return [f"layers.{i}.{kind}" for i in range(len(layout.spans))
            for kind in ("weight", "bias")]


def weights_file(config: Config, params: torch.Tensor) -> bytes:
    """The flat parameter vector as a safetensors file, the Config in its metadata."""
    layout = network_layout(config)
    if params.shape != (layout.size,):
        raise ValueError(f"{params.numel()} parameters do not fit a network of "
                         f"{layout.size}")
    weights, biases = layout.split(params.detach().to(torch.float32))
    tensors = [t for pair in zip(weights, biases) for t in pair]
    return save_safetensors(
        {name: t.contiguous().clone() for name, t in zip(tensor_names(layout), tensors)},
        metadata={"format": WEIGHTS_FORMAT, "version": str(FORMAT_VERSION),
                  "config": json.dumps(config.to_params())})


def params_from_weights_file(data: bytes, config: Config) -> torch.Tensor:
    """The flat parameter vector (ParamLayout order) of a ``weights_file``, checked
    tensor by tensor against the network this Config builds."""
    layout = network_layout(config)
    try:
        tensors = load_safetensors(bytes(data))
    except (SafetensorError, ValueError, TypeError, RuntimeError):
        raise ImportProblem("This file is not a safetensors weights file.") from None
    names = tensor_names(layout)
    layers = f"this network has {len(layout.spans)} layers of weights"
    for name in names:
        if name not in tensors:
            raise ImportProblem(f"The file has no tensor '{name}': it was saved for another "
                                f"network ({layers}).")
    extra = sorted(set(tensors) - set(names))  # sorted: a file's tensors come in any order
    if extra:
        shown = ", ".join(f"'{shorten(name)}'" for name in extra[:3]) + (
            ", …" if len(extra) > 3 else "")
        raise ImportProblem(f"The file has tensors that this network does not have ({shown}): "
                            f"it was saved for another network ({layers}).")
    weights, biases = layout.split(torch.empty(layout.size))
    expected = [t for pair in zip(weights, biases) for t in pair]
    for name, want in zip(names, expected):
        got = tensors[name]
        if got.dtype != torch.float32:
            raise ImportProblem(f"The tensor '{name}' holds {str(got.dtype).removeprefix('torch.')}"
                                " values, but the playground's weights are float32.")
        if got.shape != want.shape:
            raise ImportProblem(f"The tensor '{name}' has shape {list(got.shape)} in the file "
                                f"but {list(want.shape)} in this network: the file was saved "
                                "for another network.")
        if not torch.isfinite(got).all():
            raise ImportProblem(f"The tensor '{name}' holds values that are not finite "
                                "(NaN or infinity).")
        largest = got.abs().max().item() if got.numel() else 0.0
        if largest > MAX_IMPORTED_WEIGHT:
            raise ImportProblem(f"The tensor '{name}' holds a value of {largest:.3g}, but "
                                f"imported weights must lie within ±{MAX_IMPORTED_WEIGHT:,.0f}"
                                " (larger ones make training diverge at once).")
    return torch.cat([tensors[name].reshape(-1) for name in names])


def params_from_state(state: dict | None, config: Config) -> torch.Tensor | None:
    """The weights of a ``Trainer.state()`` snapshot, or None when there is none yet for
    this Config (the worker snapshots about once a second)."""
    if not state or state.get("config") != config.to_params():
        return None
    try:
        return unpack(state["params"], network_layout(config).size)
    except ValueError:  # weights of another network: none of this Config's yet
        return None


# -- the history ---------------------------------------------------------------------------
def history_csv(history: History, metric_name: str) -> str:
    """One row per kept epoch: losses, the metric, and each layer's weight and gradient
    norm (exact: floats as Python writes them back)."""
    layers = len(history.weight_norms[0]) if len(history) else 0
    header = (["epoch", "train_loss", "test_loss", f"train_{metric_name}", f"test_{metric_name}"]
              + [f"weight_norm_layer{i}" for i in range(layers)]
              + [f"grad_norm_layer{i}" for i in range(layers)])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for i in range(len(history)):
        writer.writerow([history.epoch[i], *(_number(history.columns[key][i]) for key in
                                             ("train_loss", "test_loss", "train_metric",
                                              "test_metric")),
                         *map(_number, history.weight_norms[i]),
                         *map(_number, history.grad_norms[i])])
    return out.getvalue()


def _number(value: float | None) -> str:
    return "" if value is None else repr(float(value))
