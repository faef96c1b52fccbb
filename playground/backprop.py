"""Forward and backward pass of an MLP by hand: the chain rule, layer by layer.

For networks this small, autograd's bookkeeping costs more than the arithmetic,
so the trainer computes gradients here (about twice the epochs per second of
``loss.backward()``, see ``make bench``). Call these under ``torch.no_grad()``:
a decorator would cost more than the arithmetic of a small layer. It is also the readable version of
backpropagation that a slow-motion lesson can show step by step. The tests
check every gradient against autograd.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from playground.activations import ACTIVATIONS
from playground.model import MLP

Tensor = torch.Tensor


@dataclass
class ForwardPass:
    """What the backward pass needs from the forward pass."""

    layer_inputs: list[Tensor]  # the input of every linear layer
    pre_activations: list[Tensor]  # z of every hidden layer
    activations: list[Tensor]  # a = f(z) of every hidden layer, before dropout
    dropout_masks: list[Tensor | None]  # 0 or 1/(1-p) per unit, None without dropout
    output: Tensor  # raw outputs of the last layer (logits or values)


def forward(
    model: MLP, x: Tensor, dropout_generator: torch.Generator | None = None
) -> ForwardPass:
    """Forward pass keeping intermediates; dropout only when a generator is given."""
    weights, biases = model.weights(), model.biases()
    inputs, pres, acts, masks = [], [], [], []
    h = x
    for i, name in enumerate(model.activation_names):
        inputs.append(h)
        z = torch.addmm(biases[i], h, weights[i].t())
        a = ACTIVATIONS[name].forward(z)
        pres.append(z)
        acts.append(a)
        rate = model.dropout_rates[i]
        mask = None
        if dropout_generator is not None and rate > 0:
            keep = torch.full_like(a, 1.0 - rate)
            mask = torch.bernoulli(keep, generator=dropout_generator) / (1.0 - rate)
            a = a * mask
        masks.append(mask)
        h = a
    inputs.append(h)
    output = torch.addmm(biases[-1], h, weights[-1].t())
    return ForwardPass(inputs, pres, acts, masks, output)


def backward(model: MLP, fp: ForwardPass, d_output: Tensor) -> list[tuple[Tensor, Tensor]]:
    """Gradients (weight, bias) of every layer, given d loss / d output."""
    weights = model.weights()
    grads: list[tuple[Tensor, Tensor]] = []
    delta = d_output
    for i in range(len(weights) - 1, -1, -1):
        grads.append((delta.t().mm(fp.layer_inputs[i]), delta.sum(dim=0)))
        if i == 0:
            break
        delta = delta.mm(weights[i])
        if fp.dropout_masks[i - 1] is not None:
            delta = delta * fp.dropout_masks[i - 1]
        name = model.activation_names[i - 1]
        delta = delta * ACTIVATIONS[name].derivative(fp.pre_activations[i - 1],
                                                     fp.activations[i - 1])
    grads.reverse()
    return grads


@dataclass(frozen=True)
class Penalty:
    value: Callable[[Sequence[Tensor]], Tensor]  # penalty summed over the weight matrices
    grad: Callable[[Tensor], Tensor]  # its derivative for one weight matrix (rate 1)


# Weight penalties (biases are not penalized), written for a rate of 1.
PENALTIES: dict[str, Penalty | None] = {
    "none": None,
    "l1": Penalty(lambda ws: sum(w.abs().sum() for w in ws), torch.sign),
    "l2": Penalty(lambda ws: 0.5 * sum((w * w).sum() for w in ws), lambda w: w),
}
