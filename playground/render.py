"""Heatmaps as small PNGs: a 256-entry colour table over a quantized grid.

A 100x100 map as Plotly heatmap JSON is ~200 KB of text and slow to redraw; as a
PNG it is a few KB and the browser swaps it in one step.
"""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

# The TensorFlow Playground's colours: orange for negative / class 0, blue for
# positive / class 1, white in between.
NEGATIVE = (245, 147, 34)
POSITIVE = (8, 119, 189)
MIDDLE = (232, 234, 235)
# one colour per class for multi-class data (0 and 1 match the binary colours)
CLASS_COLOURS = np.array([NEGATIVE, POSITIVE, (60, 160, 70), (150, 80, 180), (210, 60, 60),
                          (120, 90, 60), (230, 110, 180), (110, 110, 110), (170, 170, 40),
                          (30, 180, 190)], dtype=np.float64)


def _diverging_lut() -> np.ndarray:
    t = np.linspace(-1.0, 1.0, 256)[:, None]
    mid, neg, pos = (np.array(c, dtype=np.float64) for c in (MIDDLE, NEGATIVE, POSITIVE))
    colours = np.where(t < 0, mid + (neg - mid) * -t, mid + (pos - mid) * t)
    return colours.round().astype(np.uint8)


DIVERGING = _diverging_lut()


def hex_colour(rgb: tuple[int, int, int] | np.ndarray) -> str:
    return "#{:02x}{:02x}{:02x}".format(*(int(c) for c in rgb))


def quantize(values: np.ndarray, discretize: bool = False) -> np.ndarray:
    """Values in [-1, 1] (clipped) to colour-table indices 0..255."""
    v = np.clip(np.nan_to_num(values, nan=0.0), -1.0, 1.0)
    if discretize:
        v = np.where(v >= 0, 1.0, -1.0)
    return np.rint((v + 1.0) * 127.5).astype(np.uint8)


def diverging_rgb(values: np.ndarray, discretize: bool = False) -> np.ndarray:
    """(H, W) values in [-1, 1] -> (H, W, 3) uint8 colours."""
    return DIVERGING[quantize(values, discretize)]


def classes_rgb(probabilities: np.ndarray, discretize: bool = False) -> np.ndarray:
    """(K, H, W) class probabilities -> the winning class's colour, faded by doubt."""
    k = probabilities.shape[0]
    winner = probabilities.argmax(axis=0)
    confidence = (probabilities.max(axis=0) - 1.0 / k) / (1.0 - 1.0 / k)
    if discretize:
        confidence = np.ones_like(confidence)
    mid = np.array(MIDDLE, dtype=np.float64)
    rgb = mid + (CLASS_COLOURS[winner % len(CLASS_COLOURS)] - mid) * confidence[..., None]
    return rgb.round().astype(np.uint8)


def png_data_url(rgb: np.ndarray) -> str:
    """(H, W, 3) uint8 with row 0 at the bottom of the plane -> a PNG data URL."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb[::-1])).save(buffer, format="PNG",
                                                          compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
