"""Activation functions: the forward map, its derivative, and the torch module.

The derivative is written by hand because the trainer's fast path does its own
backward pass (autograd bookkeeping costs more than the arithmetic for nets this
small); tests check every derivative against autograd.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

LEAKY_SLOPE = 0.01


@dataclass(frozen=True)
class Activation:
    forward: Callable[[torch.Tensor], torch.Tensor]
    # d activation / d pre-activation, given the pre-activation z and the output a
    derivative: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    module: Callable[[], nn.Module]
    title: str


def _gelu_derivative(z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    cdf = 0.5 * (1.0 + torch.erf(z * (1.0 / math.sqrt(2.0))))
    pdf = torch.exp(-0.5 * z * z) * (1.0 / math.sqrt(2.0 * math.pi))
    return cdf + z * pdf


def _silu_derivative(z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    s = torch.sigmoid(z)
    return s * (1.0 + z * (1.0 - s))


ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation(torch.relu, lambda z, a: (z > 0).to(z.dtype), nn.ReLU, "ReLU"),
    "tanh": Activation(torch.tanh, lambda z, a: 1.0 - a * a, nn.Tanh, "Tanh"),
    "sigmoid": Activation(torch.sigmoid, lambda z, a: a * (1.0 - a), nn.Sigmoid, "Sigmoid"),
    "linear": Activation(lambda z: z, lambda z, a: torch.ones_like(z), nn.Identity, "Linear"),
    "leaky_relu": Activation(
        lambda z: F.leaky_relu(z, LEAKY_SLOPE),
        lambda z, a: torch.where(z > 0, 1.0, LEAKY_SLOPE).to(z.dtype),
        lambda: nn.LeakyReLU(LEAKY_SLOPE),
        "Leaky ReLU",
    ),
    "elu": Activation(F.elu, lambda z, a: torch.where(z > 0, 1.0, a + 1.0), nn.ELU, "ELU"),
    "gelu": Activation(F.gelu, _gelu_derivative, nn.GELU, "GELU"),
    "silu": Activation(F.silu, _silu_derivative, nn.SiLU, "SiLU"),
    "softplus": Activation(F.softplus, lambda z, a: torch.sigmoid(z), nn.Softplus, "Softplus"),
}
