"""Heatmaps: a 256-entry colour table over a quantized grid.

A 100x100 map as Plotly heatmap JSON is ~200 KB of text and slow to redraw. The live
frames carry the quantized grid itself (``GridPicture``: one byte a pixel) and the page
colours it; figures made on the server (lessons, the replay) use small PNGs.
"""

from __future__ import annotations

import base64
import io
import struct
import zlib
from functools import lru_cache
from typing import TypedDict

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
    # index 128 is where ``quantize`` puts 0 (and NaN): it must be MIDDLE exactly, as
    # 0 and 255 are NEGATIVE and POSITIVE (an even split would put 0 between entries)
    i = np.arange(256, dtype=np.float64)[:, None]
    t = np.where(i < 128, (i - 128) / 128, (i - 128) / 127)
    mid, neg, pos = (np.array(c, dtype=np.float64) for c in (MIDDLE, NEGATIVE, POSITIVE))
    colours = np.where(t < 0, mid + (neg - mid) * -t, mid + (pos - mid) * t)
    return colours.round().astype(np.uint8)


DIVERGING = _diverging_lut()


def hex_colour(rgb: tuple[int, int, int] | np.ndarray) -> str:
    return "#{:02x}{:02x}{:02x}".format(*(int(c) for c in rgb))


def point_rgb(labels: np.ndarray | list, regression: bool = False) -> np.ndarray:
    """(N,) data point labels -> (N, 3) uint8 colours: a class colour each, or a
    regression value on the orange-white-blue scale over -1..1, as the live view paints
    its points (the replay's figure and GIF and the lessons' figures must match it)."""
    labels = np.asarray(labels, dtype=np.float64).reshape(-1)
    if regression:
        return diverging_rgb(labels)
    return CLASS_COLOURS[labels.astype(np.int64) % len(CLASS_COLOURS)].astype(np.uint8)


def point_colours(labels: np.ndarray | list, regression: bool = False) -> list[str]:
    """``point_rgb`` as hex colours, for Plotly."""
    return [hex_colour(rgb) for rgb in point_rgb(labels, regression)]


def quantize(values: np.ndarray, discretize: bool = False) -> np.ndarray:
    """Values in [-1, 1] (clipped) to colour-table indices 0..255."""
    v = np.clip(np.nan_to_num(values, nan=0.0), -1.0, 1.0)
    if discretize:
        v = np.where(v >= 0, 1.0, -1.0)
    return np.rint((v + 1.0) * 127.5).astype(np.uint8)


def diverging_rgb(values: np.ndarray, discretize: bool = False) -> np.ndarray:
    """(H, W) values in [-1, 1] -> (H, W, 3) uint8 colours."""
    return DIVERGING[quantize(values, discretize)]


def _data_url(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)  # speed over a few bytes
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def grey_png(values: np.ndarray) -> str:
    """(H, W) values in [0, 1], ink dark on white (a digit), row 0 at the bottom."""
    grey = (255 - np.clip(values, 0.0, 1.0) * 255).astype(np.uint8)
    return _data_url(Image.fromarray(np.ascontiguousarray(grey[::-1]), mode="L"))


def png_data_url(rgb: np.ndarray) -> str:
    """(H, W, 3) uint8 with row 0 at the bottom of the plane -> a PNG data URL."""
    return _data_url(Image.fromarray(np.ascontiguousarray(rgb[::-1])))


# -- palette PNGs: one byte per pixel, ~10x faster to encode than RGB --------------------
CONFIDENCE_LEVELS = 25  # x 10 class colours = 250 palette entries


def _class_palette() -> list[int]:
    mid = np.array(MIDDLE, dtype=np.float64)
    levels = np.linspace(0.0, 1.0, CONFIDENCE_LEVELS)[:, None]
    colours = [mid + (c - mid) * levels for c in CLASS_COLOURS]
    return np.concatenate(colours).round().astype(np.uint8).reshape(-1).tolist()


DIVERGING_PALETTE = DIVERGING.reshape(-1).tolist()
CLASS_PALETTE = _class_palette()


def palette_png(indices: np.ndarray, palette: list[int]) -> str:
    """(H, W) palette indices, row 0 at the bottom of the plane -> a PNG data URL."""
    image = Image.fromarray(np.ascontiguousarray(indices[::-1]), mode="P")
    image.putpalette(palette)
    return _data_url(image)


def diverging_png(values: np.ndarray, discretize: bool = False) -> str:
    """(H, W) values in [-1, 1] as a PNG in the orange-white-blue scale."""
    return palette_png(quantize(values, discretize), DIVERGING_PALETTE)


def classes_png(probabilities: np.ndarray, discretize: bool = False) -> str:
    """(K, H, W) class probabilities: the winner's colour, faded by doubt, as a PNG."""
    k = probabilities.shape[0]
    winner = probabilities.argmax(axis=0) % len(CLASS_COLOURS)
    confidence = np.clip((probabilities.max(axis=0) - 1.0 / k) / (1.0 - 1.0 / k), 0.0, 1.0)
    if discretize:
        confidence = np.ones_like(confidence)
    level = np.rint(confidence * (CONFIDENCE_LEVELS - 1)).astype(np.uint8)
    return palette_png((winner * CONFIDENCE_LEVELS + level).astype(np.uint8), CLASS_PALETTE)


# -- pictures as palette indices: the page colours them (ui/js/pixels.js) ----------------
# A PNG costs the worker ~0.2 ms to encode; the raw indices cost nothing, and the page
# paints them with putImageData through the same 256-entry tables as above.
PALETTES = {"diverging": DIVERGING_PALETTE, "classes": CLASS_PALETTE}


class GridPicture(TypedDict):
    """One picture as the page gets it: ``w`` x ``h`` palette indices, one byte each, the
    top row first, in ``data`` (bytes: the stream sends them as they are,
    ``protocol.encode_stream``); ``palette`` names its colour table (``PALETTES``)."""

    w: int
    h: int
    palette: str
    data: bytes


def grid_picture(indices: np.ndarray, palette: str) -> GridPicture:
    """(H, W) uint8 palette indices, row 0 at the bottom of the plane -> a GridPicture."""
    h, w = indices.shape
    data = np.ascontiguousarray(indices[::-1], dtype=np.uint8).tobytes()
    return {"w": w, "h": h, "palette": palette, "data": data}


def thumbnail(picture: GridPicture, step: int = 2) -> GridPicture:
    """Every ``step``-th pixel of a picture each way (a class room's tile: a quarter of
    the bytes, and no forward pass of its own)."""
    small = picture_indices(picture)[::step, ::step]
    return grid_picture(small[::-1], picture["palette"])


def picture_indices(picture: GridPicture) -> np.ndarray:
    """A GridPicture's (H, W) palette indices, the top row first (as an image's)."""
    raw = np.frombuffer(picture["data"], dtype=np.uint8)
    return raw.reshape(picture["h"], picture["w"])


def picture_rgb(picture: GridPicture) -> np.ndarray:
    """A GridPicture's (H, W, 3) uint8 colours, the top row first."""
    table = np.asarray(PALETTES[picture["palette"]], dtype=np.uint8).reshape(-1, 3)
    return table[picture_indices(picture)]


def picture_png(picture: GridPicture) -> bytes:
    """A GridPicture as PNG bytes (for a replay, a GIF, a download). Written here, not by
    Pillow: a server keeps a few replay snapshots a second of every session, and this
    costs a third of Pillow's time (no filter, deflate with a 4 KB window)."""
    h, w = picture["h"], picture["w"]
    rows = np.zeros((h, w + 1), dtype=np.uint8)  # each row: filter type 0, its pixels
    rows[:, 1:] = picture_indices(picture)
    deflate = zlib.compressobj(1, zlib.DEFLATED, 12, 5)
    pixels = deflate.compress(rows.tobytes()) + deflate.flush()
    header = struct.pack(">IIBBBBB", w, h, 8, 3, 0, 0, 0)  # 8-bit palette indices
    return b"".join([PNG_SIGNATURE, _png_chunk(b"IHDR", header),
                     _palette_chunk(picture["palette"]), _png_chunk(b"IDAT", pixels),
                     _png_chunk(b"IEND", b"")])


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@lru_cache(maxsize=len(PALETTES))
def _palette_chunk(name: str) -> bytes:
    return _png_chunk(b"PLTE", bytes(PALETTES[name]))
