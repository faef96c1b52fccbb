"""The multilayer perceptron, built from a Config.

``MLP`` is a plain ``nn.Module`` (so it exports as a state dict and runs under
autograd); the trainer's fast path reads the same weight tensors directly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from playground.activations import ACTIVATIONS


def _uniform_small(weight: torch.Tensor, bias: torch.Tensor, gen: torch.Generator) -> None:
    # the TensorFlow Playground's scheme: weights uniform in [-0.5, 0.5], biases 0.1
    nn.init.uniform_(weight, -0.5, 0.5, generator=gen)
    nn.init.constant_(bias, 0.1)


def _xavier(weight: torch.Tensor, bias: torch.Tensor, gen: torch.Generator) -> None:
    nn.init.xavier_uniform_(weight, generator=gen)
    nn.init.zeros_(bias)


def _he(weight: torch.Tensor, bias: torch.Tensor, gen: torch.Generator) -> None:
    nn.init.kaiming_uniform_(weight, nonlinearity="relu", generator=gen)
    nn.init.zeros_(bias)


INITIALIZERS: dict[str, Callable[[torch.Tensor, torch.Tensor, torch.Generator], None]] = {
    "xavier": _xavier,
    "he": _he,
    "uniform": _uniform_small,
}


class MLP(nn.Module):
    """Linear layers with an activation (and optional dropout) after each hidden one."""

    def __init__(
        self,
        sizes: Sequence[int],
        activations: Sequence[str],
        dropout: Sequence[float],
    ) -> None:
        super().__init__()
        if len(activations) != len(sizes) - 2 or len(dropout) != len(sizes) - 2:
            raise ValueError("one activation and one dropout rate per hidden layer")
        self.sizes = tuple(sizes)
        self.activation_names = tuple(activations)
        self.dropout_rates = tuple(dropout)
        self.layers = nn.ModuleList(nn.Linear(i, o) for i, o in zip(sizes, sizes[1:]))
        self.activations = nn.ModuleList(ACTIVATIONS[name].module() for name in activations)
        self.dropouts = nn.ModuleList(nn.Dropout(rate) for rate in dropout)
        # plain lists: nn.Module attribute lookups cost more than a small matmul
        self._weights = [layer.weight for layer in self.layers]
        self._biases = [layer.bias for layer in self.layers]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer, act, drop in zip(self.layers, self.activations, self.dropouts):
            x = drop(act(layer(x)))
        return self.layers[-1](x)

    def initialize(self, scheme: str, seed: int) -> None:
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for layer in self.layers:
                INITIALIZERS[scheme](layer.weight, layer.bias, gen)

    def weights(self) -> list[torch.Tensor]:
        return self._weights

    def biases(self) -> list[torch.Tensor]:
        return self._biases


def build_model(
    n_inputs: int,
    n_outputs: int,
    hidden: Sequence[int],
    activations: Sequence[str],
    dropout: Sequence[float],
    init: str,
    seed: int,
) -> MLP:
    """A freshly initialized MLP; the same arguments give bit-identical weights."""
    model = MLP([n_inputs, *hidden, n_outputs], activations, dropout)
    model.initialize(init, seed)
    return model
