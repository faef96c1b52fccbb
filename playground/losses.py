"""Output heads and losses, each with a hand-written gradient.

The head follows from the task: two classes use one logit and a sigmoid (binary
cross-entropy), more classes use one logit per class and a softmax, regression
uses one linear output. A loss is looked up by (loss name, head name); every
``grad`` is the derivative of ``value`` with respect to the raw outputs ``z``,
checked against autograd in the tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

Tensor = torch.Tensor

LOSSES: dict[str, str] = {"cross_entropy": "Cross-entropy", "mse": "Mean squared error"}


@dataclass(frozen=True)
class Head:
    n_outputs: Callable[[int], int]  # n_classes -> width of the output layer
    predict: Callable[[Tensor], Tensor]  # raw outputs -> probabilities or values
    target: Callable[[np.ndarray], Tensor]  # labels as stored -> the form the loss takes
    metric: Callable[[Tensor, Tensor], float]  # (raw outputs, target) -> accuracy or R²
    metric_name: str


def _binary_accuracy(z: Tensor, y: Tensor) -> float:
    return ((z > 0).to(y.dtype) == y).double().mean().item()


def _multiclass_accuracy(z: Tensor, y: Tensor) -> float:
    return (z.argmax(dim=1) == y).double().mean().item()


def _r_squared(z: Tensor, y: Tensor) -> float:
    total = ((y - y.mean()) ** 2).sum().item()
    residual = ((y - z) ** 2).sum().item()
    return 1.0 - residual / total if total > 0 else 0.0


HEADS: dict[str, Head] = {
    "binary": Head(
        lambda k: 1,
        torch.sigmoid,
        lambda y: torch.as_tensor(y, dtype=torch.float32).reshape(-1, 1),
        _binary_accuracy,
        "accuracy",
    ),
    "multiclass": Head(
        lambda k: k,
        lambda z: torch.softmax(z, dim=1),
        lambda y: torch.as_tensor(y, dtype=torch.int64).reshape(-1),
        _multiclass_accuracy,
        "accuracy",
    ),
    "regression": Head(
        lambda k: 1,
        lambda z: z,
        lambda y: torch.as_tensor(y, dtype=torch.float32).reshape(-1, 1),
        _r_squared,
        "r2",
    ),
}


def head_name(task: str, n_classes: int) -> str:
    if task == "regression":
        return "regression"
    return "binary" if n_classes == 2 else "multiclass"


@dataclass(frozen=True)
class Objective:
    value: Callable[[Tensor, Tensor], Tensor]  # mean loss over the batch
    grad: Callable[[Tensor, Tensor], Tensor]  # d value / d z


def _softmax_mse_grad(z: Tensor, y: Tensor) -> Tensor:
    p = torch.softmax(z, dim=1)
    g = 2.0 * (p - F.one_hot(y, z.shape[1]).to(z.dtype)) / z.numel()
    # back through the softmax Jacobian: dz = p * (g - sum(p * g))
    return p * (g - (p * g).sum(dim=1, keepdim=True))


def _sigmoid_mse_grad(z: Tensor, y: Tensor) -> Tensor:
    p = torch.sigmoid(z)
    return 2.0 * (p - y) * p * (1.0 - p) / z.numel()


OBJECTIVES: dict[tuple[str, str], Objective] = {
    ("cross_entropy", "binary"): Objective(
        F.binary_cross_entropy_with_logits, lambda z, y: (torch.sigmoid(z) - y) / z.numel()
    ),
    ("cross_entropy", "multiclass"): Objective(
        F.cross_entropy,
        lambda z, y: (torch.softmax(z, dim=1) - F.one_hot(y, z.shape[1]).to(z.dtype)) / z.shape[0],
    ),
    ("mse", "binary"): Objective(lambda z, y: F.mse_loss(torch.sigmoid(z), y), _sigmoid_mse_grad),
    ("mse", "multiclass"): Objective(
        lambda z, y: F.mse_loss(torch.softmax(z, dim=1), F.one_hot(y, z.shape[1]).to(z.dtype)),
        _softmax_mse_grad,
    ),
    ("mse", "regression"): Objective(F.mse_loss, lambda z, y: 2.0 * (z - y) / z.numel()),
}


def objective(loss: str, head: str) -> Objective:
    """The loss for this head; regression always uses mean squared error."""
    return OBJECTIVES[("mse", head) if head == "regression" else (loss, head)]
