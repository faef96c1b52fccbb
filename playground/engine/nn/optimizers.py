"""Optimizers as update rules on a stack of flat parameter vectors, and schedules.

Each rule updates ``params [S, P]`` from ``grads [S, P]`` in place, with one
learning rate, momentum and step count per network (``[S, 1]``), so every
network of a group keeps its own settings while all of them move in a few
element-wise operations. The formulas are ``torch.optim``'s (single-tensor
path, default hyperparameters); the tests train the same runs with
``torch.optim`` itself and compare the weights.

Schedules are closed-form factors of the epoch rather than ``lr_scheduler``
objects so that a learning-rate change in the middle of a run applies at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

Tensor = torch.Tensor
BETAS = (0.9, 0.999)  # Adam's and AdamW's defaults in torch.optim
ADAM_EPS = 1e-8
ADAMW_DECAY = 0.01  # torch.optim.AdamW's default weight decay
RMSPROP_ALPHA, RMSPROP_EPS = 0.99, 1e-8
ADAGRAD_EPS = 1e-10


@dataclass
class Hyper:
    lr: Tensor  # [S, 1] float32
    momentum: Tensor  # [S, 1] float32
    step: Tensor  # [S, 1] float64: the number of this step, from 1


@dataclass(frozen=True)
class UpdateRule:
    slots: tuple[str, ...]  # state vectors shaped like the parameters, zero at the start
    step: Callable[[Tensor, Tensor, dict[str, Tensor], Hyper], None]


def _sgd(p: Tensor, g: Tensor, s: dict[str, Tensor], h: Hyper) -> None:
    p.sub_(g * h.lr)


def _momentum(p: Tensor, g: Tensor, s: dict[str, Tensor], h: Hyper) -> None:
    # torch starts the buffer at the first gradient; from zero, m * 0 + g is that exactly
    buf = s["momentum"].mul_(h.momentum).add_(g)
    p.sub_(buf * h.lr)


def _nesterov(p: Tensor, g: Tensor, s: dict[str, Tensor], h: Hyper) -> None:
    buf = s["momentum"].mul_(h.momentum).add_(g)
    p.sub_((g + buf * h.momentum) * h.lr)


def _adam_update(p: Tensor, g: Tensor, s: dict[str, Tensor], h: Hyper) -> None:
    beta1, beta2 = BETAS
    m = s["exp_avg"].lerp_(g, 1 - beta1)
    v = s["exp_avg_sq"].mul_(beta2).addcmul_(g, g, value=1 - beta2)
    step_size = (h.lr.double() / (1 - beta1 ** h.step)).float()
    correction = (1 - beta2 ** h.step).sqrt().float()
    denom = (v.sqrt() / correction).add_(ADAM_EPS)
    p.add_(-step_size * m / denom)


def _adamw(p: Tensor, g: Tensor, s: dict[str, Tensor], h: Hyper) -> None:
    p.mul_((1 - h.lr.double() * ADAMW_DECAY).float())  # decoupled weight decay first
    _adam_update(p, g, s, h)


def _rmsprop(p: Tensor, g: Tensor, s: dict[str, Tensor], h: Hyper) -> None:
    v = s["square_avg"].mul_(RMSPROP_ALPHA).addcmul_(g, g, value=1 - RMSPROP_ALPHA)
    p.add_(-h.lr * g / v.sqrt().add_(RMSPROP_EPS))


def _adagrad(p: Tensor, g: Tensor, s: dict[str, Tensor], h: Hyper) -> None:
    total = s["sum"].addcmul_(g, g)
    p.add_(-h.lr * g / total.sqrt().add_(ADAGRAD_EPS))


OPTIMIZERS: dict[str, UpdateRule] = {
    "sgd": UpdateRule((), _sgd),
    "momentum": UpdateRule(("momentum",), _momentum),
    "nesterov": UpdateRule(("momentum",), _nesterov),
    "adam": UpdateRule(("exp_avg", "exp_avg_sq"), _adam_update),
    "adamw": UpdateRule(("exp_avg", "exp_avg_sq"), _adamw),
    "rmsprop": UpdateRule(("square_avg",), _rmsprop),
    "adagrad": UpdateRule(("sum",), _adagrad),
}

OPTIMIZER_TITLES = {
    "sgd": "SGD",
    "momentum": "SGD + momentum",
    "nesterov": "Nesterov",
    "adam": "Adam",
    "adamw": "AdamW",
    "rmsprop": "RMSprop",
    "adagrad": "Adagrad",
}

# the same optimizers from torch.optim, for the tests' reference runs and for exports
TORCH_OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "sgd": lambda p, lr, m: torch.optim.SGD(p, lr=lr),
    "momentum": lambda p, lr, m: torch.optim.SGD(p, lr=lr, momentum=m),
    "nesterov": lambda p, lr, m: torch.optim.SGD(p, lr=lr, momentum=m, nesterov=True),
    "adam": lambda p, lr, m: torch.optim.Adam(p, lr=lr),
    "adamw": lambda p, lr, m: torch.optim.AdamW(p, lr=lr),
    "rmsprop": lambda p, lr, m: torch.optim.RMSprop(p, lr=lr),
    "adagrad": lambda p, lr, m: torch.optim.Adagrad(p, lr=lr),
}

# factor(epoch, period) -> multiplier of the base learning rate
SCHEDULES: dict[str, Callable[[int, int], float]] = {
    "constant": lambda epoch, period: 1.0,
    "step": lambda epoch, period: 0.5 ** (epoch // period),  # StepLR(period, gamma=0.5)
    "exponential": lambda epoch, period: 0.5 ** (epoch / period),  # half-life of `period`
    "cosine": lambda epoch, period: 0.5 * (1.0 + math.cos(math.pi * epoch / period)),
}
