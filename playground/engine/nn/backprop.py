"""Forward and backward pass of an MLP by hand: the chain rule, layer by layer.

For networks this small, autograd's bookkeeping costs more than the arithmetic,
so training computes gradients here (see ``make bench``). The same code runs one
network (weights ``[out, in]``) or a stack of S networks trained together
(weights ``[S, out, in]``, one batched matrix product per layer). Call these
under ``torch.no_grad()``. The tests check every gradient against autograd and
finite differences.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from playground.engine.nn.activations import ACTIVATIONS

Tensor = torch.Tensor


@dataclass
class Net:
    """The tensors of one network, or of a stack of same-shaped networks."""

    weights: list[Tensor]  # [out, in] or [S, out, in] per layer
    biases: list[Tensor]  # [out] or [S, out]
    activations: tuple[str, ...]  # one per hidden layer


@dataclass
class ForwardPass:
    """What the backward pass needs from the forward pass."""

    layer_inputs: list[Tensor]  # the input of every linear layer
    pre_activations: list[Tensor]  # z of every hidden layer
    activations: list[Tensor]  # a = f(z) of every hidden layer, before dropout
    dropout_masks: list[Tensor | None]  # 0 or 1/(1-p) per unit, None without dropout
    output: Tensor  # raw outputs of the last layer (logits or values)


def _affine(h: Tensor, w: Tensor, b: Tensor) -> Tensor:
    if w.dim() == 2:
        return torch.addmm(b, h, w.t())
    if h.dim() == 2:  # one input (the plane's grid) for every network of a stack
        return torch.matmul(h, w.transpose(1, 2)).add_(b.unsqueeze(1))
    return torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))


def _mm(a: Tensor, b: Tensor) -> Tensor:
    return torch.mm(a, b) if a.dim() == 2 else torch.bmm(a, b)


def forward(net: Net, x: Tensor, masks: Sequence[Tensor | None] | None = None) -> ForwardPass:
    """Forward pass keeping intermediates; ``masks`` (one per hidden layer) apply dropout."""
    inputs, pres, acts, used = [], [], [], []
    h = x
    for i, name in enumerate(net.activations):
        inputs.append(h)
        z = _affine(h, net.weights[i], net.biases[i])
        a = ACTIVATIONS[name].forward(z)
        pres.append(z)
        acts.append(a)
        mask = masks[i] if masks else None
        if mask is not None:
            a = a * mask
        used.append(mask)
        h = a
    inputs.append(h)
    output = _affine(h, net.weights[-1], net.biases[-1])
    return ForwardPass(inputs, pres, acts, used, output)


def backward(net: Net, fp: ForwardPass, d_output: Tensor) -> list[tuple[Tensor, Tensor]]:
    """Gradients (weight, bias) of every layer, given d loss / d output."""
    grads: list[tuple[Tensor, Tensor]] = []
    delta = d_output
    for i in range(len(net.weights) - 1, -1, -1):
        grads.append((_mm(delta.transpose(-1, -2), fp.layer_inputs[i]), delta.sum(dim=-2)))
        if i == 0:
            break
        delta = _mm(delta, net.weights[i])
        if fp.dropout_masks[i - 1] is not None:
            delta = delta * fp.dropout_masks[i - 1]
        delta = delta * ACTIVATIONS[net.activations[i - 1]].derivative(
            fp.pre_activations[i - 1], fp.activations[i - 1])
    grads.reverse()
    return grads


def dropout_mask(shape: tuple[int, ...], rate: float, generator: torch.Generator) -> Tensor:
    """0 or 1/(1-rate) per unit: the inverted dropout that keeps the expected value."""
    keep = torch.full(shape, 1.0 - rate)
    return torch.bernoulli(keep, generator=generator) / (1.0 - rate)


@dataclass(frozen=True)
class Penalty:
    value: Callable[[Sequence[Tensor]], Tensor]  # penalty summed over the weight matrices
    grad: Callable[[Tensor], Tensor]  # its derivative for one weight tensor (rate 1)


# Weight penalties (biases are not penalized), written for a rate of 1.
PENALTIES: dict[str, Penalty | None] = {
    "none": None,
    "l1": Penalty(lambda ws: sum(w.abs().sum() for w in ws), torch.sign),
    "l2": Penalty(lambda ws: 0.5 * sum((w * w).sum() for w in ws), lambda w: w),
}
