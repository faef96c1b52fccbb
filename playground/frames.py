"""Frames: what the page needs to draw one moment of training, small and JSON-ready.

A frame carries only what changed since the previous one: the history rows
added since then, the data points only when the data changed, and the pictures
(boundary and neuron thumbnails as small PNGs) only while something moved.
"""

from __future__ import annotations

import numpy as np
import torch

from playground import backprop
from playground.inference import evaluate_grid
from playground.render import classes_png, diverging_png
from playground.training import Trainer

HISTOGRAM_BINS = 24
PICTURE_KEYS = ("sizes", "weights", "biases", "hist_weights", "hist_grads", "confusion",
                "boundary", "neurons")  # a frame's picture; the runner keeps the latest
SLOW_PARTS_EVERY = 4  # histograms and confusion ride on every 4th frame (drawn ~3x/s)
THUMBNAIL_STEP = 2  # neuron thumbnails use every 2nd grid point: 50x50 is plenty


def _round(values: np.ndarray | list, digits: int = 4) -> list:
    return np.round(np.asarray(values, dtype=np.float64), digits).tolist()


def histogram(values: torch.Tensor) -> dict:
    """Counts over a symmetric range, so zero stays in the middle of the plot."""
    flat = values.detach().reshape(-1).double().numpy()
    edge = float(np.abs(flat).max()) if flat.size else 1.0
    edge = edge if edge > 0 else 1.0
    counts, _ = np.histogram(flat, bins=HISTOGRAM_BINS, range=(-edge, edge))
    return {"counts": counts.tolist(), "lo": -edge, "hi": edge}


def confusion_matrix(trainer: Trainer) -> list[list[int]] | None:
    if trainer.dataset.task != "classification":
        return None
    k = trainer.dataset.n_classes
    with torch.no_grad():
        out = backprop.forward(trainer.model, trainer.x_test).output
    predicted = out.argmax(dim=1) if k > 2 else (out[:, 0] > 0).long()
    truth = torch.as_tensor(trainer.dataset.y_test, dtype=torch.int64)
    counts = torch.bincount(truth * k + predicted, minlength=k * k)
    return counts.reshape(k, k).tolist()


def data_points(trainer: Trainer) -> dict | None:
    """Training and test points of a 2-D data set as [x1, x2, label] rows."""
    d = trainer.dataset
    if d.x_train.shape[1] != 2:
        return None

    def rows(x: np.ndarray, y: np.ndarray) -> list:
        return np.column_stack([np.round(x, 3), np.round(y, 3)]).tolist()

    return {"train": rows(d.x_train, d.y_train), "test": rows(d.x_test, d.y_test),
            "task": d.task, "n_classes": d.n_classes}


class FrameBuilder:
    """Builds successive frames of one trainer, remembering what it already sent."""

    def __init__(self) -> None:
        self.generation = 0  # bumps when training restarts, so the page clears its charts
        self.sent_rows = 0
        self.sent_dataset: object = None  # compared by identity: new data is a new object
        self.sent_features: tuple[str, ...] = ()
        self.pictures = 0

    def restart(self) -> None:
        self.generation += 1
        self.sent_rows = 0

    def build(self, trainer: Trainer, playing: bool, picture: bool = True) -> dict:
        h = trainer.history
        start, self.sent_rows = self.sent_rows, len(h.epoch)
        frame = {
            "epoch": trainer.epoch,
            "generation": self.generation,
            "playing": playing,
            "stopped": trainer.stopped,
            "metric": trainer.head.metric_name,
            "config": trainer.config.to_params(),
            "history": {
                "from": start,
                "epoch": h.epoch[start:],
                "train_loss": _round(h.train_loss[start:], 5),
                "test_loss": _round(h.test_loss[start:], 5),
                "train_metric": _round(h.train_metric[start:]),
                "test_metric": _round(h.test_metric[start:]),
                "weight_norms": _round(h.weight_norms[start:]),
                "grad_norms": [_round(g, 8) for g in h.grad_norms[start:]],
            },
        }
        if (trainer.dataset is not self.sent_dataset
                or trainer.config.features != self.sent_features):
            self.sent_dataset, self.sent_features = trainer.dataset, trainer.config.features
            frame["points"] = data_points(trainer)
        if picture:
            frame.update(self.picture(trainer, every_part=not playing))
        return frame

    def picture(self, trainer: Trainer, every_part: bool = True) -> dict:
        weights = trainer.model.weights()
        picture = {
            "sizes": list(trainer.model.sizes),
            "weights": [_round(w.detach().numpy(), 3) for w in weights],
            "biases": [_round(b.detach().numpy(), 3) for b in trainer.model.biases()],
            "boundary": None,
            "neurons": [],
        }
        if every_part or self.pictures % SLOW_PARTS_EVERY == 0:
            picture["hist_weights"] = [histogram(w) for w in weights]
            picture["hist_grads"] = [histogram(g) for g in trainer.full_gradients]
            picture["confusion"] = confusion_matrix(trainer)
        self.pictures += 1
        if trainer.dataset.x_train.shape[1] == 2:
            maps = evaluate_grid(trainer.model, trainer.head_name, trainer.config.features)
            discretize = trainer.config.discretize
            if maps.classes is not None:
                picture["boundary"] = classes_png(maps.classes, discretize)
            elif trainer.head_name == "binary":  # probability of class 1 -> [-1, 1]
                picture["boundary"] = diverging_png(maps.output * 2.0 - 1.0, discretize)
            else:
                picture["boundary"] = diverging_png(maps.output, discretize)
            s = THUMBNAIL_STEP
            picture["neurons"] = [[diverging_png(m[::s, ::s]) for m in layer]
                                  for layer in maps.neurons]
        return picture
