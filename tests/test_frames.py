"""Frames: only what changed since the last one, the right pictures for the data, and
histograms and confusion counts that agree with the trainer."""

import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image

from playground.engine.config.config import Config
from playground.engine.nn.model import MLP
from playground.engine.train.group import train_epochs
from playground.engine.train.history import HISTORY_KEYS
from playground.engine.train.inference import RESOLUTION, evaluate_grid
from playground.engine.train.trainer import Trainer
from playground.server import protocol as p
from playground.server.frames import (
    HISTOGRAM_BINS,
    FrameBuilder,
    confusion_matrix,
    histogram,
    pictures,
)
from playground.server.render import (
    NEGATIVE,
    POSITIVE,
    classes_png,
    diverging_png,
    picture_rgb,
)


def trained(epochs: int, **changes) -> Trainer:
    trainer = Trainer(Config(n_points=200, **changes))
    train_epochs(trainer, epochs)
    return trainer


def pixels(image: str | dict) -> np.ndarray:
    """(H, W, 3) colours, the top row first: of a PNG data URL (the digits' images) or of
    a live picture's palette indices (``render.GridPicture``)."""
    if isinstance(image, dict):
        return picture_rgb(image)
    data = base64.b64decode(image.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def picture(trainer: Trainer, every_part: bool = True) -> dict:
    return pictures([trainer], [every_part])[0]


def strict_json(frame: dict) -> dict:
    """The frame as the page reads it (a NaN would arrive as null, a tuple as a list)."""
    return p.decode_stream(p.encode_stream(frame))


@pytest.fixture(scope="module")
def circle() -> Trainer:
    return trained(5, hidden=(4, 3))


def test_first_frame_is_complete(circle):
    frame = FrameBuilder().build(circle, playing=True)
    assert frame["epoch"] == 5 and frame["generation"] == 0 and frame["playing"] is True
    assert frame["metric"] == "accuracy" and frame["stopped"] is None
    assert frame["config"] == circle.config.to_params()
    history = frame["history"]
    assert history["epoch"] == [1, 2, 3, 4, 5] and frame["last"]["epoch"] == 5
    for key in HISTORY_KEYS:
        assert len(history[key]) == 5
    np.testing.assert_allclose(history["train_loss"], circle.history.train_loss, atol=1e-5)
    assert all(len(row) == 3 for row in history["weight_norms"])  # one per layer
    points = frame["points"]
    assert len(points["train"]) == len(circle.dataset.x_train)
    assert len(points["test"]) == len(circle.dataset.x_test)
    np.testing.assert_allclose(np.array(points["train"])[:, :2], circle.dataset.x_train,
                               atol=5e-4)
    assert [row[2] for row in points["test"]] == circle.dataset.y_test.tolist()
    assert (points["task"], points["n_classes"]) == ("classification", 2)
    assert strict_json(frame) == frame


def test_picture_matches_the_network(circle):
    frame = picture(circle)
    assert frame["sizes"] == [2, 4, 3, 1]
    assert [np.shape(w) for w in frame["weights"]] == [(4, 2), (3, 4), (1, 3)]
    assert [len(b) for b in frame["biases"]] == [4, 3, 1]
    np.testing.assert_allclose(frame["weights"][1], circle.weights()[1], atol=5e-4)
    np.testing.assert_allclose(frame["biases"][0], circle.biases()[0], atol=5e-4)
    assert pixels(frame["boundary"]).shape == (RESOLUTION, RESOLUTION, 3)
    assert [len(layer) for layer in frame["neurons"]] == [4, 3]
    side = len(range(0, RESOLUTION, 2))
    assert pixels(frame["neurons"][0][0]).shape == (side, side, 3)
    assert len(frame["hist_weights"]) == len(frame["hist_grads"]) == 3


def test_later_frames_carry_only_new_rows():
    trainer = trained(3)
    builder = FrameBuilder()
    first = builder.build(trainer, playing=True)
    train_epochs(trainer, 4)
    second = builder.build(trainer, playing=True)
    assert "points" not in second
    history = second["history"]
    assert first["history"]["epoch"] == [1, 2, 3] and history["epoch"] == [4, 5, 6, 7]
    assert all(len(history[key]) == 4 for key in HISTORY_KEYS)
    np.testing.assert_allclose(history["test_loss"], trainer.history.test_loss[3:], atol=1e-5)
    third = builder.build(trainer, playing=False)  # nothing new
    assert all(third["history"][key] == [] for key in HISTORY_KEYS)
    assert "picture" not in third


def test_restart_bumps_generation_and_resends_everything():
    trainer = trained(4)
    builder = FrameBuilder()
    builder.build(trainer, playing=True)
    trainer.reset(keep_init=True)
    train_epochs(trainer, 2)
    builder.restart()
    frame = builder.build(trainer, playing=True)
    assert frame["generation"] == 1
    assert frame["history"]["epoch"] == [1, 2]


def test_new_data_resends_points():
    trainer = trained(2)
    builder = FrameBuilder()
    builder.build(trainer, playing=True)
    trainer.apply_config(trainer.config.replace(dataset="xor"))
    builder.restart()
    frame = builder.build(trainer, playing=True)
    assert frame["points"]["train"] == [
        [*np.round(x, 3).tolist(), float(y)]
        for x, y in zip(trainer.dataset.x_train, trainer.dataset.y_train)]
    trainer.apply_config(trainer.config.replace(features=("x1", "x2", "x1x2")))
    assert "points" in builder.build(trainer, playing=True)  # same points, new input layer


def test_digits_frame_shows_weights_as_images_and_predictions():
    trainer = trained(2, dataset="digits", hidden=(16,), activation=("relu",))
    frame = FrameBuilder().build(trainer, playing=False, picture=picture(trainer))
    points = frame["points"]
    assert len(points["digits"]) == len(points["truth"]) == 40
    assert points["truth"] == trainer.dataset.y_test[:40].tolist()
    assert pixels(points["digits"][0]).shape == (8, 8, 3)
    pic = frame["picture"]
    assert pic["boundary"] is None and pic["sizes"] == [64, 16, 10]
    # a first-layer neuron's picture: its 64 incoming weights as 8x8, the largest in colour
    assert len(pic["neurons"][0]) == 16 and pixels(pic["neurons"][0][0]).shape == (8, 8, 3)
    w = trainer.weights()[0][0].reshape(8, 8)
    image = pixels(pic["neurons"][0][0]).astype(int)
    strongest = divmod(int(w.abs().argmax()), 8)
    colour = tuple(image[strongest])
    assert colour == (POSITIVE if w[strongest] > 0 else NEGATIVE)
    # the predictions are the network's own (nn.Module forward as the oracle)
    model = MLP.from_flat(trainer.layout, trainer.config.activation, trainer.config.dropout,
                          trainer.params).eval()
    with torch.no_grad():
        expected = model(trainer.x_test[:40]).argmax(dim=1).tolist()
    assert pic["predictions"] == expected
    assert np.array(pic["confusion"]).shape == (10, 10)
    assert strict_json(frame) == frame


def test_regression_frame():
    trainer = trained(3, dataset="plane")
    frame = FrameBuilder().build(trainer, playing=False, picture=picture(trainer))
    assert frame["metric"] == "r2" and frame["picture"]["confusion"] is None
    assert frame["points"]["task"] == "regression"
    assert pixels(frame["picture"]["boundary"]).shape == (RESOLUTION, RESOLUTION, 3)
    assert strict_json(frame) == frame


def test_discretized_boundary_has_two_colours():
    trainer = trained(3, discretize=True)
    colours = {tuple(c) for c in pixels(picture(trainer)["boundary"]).reshape(-1, 3)}
    assert colours == {NEGATIVE, POSITIVE}  # the untrained circle net splits the plane


def test_histogram_counts_every_weight_over_a_symmetric_range():
    w = torch.randn(13, 7, generator=torch.Generator().manual_seed(0)) * 3
    h = histogram(w)
    assert len(h["counts"]) == HISTOGRAM_BINS
    assert sum(h["counts"]) == w.numel()
    assert h["lo"] == -h["hi"] and h["hi"] == pytest.approx(w.abs().max().item())
    # numpy's own histogram over the same range agrees (weights seldom sit on an edge)
    for seed in range(20):
        w = torch.randn(40, generator=torch.Generator().manual_seed(seed))
        h = histogram(w)
        counts, _ = np.histogram(w.double().numpy(), bins=HISTOGRAM_BINS, range=(h["lo"], h["hi"]))
        assert h["counts"] == counts.tolist()


def test_histogram_bins_by_hand():
    h = histogram(torch.tensor([-2.0, 2.0, 0.1, -0.1]))
    assert (h["lo"], h["hi"]) == (-2.0, 2.0)
    expected = [0] * HISTOGRAM_BINS
    expected[0] = expected[-1] = 1  # the extremes fall in the outer bins
    expected[HISTOGRAM_BINS // 2] += 1  # 0.1 just right of zero
    expected[HISTOGRAM_BINS // 2 - 1] += 1
    assert h["counts"] == expected


def test_histogram_of_zeros_and_of_nothing():
    for values in (torch.zeros(3, 3), torch.zeros(0)):
        h = histogram(values)
        assert (h["lo"], h["hi"]) == (-1.0, 1.0)
        assert sum(h["counts"]) == values.numel()


@pytest.mark.parametrize("dataset, k", [("xor", 2), ("circle", 2), ("blobs3", 3),
                                        ("spiral3", 3)])
def test_confusion_agrees_with_test_accuracy(dataset, k):
    trainer = trained(15, dataset=dataset)
    counts = np.array(confusion_matrix(trainer))
    n_test = len(trainer.dataset.y_test)
    assert counts.shape == (k, k)
    assert counts.sum() == n_test
    assert counts.sum(axis=1).tolist() == np.bincount(trainer.dataset.y_test, minlength=k).tolist()
    assert np.trace(counts) == round(trainer.history.test_metric[-1] * n_test)


def test_confusion_is_none_for_regression():
    assert confusion_matrix(trained(1, dataset="multigauss")) is None


def test_slow_parts_ride_on_every_fourth_picture_while_playing():
    trainer = trained(2)
    builder = FrameBuilder()
    wanted = []
    for _ in range(8):
        every = builder.wants_every_part(playing=True)
        wanted.append(every)
        builder.build(trainer, True, picture(trainer, every))
    assert wanted == [True, False, False, False] * 2
    assert builder.wants_every_part(playing=False)
    assert "hist_weights" not in picture(trainer, every_part=False)


def test_pictures_of_a_batch_equal_pictures_alone():
    trainers = [trained(3, init_seed=s, features=f) for s, f in
                ((0, ("x1", "x2")), (1, ("x1sq", "x2sq")), (2, ("x1", "x2")))]
    together = pictures(trainers, [True] * 3)
    for trainer, pic in zip(trainers, together):
        alone = picture(trainer)
        assert pic["weights"] == alone["weights"] and pic["confusion"] == alone["confusion"]
        np.testing.assert_allclose(pixels(pic["boundary"]), pixels(alone["boundary"]), atol=1)


def test_tf_math_shades_the_output_as_tanh_of_the_logit():
    p = np.array([0.02, 0.3, 0.5, 0.9])
    z = np.log(p / (1 - p))
    from playground.server.frames import _tf_shade
    np.testing.assert_allclose(_tf_shade(p), np.tanh(z), rtol=1e-12)


def png_picture(trainer: Trainer, every_neuron: bool = True) -> tuple[np.ndarray, list]:
    """The oracle: the output and the thumbnails as the server drew them before, PNGs of
    ``evaluate_grid``'s float64 maps through ``render`` (one network alone)."""
    grid = evaluate_grid(trainer.net(), trainer.head_name, trainer.config.features)
    discretize = trainer.config.discretize
    if grid.classes is not None:
        boundary = classes_png(grid.classes, discretize)
    elif trainer.head_name == "binary":
        p = grid.output.astype(np.float64)
        shade = ((2 * p - 1) / (p * p + (1 - p) ** 2)) if trainer.config.tf_math else 2 * p - 1
        boundary = diverging_png(shade, discretize)
    else:
        boundary = diverging_png(grid.output, discretize)
    thumbs = [[diverging_png(m[::2, ::2]) for m in layer] for layer in grid.neurons]
    return pixels(boundary), [[pixels(t) for t in layer] for layer in thumbs]


@pytest.mark.parametrize("changes", [
    {}, {"discretize": True}, {"tf_math": True}, {"dataset": "plane"},
    {"dataset": "blobs3"}, {"dataset": "spiral3", "discretize": True},
    {"activation": ("relu",), "hidden": (5,)}])
def test_batched_pictures_colour_as_the_png_oracle(changes):
    """Three networks' pictures from one batched pass, coloured through the palettes,
    equal the PNGs of each network's own float64 maps (a colour index or one apart,
    where float32 rounds the other way)."""
    trainers = [trained(4, init_seed=seed, **changes) for seed in range(3)]
    for trainer, pic in zip(trainers, pictures(trainers, [False] * 3)):
        boundary, thumbs = png_picture(trainer)
        got = pixels(pic["boundary"]).astype(int)
        assert got.shape == boundary.shape
        assert np.abs(got - boundary).max() <= 2 and (got == boundary).mean() > 0.99
        assert [len(layer) for layer in pic["neurons"]] == [len(layer) for layer in thumbs]
        for layer, expected in zip(pic["neurons"], thumbs):
            for thumb, png in zip(layer, expected):
                assert np.abs(pixels(thumb).astype(int) - png).max() <= 2


def test_quantized_values_clip_and_nan_takes_the_middle_colour():
    from playground.server.frames import _quantize
    from playground.server.render import quantize
    values = np.array([[-3.0, -1.0, -0.2, 0.0, np.nan, 0.3, 1.0, 7.0]], dtype=np.float32)
    expected = quantize(values.astype(np.float64))
    np.testing.assert_array_equal(_quantize(values.copy(), np.array([False])), expected)
    assert _quantize(values.copy(), np.array([False]))[0, 4] == 128
    np.testing.assert_array_equal(_quantize(values.copy(), np.array([True])),
                                  quantize(values.astype(np.float64), discretize=True))
