"""A replay as an animated GIF: each snapshot's output over the plane, the data points
on top in the page's colours, and the epoch in a corner.

MP4 would need an ffmpeg or PyAV backend for imageio; neither is installed, so a
replay leaves the server as a GIF (Pillow encodes it, no extra dependency).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from playground.engine.train.inference import EXTENT
from playground.server.render import point_rgb
from playground.server.replay import Snapshot

GIF_SIZE = 300  # pixels a side: the 100x100 output scaled up three times
FRAME_MS = 120  # about 8 snapshots a second: 200 snapshots play in 25 s (the figure's Play too)
LAST_FRAME_MS = 1500  # the end of training stays on screen before the loop starts over
POINT_RADIUS = 3
PALETTE_COLOURS = 64


def replay_gif(snapshots: Sequence[Snapshot], points: dict | None, size: int = GIF_SIZE,
               show_test: bool = False) -> bytes:
    """The replay as a looping GIF of ``size`` x ``size`` pixels, one frame per snapshot.
    ``points`` is a frame's points dict ({"train", "test": [[x1, x2, label], ...],
    "task", ...}); without one the frames show the output alone."""
    if not snapshots:
        raise ValueError("The replay has no snapshots yet: train for a moment first.")
    if not 32 <= size <= 2000:
        raise ValueError(f"A GIF side of {size} px is out of range (32 to 2000).")
    overlay = _points_overlay(points, size, show_test)
    frames = [_frame(snapshot, overlay, size) for snapshot in snapshots]
    durations = [FRAME_MS] * (len(frames) - 1) + [LAST_FRAME_MS]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:],
                   duration=durations, loop=0, disposal=1)
    return buffer.getvalue()


def _frame(snapshot: Snapshot, overlay: Image.Image, size: int) -> Image.Image:
    """One frame, as a palette image (the GIF's own format)."""
    # bilinear, as the browser scales the live view's image: smooth, not blocky
    output = Image.open(io.BytesIO(snapshot.png)).convert("RGB").resize(
        (size, size), Image.Resampling.BILINEAR)
    output.paste(overlay, (0, 0), overlay)
    _label(output, f"epoch {snapshot.epoch:,}", size)
    # a palette per frame from its own colours; 64 of them keep the orange-blue shades
    # smooth at half the bytes of 255 (about 10 KB a frame), and the octree is 4x faster
    return output.quantize(colors=PALETTE_COLOURS, method=Image.Quantize.FASTOCTREE,
                           dither=Image.Dither.NONE)


def _points_overlay(points: dict | None, size: int, show_test: bool) -> Image.Image:
    """The data points on a transparent layer, drawn once for every frame."""
    layer = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    if not points or "train" not in points:
        return layer
    draw = ImageDraw.Draw(layer)
    splits = [("train", (255, 255, 255))] + ([("test", (0, 0, 0))] if show_test else [])
    radius = max(2, round(POINT_RADIUS * size / GIF_SIZE))
    for split, outline in splits:
        rows = np.asarray(points.get(split) or [], dtype=np.float64).reshape(-1, 3)
        colours = point_rgb(rows[:, 2], points.get("task") == "regression")
        for (x, y), colour in zip(_pixels(rows[:, :2], size), colours):
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=tuple(colour),
                         outline=outline, width=1)
    return layer


def _pixels(xy: np.ndarray, size: int) -> np.ndarray:
    """Plane coordinates in [-EXTENT, EXTENT] to pixels; row 0 is the top of the plane."""
    scale = size / (2 * EXTENT)
    return np.column_stack([(xy[:, 0] + EXTENT) * scale, (EXTENT - xy[:, 1]) * scale])


def _label(image: Image.Image, text: str, size: int) -> None:
    """The text in the top left corner, dark on a pale box readable over any colour."""
    draw = ImageDraw.Draw(image)
    font = _font(max(10, size // 20))
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    pad = max(2, size // 75)
    draw.rectangle((0, 0, right - left + 2 * pad, bottom - top + 2 * pad), fill=(255, 255, 255))
    draw.text((pad - left, pad - top), text, fill=(30, 30, 30), font=font)


@lru_cache(maxsize=4)
def _font(pixels: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=pixels)
