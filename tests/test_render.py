"""Heatmap colouring: the colour table's anchors, quantizing, class colours, and PNGs
that decode to the same pixels with the plane's bottom row at the bottom."""

import base64
import io

import numpy as np
import pytest
from PIL import Image

from playground.server.render import (
    CLASS_COLOURS,
    CLASS_PALETTE,
    CONFIDENCE_LEVELS,
    DIVERGING,
    DIVERGING_PALETTE,
    MIDDLE,
    NEGATIVE,
    POSITIVE,
    classes_png,
    diverging_png,
    diverging_rgb,
    hex_colour,
    palette_png,
    png_data_url,
    quantize,
)


# the full-colour reference that the palette PNGs approximate (an oracle for them)
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



def decode(url: str) -> np.ndarray:
    prefix = "data:image/png;base64,"
    assert url.startswith(prefix)
    image = Image.open(io.BytesIO(base64.b64decode(url[len(prefix):])))
    assert image.format == "PNG"
    return np.asarray(image.convert("RGB"))


def test_colour_table_anchors():
    assert DIVERGING.shape == (256, 3) and DIVERGING.dtype == np.uint8
    assert tuple(DIVERGING[0]) == NEGATIVE
    assert tuple(DIVERGING[quantize(np.array(0.0))]) == MIDDLE
    assert tuple(DIVERGING[255]) == POSITIVE


def test_colour_table_moves_monotonically_between_anchors():
    # every channel goes straight from NEGATIVE to MIDDLE, then from MIDDLE to POSITIVE
    for lo, hi, anchor_lo, anchor_hi in ((0, 128, NEGATIVE, MIDDLE), (128, 255, MIDDLE, POSITIVE)):
        segment = DIVERGING[lo:hi + 1].astype(int)
        for channel in range(3):
            steps = np.diff(segment[:, channel])
            direction = np.sign(anchor_hi[channel] - anchor_lo[channel])
            assert np.all(steps * direction >= 0)


def test_quantize_maps_ends_clips_and_nan():
    values = np.array([-1.0, 1.0, 0.0, -7.5, 3.0, np.nan, -np.inf, np.inf])
    assert quantize(values).tolist() == [0, 255, 128, 0, 255, 128, 0, 255]
    assert quantize(values).dtype == np.uint8


def test_quantize_is_monotonic_and_linear():
    v = np.linspace(-1, 1, 1001)
    q = quantize(v).astype(int)
    assert np.all(np.diff(q) >= 0)
    assert np.abs(q - (v + 1) * 127.5).max() <= 0.5


def test_diverging_rgb_shape_and_colours():
    values = np.array([[-1.0, 0.0], [1.0, np.nan]])
    rgb = diverging_rgb(values)
    assert rgb.shape == (2, 2, 3) and rgb.dtype == np.uint8
    assert [tuple(c) for c in rgb.reshape(-1, 3)] == [NEGATIVE, MIDDLE, POSITIVE, MIDDLE]


def test_discretize_gives_only_the_two_end_colours():
    values = np.random.default_rng(0).uniform(-1.5, 1.5, (20, 30))
    rgb = diverging_rgb(values, discretize=True)
    colours = {tuple(c) for c in rgb.reshape(-1, 3)}
    assert colours == {NEGATIVE, POSITIVE}
    assert np.array_equal(rgb[values >= 0], np.broadcast_to(POSITIVE, rgb[values >= 0].shape))
    assert np.array_equal(rgb[values < 0], np.broadcast_to(NEGATIVE, rgb[values < 0].shape))


@pytest.mark.parametrize("k", [2, 3, 10])
def test_classes_rgb_certain_winner_gets_its_colour(k):
    probs = np.zeros((k, 1, k))
    for c in range(k):
        probs[c, 0, c] = 1.0  # column c is certainly class c
    rgb = classes_rgb(probs)
    assert rgb.shape == (1, k, 3)
    for c in range(k):
        assert tuple(rgb[0, c]) == tuple(CLASS_COLOURS[c].astype(int))


@pytest.mark.parametrize("k", [2, 3, 5])
def test_classes_rgb_uniform_probabilities_fade_to_middle(k):
    probs = np.full((k, 4, 4), 1.0 / k)
    assert {tuple(c) for c in classes_rgb(probs).reshape(-1, 3)} == {MIDDLE}


def test_classes_rgb_halfway_confidence_is_halfway_colour():
    # binary: p = 0.75 is halfway between doubt (0.5) and certainty (1)
    probs = np.array([[[0.25]], [[0.75]]])
    expected = np.round(np.array(MIDDLE) + (np.array(POSITIVE) - np.array(MIDDLE)) * 0.5)
    assert classes_rgb(probs)[0, 0].tolist() == expected.astype(int).tolist()
    # discretize ignores the doubt
    assert tuple(classes_rgb(probs, discretize=True)[0, 0]) == POSITIVE


def test_classes_rgb_picks_argmax():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(3, 6, 7))
    probs = np.exp(logits) / np.exp(logits).sum(axis=0)
    rgb = classes_rgb(probs, discretize=True)
    winner = probs.argmax(axis=0)
    assert np.array_equal(rgb, CLASS_COLOURS[winner].astype(np.uint8))


def test_hex_colour():
    assert hex_colour(NEGATIVE) == "#f59322"
    assert hex_colour(np.array([0, 255, 16])) == "#00ff10"


def test_png_round_trips_with_row_zero_at_the_bottom():
    h, w = 3, 5
    rgb = np.zeros((h, w, 3), dtype=np.uint8)
    rgb[0] = (255, 0, 0)  # row 0: the bottom of the plane (x2 = -6)
    rgb[1] = (0, 255, 0)
    rgb[2] = (0, 0, 255)
    rgb[:, 0, :] = 7  # column 0: the left edge stays on the left
    pixels = decode(png_data_url(rgb))
    assert pixels.shape == (h, w, 3)
    assert pixels[0, 1:].tolist() == [[0, 0, 255]] * (w - 1)  # first PNG row: the top
    assert pixels[-1, 1:].tolist() == [[255, 0, 0]] * (w - 1)
    assert np.array_equal(pixels, rgb[::-1])


def test_png_of_non_contiguous_view():
    rgb = diverging_rgb(np.linspace(-1, 1, 40 * 40).reshape(40, 40))[::2, ::2]
    pixels = decode(png_data_url(rgb))
    assert pixels.shape == (20, 20, 3)
    assert np.array_equal(pixels, rgb[::-1])


# -- palette PNGs ------------------------------------------------------------------------
def open_png(url: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))


def test_palette_png_keeps_indices_with_row_zero_at_the_bottom():
    indices = np.arange(12, dtype=np.uint8).reshape(3, 4)
    image = open_png(palette_png(indices, DIVERGING_PALETTE))
    assert image.mode == "P" and image.size == (4, 3)
    assert np.array_equal(np.asarray(image), indices[::-1])


@pytest.mark.parametrize("discretize", [False, True])
def test_diverging_png_draws_the_same_colours_as_diverging_rgb(discretize):
    values = np.random.default_rng(2).uniform(-1.3, 1.3, (9, 11))
    values[0, 0] = np.nan
    assert np.array_equal(decode(diverging_png(values, discretize)),
                          diverging_rgb(values, discretize)[::-1])


def test_class_palette_runs_from_middle_to_each_class_colour():
    palette = np.array(CLASS_PALETTE).reshape(-1, 3)
    assert len(palette) == len(CLASS_COLOURS) * CONFIDENCE_LEVELS <= 256
    for c, colour in enumerate(CLASS_COLOURS):
        assert tuple(palette[c * CONFIDENCE_LEVELS]) == MIDDLE
        assert tuple(palette[(c + 1) * CONFIDENCE_LEVELS - 1]) == tuple(colour.astype(int))


@pytest.mark.parametrize("k", [2, 3, 10])
def test_classes_png_approximates_classes_rgb(k):
    logits = np.random.default_rng(k).normal(scale=2.0, size=(k, 8, 9))
    probs = np.exp(logits) / np.exp(logits).sum(axis=0)
    probs[:, 0, 0] = 1.0 / k  # full doubt
    probs[:, 0, 1] = np.eye(k)[k - 1]  # certainty
    drawn = decode(classes_png(probs)).astype(int)
    exact = classes_rgb(probs)[::-1].astype(int)
    # 25 confidence levels: at most half a level's colour step away
    step = np.abs(CLASS_COLOURS[:k] - np.array(MIDDLE)).max() / (CONFIDENCE_LEVELS - 1)
    assert np.abs(drawn - exact).max() <= step / 2 + 1
    assert tuple(drawn[-1, 0]) == MIDDLE
    assert tuple(drawn[-1, 1]) == tuple(CLASS_COLOURS[k - 1].astype(int))
    assert np.array_equal(decode(classes_png(probs, discretize=True)),
                          classes_rgb(probs, discretize=True)[::-1])
