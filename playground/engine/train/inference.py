"""Batched evaluation of a network over the 2-D plane.

One forward pass over a resolution x resolution grid gives the output (the
decision boundary) and every hidden neuron's activation (its thumbnail).
Rows of each map run along x2 from -6 up to 6, columns along x1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from playground.engine.data.features import feature_matrix
from playground.engine.nn import backprop
from playground.engine.nn.backprop import Net
from playground.engine.nn.losses import HEADS

EXTENT = 6.0  # every 2-D data set lies in [-6, 6]^2
RESOLUTION = 100


@lru_cache(maxsize=8)
def grid_points(resolution: int = RESOLUTION) -> np.ndarray:
    """(resolution², 2) points of the plane, row by row from the bottom."""
    axis = np.linspace(-EXTENT, EXTENT, resolution, dtype=np.float32)
    x1, x2 = np.meshgrid(axis, axis)
    points = np.stack([x1.ravel(), x2.ravel()], axis=1)
    points.setflags(write=False)  # cached and shared: a caller's write would corrupt it
    return points


@lru_cache(maxsize=16)
def grid_features(features: tuple[str, ...], resolution: int = RESOLUTION) -> torch.Tensor:
    return torch.from_numpy(feature_matrix(grid_points(resolution), features))


@dataclass(frozen=True)
class GridMaps:
    output: np.ndarray  # (res, res): P(class 1), or the value for regression
    classes: np.ndarray | None  # (K, res, res) class probabilities for multi-class, else None
    neurons: list[np.ndarray]  # per hidden layer: (n_neurons, res, res) activations


def evaluate_grid(net: Net, head: str, features: Sequence[str],
                  resolution: int = RESOLUTION) -> GridMaps:
    """One network over the plane."""
    return evaluate_grids(_stacked(net), head, [features], resolution)[0]


def evaluate_grids(net: Net, head: str, features: Sequence[Sequence[str]],
                   resolution: int = RESOLUTION) -> list[GridMaps]:
    """A stack of S networks over the plane in one batched pass (``features`` per network)."""
    grids = [grid_features(tuple(f), resolution) for f in features]
    x = grids[0] if all(f == features[0] for f in features) else torch.stack(grids)
    with torch.no_grad():
        fp = backprop.forward(net, x)
        predicted = HEADS[head].predict(fp.output).numpy()
        hidden = [a.numpy() for a in fp.activations]

    def maps(values: np.ndarray) -> np.ndarray:  # (res², n) -> (n, res, res)
        return values.T.reshape(-1, resolution, resolution)

    result = []
    for s in range(len(features)):
        neurons = [maps(a[s]) for a in hidden]
        if head == "multiclass":
            classes = maps(predicted[s])
            result.append(GridMaps(classes.max(axis=0), classes, neurons))
        else:
            result.append(GridMaps(maps(predicted[s])[0], None, neurons))
    return result


def _stacked(net: Net) -> Net:
    """A single network as a stack of one."""
    return Net([w.unsqueeze(0) for w in net.weights], [b.unsqueeze(0) for b in net.biases],
               net.activations)


def feature_maps(features: Sequence[str], resolution: int = RESOLUTION) -> np.ndarray:
    """(n_features, res, res): each input feature over the plane, for its thumbnail."""
    # a copy: a view would let the caller write into the cached grid of every boundary
    return grid_features(tuple(features), resolution).numpy().T.reshape(
        -1, resolution, resolution).copy()
