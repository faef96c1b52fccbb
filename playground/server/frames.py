"""Frames: what the page needs to draw one moment of training, small and JSON-ready.

A frame carries only what changed since the previous one: the history rows
added since then, the data points only when the data changed, and the picture
(boundary and neuron thumbnails as small PNGs). Pictures of same-shaped
networks are computed together: one batched pass over the plane for all.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from playground.engine.backprop import Net, forward
from playground.engine.inference import evaluate_grids
from playground.engine.own_data import summary_params
from playground.engine.training import Trainer
from playground.server.protocol import Frame, Picture
from playground.server.render import classes_png, diverging_png, grey_png

HISTOGRAM_BINS = 24
SLOW_PARTS_EVERY = 4  # histograms and confusion ride on every 4th picture while playing
THUMBNAIL_STEP = 2  # neuron thumbnails use every 2nd grid point: 50x50 is plenty


def _round(values: np.ndarray | list, digits: int = 4) -> list:
    return np.round(np.asarray(values, dtype=np.float64), digits).tolist()


def histogram(values: torch.Tensor) -> dict:
    """Counts over a symmetric range, so zero stays in the middle of the plot."""
    flat = values.detach().reshape(-1).double().numpy()
    flat = flat[np.isfinite(flat)]
    edge = float(np.abs(flat).max()) if flat.size else 1.0
    edge = edge if edge > 0 else 1.0
    counts, _ = np.histogram(flat, bins=HISTOGRAM_BINS, range=(-edge, edge))
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
    ``neurons=False`` leaves out the neurons' thumbnails (a race shows only outputs)."""
    first = trainers[0]
    stack = torch.stack([t.params for t in trainers])
    weights, biases = first.layout.split(stack)
    result: list[Picture] = []
    for s, trainer in enumerate(trainers):
        picture: Picture = {"sizes": list(first.layout.sizes),
                            "weights": [_round(w[s].numpy(), 3) for w in weights],
                            "biases": [_round(b[s].numpy(), 3) for b in biases],
                            "boundary": None, "neurons": []}
        if every_part[s]:
            picture["hist_weights"] = [histogram(w) for w in trainer.weights()]
            picture["hist_grads"] = [histogram(g) for g in trainer.full_gradients]
            picture["confusion"] = confusion_matrix(trainer)
        result.append(picture)
    side = _side(first.dataset.x_train.shape[1])
    if side:  # images (the digits): no plane, but each first-layer neuron's weights are one
        for s, (trainer, picture) in enumerate(zip(trainers, result)):
            # each neuron scaled to its own largest weight: its pattern in full contrast
            picture["neurons"] = [[diverging_png(
                (row / (float(row.abs().max()) or 1.0)).reshape(side, side).numpy()[::-1])
                for row in weights[0][s]]] + [[] for _ in weights[1:-1]]
            with torch.no_grad():
                out = forward(trainer.net(), trainer.x_test[:DIGITS_SHOWN]).output
            picture["predictions"] = out.argmax(dim=1).tolist()
        return result
    if first.dataset.x_train.shape[1] != 2:
        return result  # other wide inputs have no plane to draw on
    maps = evaluate_grids(Net(weights, biases, first.config.activation), first.head_name,
                          [t.config.features for t in trainers])
    for trainer, grid, picture in zip(trainers, maps, result):
        discretize = trainer.config.discretize
        if grid.classes is not None:
            picture["boundary"] = classes_png(grid.classes, discretize)
        elif trainer.head_name == "binary":  # probability of class 1 -> [-1, 1]
            picture["boundary"] = diverging_png(_binary_shade(grid.output, trainer), discretize)
        else:
            picture["boundary"] = diverging_png(grid.output, discretize)
        s = THUMBNAIL_STEP
        picture["neurons"] = [[diverging_png(m[::s, ::s]) for m in layer]
                              for layer in grid.neurons] if neurons else []
    return result


def _binary_shade(p: np.ndarray, trainer: Trainer) -> np.ndarray:
    """P(class 1) as the output's colour in [-1, 1]: 2p - 1 = tanh(z/2). With TF math the
    network's output is tanh(z) itself (as TF draws it), which is (2p-1) / (p² + (1-p)²)."""
    if trainer.config.tf_math:
        return (2.0 * p - 1.0) / (p * p + (1.0 - p) ** 2)
    return 2.0 * p - 1.0


class FrameBuilder:
    """Builds successive frames of one trainer, remembering what it already sent."""

    def __init__(self, generation: int = 0) -> None:
        self.generation = generation  # bumps when training restarts: the page clears its charts
        self.sent_epoch = 0  # history rows up to this epoch are sent
        self.sent_dataset: object = None  # compared by identity: new data is a new object
        self.sent_features: tuple[str, ...] = ()
        self.pictures = 0

    def restart(self) -> None:
        self.generation += 1
        self.sent_epoch = 0

    def wants_every_part(self, playing: bool) -> bool:
        """Histograms and confusion on every picture while paused, every 4th while playing."""
        return not playing or self.pictures % SLOW_PARTS_EVERY == 0

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
            "config": summary_params(trainer.config),
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
