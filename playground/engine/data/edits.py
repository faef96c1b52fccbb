"""Edits from the page's network and data pictures, applied to a Config.

The live view sends small edits (``{"op": "add_layer"}``, ``{"op": "neurons",
"layer": 1, "delta": -1}``, ...) when someone clicks the drawing; each op is one
entry here. An edit that would break a limit is refused with a sentence, and
the Config stays as it was.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from playground.engine.config.config import Config, ConfigError
from playground.engine.config.limits import LIMITS, Limits
from playground.engine.data.datasets import BOX, DATASETS
from playground.engine.data.own_points import DataProblem
from playground.engine.data.points import own_text, split_points


def _dataset(c: Config, e: dict) -> Config:
    name = str(e["value"])
    if name not in DATASETS:
        raise ValueError(name)
    return c.with_dataset(name)


def _toggle_feature(c: Config, e: dict) -> Config:
    name = str(e["value"])
    if name in c.features:
        return c.replace(features=tuple(f for f in c.features if f != name))
    return c.replace(features=(*c.features, name))


def _add_layer(c: Config, e: dict) -> Config:
    width = c.hidden[-1] if c.hidden else 2
    return c.with_hidden((*c.hidden, width))


def _remove_layer(c: Config, e: dict) -> Config:
    return c.with_hidden(c.hidden[:-1])


def _layer(c: Config, e: dict) -> int:
    # a negative index would silently count from the last layer
    layer = int(e["layer"])
    if not 0 <= layer < len(c.hidden):
        raise IndexError(layer)
    return layer


def _neurons(c: Config, e: dict) -> Config:
    layer = _layer(c, e)
    hidden = list(c.hidden)
    hidden[layer] += int(e["delta"])
    return c.with_hidden(tuple(hidden))


def _layer_activation(c: Config, e: dict) -> Config:
    acts = list(c.activation)
    acts[_layer(c, e)] = str(e["value"])
    return c.replace(activation=tuple(acts))


def _set(c: Config, e: dict) -> Config:
    field = str(e["field"])
    if field not in ("show_test", "discretize"):
        raise ValueError(field)
    value = e["value"]
    if isinstance(value, str) or value not in (True, False):
        raise TypeError(value)  # bool("false") would be True
    return c.replace(**{field: bool(value)})


def _lower_learning_rate(c: Config, e: dict) -> Config:
    """The way back from a diverged run: a ten times smaller step."""
    return c.replace(learning_rate=max(c.learning_rate / 10, 1e-5))


def _new_weights(c: Config, e: dict) -> Config:
    """Reset: back to epoch 0 with new initial weights (the next init seed)."""
    return c.replace(init_seed=c.next_seed("init_seed"))


def _finite(e: dict, key: str) -> float:
    value = float(e[key])
    if not np.isfinite(value):
        raise ValueError(key)
    return value


POINT_SETS = {"train": False, "test": True}  # a drawn point's set: is it a test point


def _add_point(c: Config, e: dict) -> Config:
    """One point where the plot was clicked, a training point unless the edit says "set":
    "test"; every other point stays in its set (the first edit makes the generated points
    the visitor's own, split as they were). A test point turns "Show test data" on: a
    point one draws is never hidden."""
    x, y, test = split_points(c)
    point = np.clip([_finite(e, "x"), _finite(e, "y")], -BOX, BOX)
    if c.task == "classification":
        label = e["label"]
        if isinstance(label, bool) or label not in range(DATASETS[c.dataset].n_classes):
            raise ValueError(label)  # "1" or True would pass a looser test
        target: float = int(label)
    else:
        target = float(np.clip(_finite(e, "value"), -1.0, 1.0))
    in_test = POINT_SETS[str(e.get("set", "train"))]
    data = own_text(c, np.vstack([x, point]), np.append(y, target), np.append(test, in_test))
    return c.replace(data=data, show_test=c.show_test or in_test)


def _erase_points(c: Config, e: dict) -> Config:
    """Every point in a dragged box goes, the others stay in their sets; an empty box
    changes nothing."""
    x, y, test = split_points(c)
    (x0, x1), (y0, y1) = (sorted((_finite(e, "x0"), _finite(e, "x1"))),
                          sorted((_finite(e, "y0"), _finite(e, "y1"))))
    inside = (x[:, 0] >= x0) & (x[:, 0] <= x1) & (x[:, 1] >= y0) & (x[:, 1] <= y1)
    if not inside.any():
        return c
    return c.replace(data=own_text(c, x[~inside], y[~inside], test[~inside]))


EDITS: dict[str, Callable[[Config, dict], Config]] = {
    "lower_learning_rate": _lower_learning_rate,
    "new_weights": _new_weights,
    "dataset": _dataset,
    "toggle_feature": _toggle_feature,
    "add_layer": _add_layer,
    "remove_layer": _remove_layer,
    "neurons": _neurons,
    "layer_activation": _layer_activation,
    "set": _set,
    "add_point": _add_point,
    "erase_points": _erase_points,
}

REFUSALS = {
    "hidden": "That would break the layer or neuron limit ({detail}).",
    "features": "Keep at least one input feature.",
    "data": "Not changed: with that edit the data {detail}.",
}


def apply_edit(config: Config, edit: dict, limits: Limits = LIMITS) -> tuple[Config, str | None]:
    """The edited Config, or the same Config and one sentence saying why not."""
    edited = config
    try:
        edited = EDITS[edit["op"]](config, edit)
        if edited.dataset != config.dataset and not _fits(edited, limits):
            # wide layers of the digits do not fit a 2-D data set: shrink them
            cap = edited.neuron_cap(limits)
            edited = edited.with_hidden(tuple(min(n, cap) for n in edited.hidden))
        edited.validate(limits)
    except ConfigError as error:
        field, detail = next(iter(error.problems.items()))
        if field == "features" and edited.features:
            field = ""  # not the last feature gone, but e.g. an unknown one
        return config, REFUSALS.get(field, "Not allowed: {detail}.").format(detail=detail)
    except DataProblem as problem:  # its message is a sentence for the visitor already
        return config, str(problem)
    except (KeyError, IndexError, ValueError, TypeError, OverflowError):
        return config, "That edit was not understood and was ignored."
    return edited, None


def _fits(config: Config, limits: Limits) -> bool:
    return all(n <= config.neuron_cap(limits) for n in config.hidden)
