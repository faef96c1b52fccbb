"""The TensorFlow Playground's update rule (``src/nn.ts``), one entry beside the optimizers.

Its state is one value per parameter, like any optimizer slot: the summed derivatives
(accErrorDer, accInputDer), how many points they sum (numAccumulatedDers), and the links
L1 carried across zero (isDead). How a Group drives it (the points in their stored order,
an update after every full batch) is described in ``formats/tfplayground.py``.
"""

from __future__ import annotations

import torch

from playground.engine.nn.backprop import Penalty

Tensor = torch.Tensor

INIT = "uniform"  # nn.ts: Link.weight = Math.random() - 0.5, Node.bias = 0.1
# nn.ts's per-link and per-node state, one value per parameter like any optimizer slot: the
# summed derivatives (accErrorDer, accInputDer), how many points they sum
# (numAccumulatedDers), and the links L1 carried across zero (isDead)
SLOTS = ("acc", "count", "dead")


def accumulate(slots: dict[str, Tensor], grad_sum: Tensor, points: int) -> None:
    """backProp of ``points`` points: add their summed derivatives; a dead link adds none."""
    slots["acc"].add_(grad_sum * (1.0 - slots["dead"]))
    slots["count"].add_(points)


def update(params: Tensor, slots: dict[str, Tensor], lr: Tensor, penalty: Penalty | None,
           penalty_rates: Tensor | None, l1: bool) -> None:
    """updateWeights: every parameter moves by the learning rate times its average
    derivative, then every weight by the learning rate times the regularization rate times
    the penalty's derivative at its weight before this update (biases have no penalty). An
    L1 step that carries a weight across zero leaves it at 0 and dead: it never changes again.

    ``params`` and the slots are ``[S, P]``, ``lr`` ``[S, 1]``, ``penalty_rates`` ``[S, P]``
    (the regularization rate on weights, 0 on biases). Call after at least one point."""
    acc, count, dead = slots["acc"], slots["count"], slots["dead"]
    before = params.clone()
    params.sub_(lr / count * acc)
    if penalty is not None and penalty_rates is not None:
        stepped = params - lr * penalty_rates * penalty.grad(before)
        if l1:
            crossed = params * stepped < 0
            stepped = torch.where(crossed, 0.0, stepped)
            dead.copy_(torch.maximum(dead, crossed.to(dead.dtype)))
        params.copy_(stepped)
    acc.zero_()
    count.zero_()


