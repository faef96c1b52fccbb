"""Frames: what the page needs to draw one moment of training, small and ready for the stream.

A frame carries only what changed since the previous one: the history rows
added since then, the data points only when the data changed, and the picture
(boundary and neuron thumbnails as palette indices, one byte a pixel, that the page
colours: ``render.GridPicture``). Pictures of same-shaped networks are computed
together: one batched pass over the plane and one quantization for all.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch

from playground.engine.data.points import summary_params
from playground.engine.nn.activations import ACTIVATIONS
from playground.engine.nn.backprop import Net, forward
from playground.engine.nn.losses import HEADS
from playground.engine.train.inference import RESOLUTION, grid_features
from playground.engine.train.trainer import Trainer
from playground.server.protocol import Frame, Picture
from playground.server.render import (
    CLASS_COLOURS,
    CONFIDENCE_LEVELS,
    GridPicture,
    grey_png,
    grid_picture,
    quantize,
)

HISTOGRAM_BINS = 24
SLOW_PARTS_EVERY = 4  # histograms and confusion ride on every 4th picture while playing
THUMBNAIL_STEP = 2  # neuron thumbnails use every 2nd grid point: 50x50 is plenty


def _round(values: np.ndarray | list, digits: int = 4) -> list:
    return np.round(np.asarray(values, dtype=np.float64), digits).tolist()


def histogram(values: torch.Tensor) -> dict:
    """Counts over a symmetric range, so zero stays in the middle of the plot; as
    ``np.histogram``'s equal bins (the top edge in the last bin), at a tenth of its
    cost for a layer's few dozen weights (a frame has six of these)."""
    flat = values.detach().numpy().astype(np.float64).ravel()
    flat = flat[np.isfinite(flat)]
    edge = float(np.abs(flat).max()) if flat.size else 1.0
    edge = edge if edge > 0 else 1.0
    bins = ((flat + edge) * (HISTOGRAM_BINS / (2 * edge))).astype(np.intp)  # all >= 0
    np.minimum(bins, HISTOGRAM_BINS - 1, out=bins)
    counts = np.bincount(bins, minlength=HISTOGRAM_BINS)
    return {"counts": counts.tolist(), "lo": -edge, "hi": edge}


def confusion_matrix(trainer: Trainer) -> list[list[int]] | None:
    if trainer.dataset.task != "classification":
        return None
    k = trainer.dataset.n_classes
    with torch.no_grad():
        out = forward(trainer.net(), trainer.x_test).output
    predicted = out.argmax(dim=1) if k > 2 else (out[:, 0] > 0).long()
    truth = torch.as_tensor(trainer.dataset.y_test, dtype=torch.int64)
    counts = torch.bincount(truth * k + predicted, minlength=k * k)
    return counts.reshape(k, k).tolist()


DIGITS_SHOWN = 40  # test digits drawn with their predictions


def _side(n_inputs: int) -> int | None:
    """The side of a square image of n_inputs pixels (8 for the digits), or None."""
    side = int(round(n_inputs ** 0.5))
    return side if side * side == n_inputs and n_inputs > 2 else None


def data_points(trainer: Trainer) -> dict | None:
    """Training and test points of a 2-D data set as [x1, x2, label] rows; for image
    inputs (the digits), the first test images and their true labels."""
    d = trainer.dataset
    side = _side(d.x_train.shape[1])
    if side:
        images = d.x_test[:DIGITS_SHOWN].reshape(-1, side, side)
        return {"task": d.task, "n_classes": d.n_classes,
                "digits": [grey_png(image[::-1]) for image in images],
                "truth": d.y_test[:DIGITS_SHOWN].tolist()}
    if d.x_train.shape[1] != 2:
        return None

    def rows(x: np.ndarray, y: np.ndarray) -> list:
        return np.column_stack([np.round(x, 3), np.round(y, 3)]).tolist()

    return {"train": rows(d.x_train, d.y_train), "test": rows(d.x_test, d.y_test),
            "task": d.task, "n_classes": d.n_classes}


def picture_key(trainer: Trainer) -> tuple:
    """Trainers with equal keys get their pictures from one batched pass."""
    return trainer.layout.sizes, trainer.config.activation, trainer.head_name


def pictures(trainers: Sequence[Trainer], every_part: Sequence[bool],
             neurons: bool = True) -> list[Picture]:
    """The pictures of same-shaped trainers (equal ``picture_key``), computed together;
    ``every_part`` says who also gets the slow parts (histograms, confusion);
    ``neurons=False`` leaves out the neurons' thumbnails of a plane (a race shows only
    outputs; a page scrolled away from its network keeps the last ones it got)."""
    first = trainers[0]
    stack = torch.stack([t.params for t in trainers])
    weights, biases = first.layout.split(stack)
    # rounded once for the whole stack, then each member's rows
    rounded_w = [np.round(w.numpy().astype(np.float64), 3) for w in weights]
    rounded_b = [np.round(b.numpy().astype(np.float64), 3) for b in biases]
    result: list[Picture] = []
    for s, trainer in enumerate(trainers):
        picture: Picture = {"sizes": list(first.layout.sizes),
                            "weights": [w[s].tolist() for w in rounded_w],
                            "biases": [b[s].tolist() for b in rounded_b],
                            "boundary": None}
        if neurons:
            picture["neurons"] = []
        if every_part[s]:
            picture["hist_weights"] = [histogram(w) for w in trainer.weights()]
            picture["hist_grads"] = [histogram(g) for g in trainer.full_gradients]
            picture["confusion"] = confusion_matrix(trainer)
        result.append(picture)
    side = _side(first.dataset.x_train.shape[1])
    if side:  # images (the digits): no plane, but each first-layer neuron's weights are one
        for s, (trainer, picture) in enumerate(zip(trainers, result)):
            # each neuron scaled to its own largest weight: its pattern in full contrast
            picture["neurons"] = [[grid_picture(quantize(
                (row / (float(row.abs().max()) or 1.0)).reshape(side, side).numpy()[::-1]),
                "diverging") for row in weights[0][s]]] + [[] for _ in weights[1:-1]]
            with torch.no_grad():
                out = forward(trainer.net(), trainer.x_test[:DIGITS_SHOWN]).output
            picture["predictions"] = out.argmax(dim=1).tolist()
        return result
    if first.dataset.x_train.shape[1] != 2:
        return result  # other wide inputs have no plane to draw on
    boundaries, thumbnails = _plane_pictures(trainers, Net(weights, biases,
                                                           first.config.activation), neurons)
    for s, picture in enumerate(result):
        picture["boundary"] = boundaries[s]
        if neurons:
            picture["neurons"] = thumbnails[s]
    return result


def _plane_pictures(trainers: Sequence[Trainer], net: Net, neurons: bool
                    ) -> tuple[list[GridPicture], list[list[list[GridPicture]]]]:
    """Every trainer's output over the plane and (``neurons``) its hidden neurons'
    thumbnails, as palette indices: one forward pass and one quantization for the stack.
    The same colours as ``render``'s PNGs of ``inference.evaluate_grids``'s maps."""
    first, res = trainers[0], RESOLUTION
    features = [tuple(t.config.features) for t in trainers]
    grids = [_grid_columns(f) for f in features]
    x = grids[0] if all(f == features[0] for f in features) else torch.stack(grids)
    with torch.no_grad():
        activations, output = _plane_forward(net, x)
        # (S, res², outputs): probabilities or values; the rest in numpy (a torch call's
        # overhead is several numpy calls', and a frame is mostly calls)
        predicted = HEADS[first.head_name].predict(output.transpose(1, 2)).numpy()
    discretize = np.array([t.config.discretize for t in trainers])
    if first.head_name == "multiclass":
        indices, palette = _class_indices(predicted, discretize), "classes"
    else:
        shade = predicted[..., 0].copy()
        if first.head_name == "binary":  # probability of class 1 -> [-1, 1]
            tf_math = np.array([t.config.tf_math for t in trainers])
            if tf_math.any():
                shade[tf_math] = _tf_shade(shade[tf_math])
            plain = ~tf_math
            shade[plain] = 2.0 * shade[plain] - 1.0
        indices, palette = _quantize(shade, discretize), "diverging"
    boundary = indices.reshape(-1, res, res)
    thumbs: list[np.ndarray] = []
    if neurons and activations:  # every THUMBNAIL_STEP-th grid point, all layers at once
        step = THUMBNAIL_STEP
        layers = [a.numpy().reshape(a.shape[0], a.shape[1], res, res)[:, :, ::step, ::step]
                  for a in activations]
        every = _quantize(np.concatenate(layers, axis=1), np.zeros(len(trainers), bool))
        ends = np.cumsum([layer.shape[1] for layer in layers])
        thumbs = np.split(every, ends[:-1], axis=1)
    boundaries = [grid_picture(boundary[s], palette) for s in range(len(trainers))]
    thumbnails = [[[grid_picture(m, "diverging") for m in layer[s]]
                   for layer in thumbs] for s in range(len(trainers))]
    return boundaries, thumbnails


@lru_cache(maxsize=16)
def _grid_columns(features: tuple[str, ...]) -> torch.Tensor:
    """The plane's grid with one row per feature, (features, res²): the layout in which
    a tiny layer's product over 10,000 points is ~10x faster than point by point."""
    return grid_features(features).t().contiguous()


# Torch's tanh ran ~7x slower than numpy's here (0.10 vs 0.015 ms for 40,000 floats, one
# thread), most of a frame's forward pass: where numpy has the function, the plane's
# pass applies it in place
_NUMPY_IN_PLACE = {"tanh": np.tanh}


def _activate(name: str, z: torch.Tensor) -> torch.Tensor:
    fast = _NUMPY_IN_PLACE.get(name)
    if fast is None:
        return ACTIVATIONS[name].forward(z)
    values = z.numpy()
    fast(values, out=values)
    return z


def _plane_forward(net: Net, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
    """``backprop.forward`` over the plane for a stack of S networks, feature-major:
    ``x`` is (features, P) or (S, features, P); returns every hidden layer's activations,
    (S, n, P) each, and the raw outputs, (S, outputs, P)."""
    s = net.weights[0].shape[0]
    h = x if x.dim() == 3 else x.expand(s, -1, -1)
    activations = []
    for w, b, name in zip(net.weights, net.biases, net.activations):
        h = _activate(name, torch.baddbmm(b.unsqueeze(2), w, h))
        activations.append(h)
    return activations, torch.baddbmm(net.biases[-1].unsqueeze(2), net.weights[-1], h)


def _quantize(values: np.ndarray, discretize: np.ndarray) -> np.ndarray:
    """``render.quantize`` for a stack at once, in place: (S, ...) values in [-1, 1] to
    indices 0..255 (NaN to the middle), ``discretize`` one flag per member."""
    values[np.isnan(values)] = 0.0  # the middle colour (or, discretized, the positive)
    v = np.clip(values, -1.0, 1.0, out=values)
    if discretize.any():
        v[discretize] = np.where(v[discretize] >= 0, 1.0, -1.0)
    v += 1.0
    v *= 127.5
    np.rint(v, out=v)
    return v.astype(np.uint8)


def _class_indices(probabilities: np.ndarray, discretize: np.ndarray) -> np.ndarray:
    """``render.classes_png``'s indices for a stack: (S, res², K) class probabilities ->
    the winner's colour, faded by doubt."""
    k = probabilities.shape[-1]
    winner = probabilities.argmax(axis=-1) % len(CLASS_COLOURS)
    confidence = np.clip((probabilities.max(axis=-1) - 1.0 / k) / (1.0 - 1.0 / k), 0.0, 1.0)
    confidence[discretize] = 1.0
    level = np.rint(confidence * (CONFIDENCE_LEVELS - 1)).astype(np.uint8)
    return (winner * CONFIDENCE_LEVELS + level).astype(np.uint8)


def _tf_shade(p: np.ndarray) -> np.ndarray:
    """With TF math the network's output is tanh(z) itself (as TF draws it), which is
    (2p-1) / (p² + (1-p)²) of P(class 1)."""
    return (2.0 * p - 1.0) / (p * p + (1.0 - p) ** 2)


class FrameBuilder:
    """Builds successive frames of one trainer, remembering what it already sent."""

    def __init__(self, generation: int = 0) -> None:
        self.generation = generation  # bumps when training restarts: the page clears its charts
        self.sent_epoch = 0  # history rows up to this epoch are sent
        self.sent_dataset: object = None  # compared by identity: new data is a new object
        self.sent_features: tuple[str, ...] = ()
        self.pictures = 0
        self.summary: tuple[object, dict[str, str]] = (None, {})  # (Config, its params)

    def restart(self) -> None:
        self.generation += 1
        self.sent_epoch = 0

    def wants_every_part(self, playing: bool) -> bool:
        """Histograms and confusion on every picture while paused, every 4th while playing."""
        return not playing or self.pictures % SLOW_PARTS_EVERY == 0

    def config_params(self, trainer: Trainer) -> dict[str, str]:
        """The Config's URL params, made again only for a new Config (a frozen object):
        making them costs more than the rest of a frame."""
        if self.summary[0] is not trainer.config:
            self.summary = trainer.config, summary_params(trainer.config)
        return dict(self.summary[1])

    def build(self, trainer: Trainer, playing: bool, picture: Picture | None = None) -> Frame:
        rows = trainer.history.since(self.sent_epoch)
        if rows["epoch"]:
            self.sent_epoch = rows["epoch"][-1]
        frame: Frame = {
            "epoch": trainer.epoch,
            "generation": self.generation,
            "playing": playing,
            "stopped": trainer.stopped,
            "metric": trainer.head.metric_name,
            "config": self.config_params(trainer),
            "last": trainer.history.last,
            "history": {
                "epoch": rows["epoch"],
                "train_loss": _round(rows["train_loss"], 5),
                "test_loss": _round(rows["test_loss"], 5),
                "train_metric": _round(rows["train_metric"]),
                "test_metric": _round(rows["test_metric"]),
                "weight_norms": [_round(v) for v in rows["weight_norms"]],
                "grad_norms": [_round(v, 8) for v in rows["grad_norms"]],
                "val_loss": [None if v is None else round(v, 5) for v in rows["val_loss"]],
                "near_zero": _round(rows["near_zero"]),
            },
        }
        if (trainer.dataset is not self.sent_dataset
                or trainer.config.features != self.sent_features):
            self.sent_dataset, self.sent_features = trainer.dataset, trainer.config.features
            frame["points"] = data_points(trainer)
        if picture is not None:
            frame["picture"] = picture
            self.pictures += 1
        return frame
