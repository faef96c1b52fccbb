"""Input features computed from the two raw coordinates, as in the TensorFlow Playground.

Hand-made features such as x1^2 let a small network solve the circle with no hidden layer,
which is the point of offering them. numpy only: the same function feeds training and the
decision-boundary grid, so both see identical inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FeatureSpec:
    fn: Callable[[np.ndarray, np.ndarray], np.ndarray]  # (x1, x2) -> column, elementwise
    label: str  # for the UI


FEATURES: dict[str, FeatureSpec] = {
    "x1": FeatureSpec(lambda a, b: a, "x₁"),
    "x2": FeatureSpec(lambda a, b: b, "x₂"),
    "x1sq": FeatureSpec(lambda a, b: a * a, "x₁²"),
    "x2sq": FeatureSpec(lambda a, b: b * b, "x₂²"),
    "x1x2": FeatureSpec(lambda a, b: a * b, "x₁x₂"),
    "sinx1": FeatureSpec(lambda a, b: np.sin(a), "sin(x₁)"),
    "sinx2": FeatureSpec(lambda a, b: np.sin(b), "sin(x₂)"),
}


def feature_matrix(x: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """float32 (n, len(names)): one column per feature, in the order of ``names``.

    Data with more than two columns (digits) is returned as float32 unchanged: the
    features are functions of a point in the plane and mean nothing for pixel vectors."""
    unknown = [name for name in names if name not in FEATURES]
    if unknown:
        raise ValueError(f"unknown feature(s) {', '.join(map(repr, unknown))}; "
                         f"choose from: {', '.join(FEATURES)}")
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] < 2:
        raise ValueError(f"expected points of shape (n, 2), got {x.shape}")
    if x.shape[1] > 2:
        return x.astype(np.float32, copy=False)
    # compute in float64 then store float32, so sin and products round only once
    x1, x2 = x[:, 0].astype(np.float64), x[:, 1].astype(np.float64)
    out = np.empty((len(x), len(names)), dtype=np.float32)
    for j, name in enumerate(names):
        out[:, j] = FEATURES[name].fn(x1, x2)
    return out
