"""The multilayer perceptron's parameters: their flat layout, initial values and module.

Training keeps every parameter of a network in one flat vector (weights of
layer 1, its biases, weights of layer 2, ...), so many networks of one shape
stack into a single ``[S, P]`` tensor and an optimizer step is a few
element-wise operations for all of them. ``ParamLayout`` gives the per-layer
views. ``MLP`` is the same network as a plain ``nn.Module`` for autograd (the
tests' reference) and for exports.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from playground.engine.nn.activations import ACTIVATIONS
from playground.engine.nn.backprop import Net


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


def _zeros(weight: torch.Tensor, bias: torch.Tensor, gen: torch.Generator) -> None:
    # a lesson's counter-example: every neuron of a layer starts equal and gets an equal
    # gradient, so nothing tells them apart (with tanh the gradients are all zero)
    nn.init.zeros_(weight)
    nn.init.zeros_(bias)


INITIALIZERS: dict[str, Callable[[torch.Tensor, torch.Tensor, torch.Generator], None]] = {
    "xavier": _xavier,
    "he": _he,
    "uniform": _uniform_small,
    "zeros": _zeros,
}


class ParamLayout:
    """Where each layer's weights ``[out, in]`` and biases ``[out]`` sit in the flat vector."""

    def __init__(self, sizes: Sequence[int]) -> None:
        self.sizes = tuple(int(n) for n in sizes)
        self.spans: list[tuple[int, int, int]] = []  # (weights start, biases start, end)
        offset = 0
        for n_in, n_out in zip(self.sizes, self.sizes[1:]):
            self.spans.append((offset, offset + n_in * n_out, offset + n_in * n_out + n_out))
            offset += n_in * n_out + n_out
        self.size = offset
        mask = torch.zeros(self.size)
        for start, bias_start, _ in self.spans:
            mask[start:bias_start] = 1.0
        self.weight_mask = mask  # 1 on weights, 0 on biases: penalties skip the biases

    def split(self, flat: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Views of ``flat`` (``[P]`` or ``[S, P]``): weights and biases per layer."""
        lead = flat.shape[:-1]
        weights, biases = [], []
        for (start, bias_start, end), n_in, n_out in zip(self.spans, self.sizes, self.sizes[1:]):
            weights.append(flat[..., start:bias_start].view(*lead, n_out, n_in))
            biases.append(flat[..., bias_start:end])
        return weights, biases


def init_params(layout: ParamLayout, scheme: str, seed: int) -> torch.Tensor:
    """A fresh flat parameter vector; the same arguments give bit-identical weights."""
    gen = torch.Generator().manual_seed(seed)
    flat = torch.empty(layout.size)
    with torch.no_grad():
        for weight, bias in zip(*layout.split(flat)):
            INITIALIZERS[scheme](weight, bias, gen)
    return flat


class MLP(nn.Module):
    """Linear layers with an activation (and optional dropout) after each hidden one."""

    def __init__(self, sizes: Sequence[int], activations: Sequence[str],
                 dropout: Sequence[float]) -> None:
        super().__init__()
        if len(activations) != len(sizes) - 2 or len(dropout) != len(sizes) - 2:
            raise ValueError("one activation and one dropout rate per hidden layer")
        self.activation_names = tuple(activations)
        self.layers = nn.ModuleList(nn.Linear(i, o) for i, o in zip(sizes, sizes[1:]))
        self.activations = nn.ModuleList(ACTIVATIONS[name].module() for name in activations)
        self.dropouts = nn.ModuleList(nn.Dropout(rate) for rate in dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer, act, drop in zip(self.layers, self.activations, self.dropouts):
            x = drop(act(layer(x)))
        return self.layers[-1](x)

    def weights(self) -> list[torch.Tensor]:
        return [layer.weight for layer in self.layers]

    def net(self) -> Net:
        """The same tensors for the hand-written passes (``backprop``)."""
        return Net([layer.weight for layer in self.layers], [layer.bias for layer in self.layers],
                   self.activation_names)

    @classmethod
    def from_flat(cls, layout: ParamLayout, activations: Sequence[str],
                  dropout: Sequence[float], flat: torch.Tensor) -> MLP:
        model = cls(layout.sizes, activations, dropout)
        with torch.no_grad():
            for layer, w, b in zip(model.layers, *layout.split(flat)):
                layer.weight.copy_(w)
                layer.bias.copy_(b)
        return model
