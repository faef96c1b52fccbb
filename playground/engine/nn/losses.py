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

LOSSES: dict[str, str] = {"cross_entropy": "Cross-entropy", "mse": "Squared error"}


@dataclass(frozen=True)
class Head:
    n_outputs: Callable[[int], int]  # n_classes -> width of the output layer
    predict: Callable[[Tensor], Tensor]  # raw outputs -> probabilities or values
    target: Callable[[np.ndarray], Tensor]  # labels as stored -> the form the loss takes
    metric: Callable[[Tensor, Tensor], Tensor]  # (raw outputs, target) -> accuracy or R²
    metric_name: str


# Metrics and losses reduce over the last two dimensions (points, outputs), so the
# same functions serve one network ([n, k]) and a stack of them ([S, n, k]: one value
# per network).
def _binary_accuracy(z: Tensor, y: Tensor) -> Tensor:
    return ((z > 0).to(y.dtype) == y).double().mean(dim=(-2, -1))


def _multiclass_accuracy(z: Tensor, y: Tensor) -> Tensor:
    return (z.argmax(dim=-1) == y).double().mean(dim=-1)


def _r_squared(z: Tensor, y: Tensor) -> Tensor:
    y, z = y.double(), z.double()
    total = ((y - y.mean(dim=-2, keepdim=True)) ** 2).sum(dim=(-2, -1))
    residual = ((y - z) ** 2).sum(dim=(-2, -1))
    return torch.where(total > 0, 1.0 - residual / total.clamp_min(1e-300), 0.0)


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
        lambda z: torch.softmax(z, dim=-1),
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
    value: Callable[[Tensor, Tensor], Tensor]  # mean loss over the batch (per network)
    grad: Callable[[Tensor, Tensor], Tensor]  # d value / d z


def _mean(values: Tensor) -> Tensor:
    return values.mean(dim=(-2, -1))


def _count(z: Tensor) -> int:
    return z.shape[-2] * z.shape[-1]


def _one_hot(y: Tensor, z: Tensor) -> Tensor:
    return F.one_hot(y, z.shape[-1]).to(z.dtype)


def _softmax_mse_grad(z: Tensor, y: Tensor) -> Tensor:
    p = torch.softmax(z, dim=-1)
    g = 2.0 * (p - _one_hot(y, z)) / _count(z)
    # back through the softmax Jacobian: dz = p * (g - sum(p * g))
    return p * (g - (p * g).sum(dim=-1, keepdim=True))


def _sigmoid_mse_grad(z: Tensor, y: Tensor) -> Tensor:
    p = torch.sigmoid(z)
    return 2.0 * (p - y) * p * (1.0 - p) / _count(z)


# The TF Playground's error (src/nn.ts Errors.SQUARE: 0.5 * (output - target)^2) on its
# output node: tanh for classification, with our class 1 as its +1 and class 0 as its -1;
# linear for regression (src/playground.ts reset). ``tf_math`` trains with these.
TF_LOSS = "tf_square"


def _tf_tanh_square_grad(z: Tensor, y: Tensor) -> Tensor:
    t = torch.tanh(z)
    return (t - (2.0 * y - 1.0)) * (1.0 - t * t) / _count(z)


OBJECTIVES: dict[tuple[str, str], Objective] = {
    ("cross_entropy", "binary"): Objective(
        lambda z, y: _mean(F.binary_cross_entropy_with_logits(z, y, reduction="none")),
        lambda z, y: (torch.sigmoid(z) - y) / _count(z)),
    ("cross_entropy", "multiclass"): Objective(
        lambda z, y: -torch.log_softmax(z, dim=-1).gather(-1, y.unsqueeze(-1)).mean(dim=(-2, -1)),
        lambda z, y: (torch.softmax(z, dim=-1) - _one_hot(y, z)) / z.shape[-2]),
    ("mse", "binary"): Objective(lambda z, y: _mean((torch.sigmoid(z) - y) ** 2),
                                 _sigmoid_mse_grad),
    ("mse", "multiclass"): Objective(
        lambda z, y: _mean((torch.softmax(z, dim=-1) - _one_hot(y, z)) ** 2), _softmax_mse_grad),
    ("mse", "regression"): Objective(lambda z, y: _mean((z - y) ** 2),
                                     lambda z, y: 2.0 * (z - y) / _count(z)),
    (TF_LOSS, "binary"): Objective(
        lambda z, y: _mean(0.5 * (torch.tanh(z) - (2.0 * y - 1.0)) ** 2), _tf_tanh_square_grad),
    (TF_LOSS, "regression"): Objective(lambda z, y: _mean(0.5 * (z - y) ** 2),
                                       lambda z, y: (z - y) / _count(z)),
}


def objective(loss: str, head: str, tf_math: bool = False) -> Objective:
    """The loss for this head; regression always uses mean squared error, and TF math
    the TF Playground's error (two classes or regression only)."""
    if tf_math:
        if (TF_LOSS, head) not in OBJECTIVES:
            raise ValueError("TensorFlow Playground math needs two classes or regression")
        return OBJECTIVES[(TF_LOSS, head)]
    return OBJECTIVES[("mse", head) if head == "regression" else (loss, head)]
