"""Small pictures for the page: one per data set (its points) and per input feature."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from playground.engine.data.datasets import DATASETS
from playground.engine.data.features import FEATURES
from playground.engine.train.inference import EXTENT, feature_maps
from playground.server.render import CLASS_COLOURS, diverging_rgb, png_data_url

DATASET_THUMBNAIL_PX = 42
FEATURE_THUMBNAIL_PX = 34


@lru_cache(maxsize=32)
def dataset_thumbnail(name: str, size: int = DATASET_THUMBNAIL_PX) -> str:
    """The data set's points painted on a small square (digits: one digit image)."""
    spec = DATASETS[name]
    x, y = spec.generate(400, 0.0, np.random.default_rng(0))
    if spec.n_inputs != 2:
        digit = np.kron(x[0].reshape(8, 8), np.ones((5, 5)))  # 40x40, black on white
        grey = (255 - np.clip(digit, 0, 1) * 255).astype(np.uint8)
        return png_data_url(np.repeat(grey[::-1, :, None], 3, axis=2))
    rgb = np.full((size, size, 3), 245, dtype=np.uint8)
    cols = np.clip(((x[:, 0] + EXTENT) / (2 * EXTENT) * (size - 1)).round().astype(int), 0,
                   size - 1)
    rows = np.clip(((x[:, 1] + EXTENT) / (2 * EXTENT) * (size - 1)).round().astype(int), 0,
                   size - 1)
    if spec.task == "regression":
        colours = diverging_rgb(np.asarray(y, dtype=np.float64))
    else:
        colours = CLASS_COLOURS[np.asarray(y, dtype=int) % len(CLASS_COLOURS)].astype(np.uint8)
    rgb[rows, cols] = colours
    return png_data_url(rgb)


@lru_cache(maxsize=32)
def feature_thumbnail(name: str, size: int = FEATURE_THUMBNAIL_PX) -> str:
    """The feature's value over the plane, scaled to [-1, 1]."""
    values = feature_maps((name,), resolution=size)[0]
    scale = float(np.abs(values).max()) or 1.0
    return png_data_url(diverging_rgb(values / scale))


def feature_list(active: tuple[str, ...]) -> list[dict]:
    """Every feature in the menu's order; ``column`` is its place in the network's input
    (the order of ``active``, which the first layer's weights follow), or None."""
    return [{"name": name, "label": spec.label, "png": feature_thumbnail(name),
             "on": name in active, "column": active.index(name) if name in active else None}
            for name, spec in FEATURES.items()]
