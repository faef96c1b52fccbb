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

from playground import backprop
from playground.features import feature_matrix
from playground.losses import HEADS
from playground.model import MLP

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


def evaluate_grid(model: MLP, head: str, features: Sequence[str],
                  resolution: int = RESOLUTION) -> GridMaps:
    with torch.no_grad():
        fp = backprop.forward(model, grid_features(tuple(features), resolution))
        predicted = HEADS[head].predict(fp.output).numpy()

    def maps(values: np.ndarray) -> np.ndarray:  # (res², n) -> (n, res, res)
        return values.T.reshape(-1, resolution, resolution)

    if head == "multiclass":
        classes = maps(predicted)
        return GridMaps(classes.max(axis=0), classes, [maps(a.numpy()) for a in fp.activations])
    return GridMaps(maps(predicted)[0], None, [maps(a.numpy()) for a in fp.activations])


def feature_maps(features: Sequence[str], resolution: int = RESOLUTION) -> np.ndarray:
    """(n_features, res, res): each input feature over the plane, for its thumbnail."""
    # a copy: a view would let the caller write into the cached grid of every boundary
    return grid_features(tuple(features), resolution).numpy().T.reshape(
        -1, resolution, resolution).copy()
