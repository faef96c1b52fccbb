"""Optimizers (real ``torch.optim`` classes) and learning-rate schedules.

Schedules are closed-form factors of the epoch rather than ``lr_scheduler``
objects so that a learning-rate change in the middle of a run applies at once:
the trainer sets ``lr = base_lr * factor(epoch)`` each epoch. Tests check the
factors against torch's own schedulers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch

OptimizerFactory = Callable[[Iterable[torch.Tensor], float, float], torch.optim.Optimizer]


def _fast(cls: type, **kwargs: object) -> Callable[..., torch.optim.Optimizer]:
    """Prefer the fused CPU kernel (one call per step instead of a Python loop)."""

    def make(params: Iterable[torch.Tensor], **more: object) -> torch.optim.Optimizer:
        params = list(params)
        try:
            return cls(params, fused=True, **kwargs, **more)
        except (RuntimeError, TypeError, ValueError):
            return cls(params, foreach=True, **kwargs, **more)

    return make


OPTIMIZERS: dict[str, OptimizerFactory] = {
    "sgd": lambda p, lr, m: _fast(torch.optim.SGD)(p, lr=lr),
    "momentum": lambda p, lr, m: _fast(torch.optim.SGD)(p, lr=lr, momentum=m),
    "nesterov": lambda p, lr, m: _fast(torch.optim.SGD)(p, lr=lr, momentum=m, nesterov=True),
    "adam": lambda p, lr, m: _fast(torch.optim.Adam)(p, lr=lr),
    "adamw": lambda p, lr, m: _fast(torch.optim.AdamW)(p, lr=lr),
    "rmsprop": lambda p, lr, m: torch.optim.RMSprop(p, lr=lr, foreach=True),
    "adagrad": lambda p, lr, m: _fast(torch.optim.Adagrad)(p, lr=lr),
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

# factor(epoch, period) -> multiplier of the base learning rate
SCHEDULES: dict[str, Callable[[int, int], float]] = {
    "constant": lambda epoch, period: 1.0,
    "step": lambda epoch, period: 0.5 ** (epoch // period),  # StepLR(period, gamma=0.5)
    "exponential": lambda epoch, period: 0.5 ** (epoch / period),  # half-life of `period`
    "cosine": lambda epoch, period: 0.5 * (1.0 + math.cos(math.pi * epoch / period)),
}
