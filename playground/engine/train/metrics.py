"""A stack of networks' metrics on their whole training and test sets: one history row
each (losses, metric, weight and gradient norms), whether it is finite, and the full-set
gradient. A Group measures its members with it, a lone Trainer itself as a stack of one."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from playground.engine.nn.backprop import Net, backward, forward
from playground.engine.train.history import NEAR_ZERO


def measure_stack(members: Sequence, net: Net, params: torch.Tensor, full_grad: torch.Tensor,
                  data: tuple[torch.Tensor, ...], objective, head,
                  ahead: int = 0) -> tuple[list[dict], list[bool]]:
    """``members``' rows for epoch + ahead (each has an ``epoch``); ``data`` is the
    stacked (x_train, y_train, x_test, y_test, x_val, y_val); ``params`` and ``full_grad``
    are ``[S, P]``, and ``full_grad`` is overwritten."""
    x_train, y_train, x_test, y_test, x_val, y_val = data
    size = len(members)
    with torch.no_grad():
        fp = forward(net, x_train)
        train_loss = objective.value(fp.output, y_train)
        test_out = forward(net, x_test).output
        test_loss = objective.value(test_out, y_test)
        val_loss = (objective.value(forward(net, x_val).output, y_val).tolist()
                    if x_val.shape[1] else [None] * size)
        near_zero = (torch.cat([w.flatten(1) for w in net.weights], dim=1).abs()
                     < NEAR_ZERO).double().mean(dim=1).tolist()
        finite = (torch.isfinite(train_loss) & torch.isfinite(test_loss)
                  & torch.isfinite(params).all(dim=1)).tolist()
        grads = backward(net, fp, objective.grad(fp.output, y_train))
        full_grad.copy_(torch.cat([t.reshape(size, -1) for pair in grads for t in pair],
                                       dim=1))
        # norms in float64: a float32 sum of squares overflows long before the weights do
        weight_norms = torch.stack([w.double().flatten(1).norm(dim=1)
                                    for w in net.weights], dim=1)
        grad_norms = torch.stack([g.double().flatten(1).norm(dim=1) for g, _ in grads],
                                 dim=1)
        columns = torch.cat([train_loss.double().unsqueeze(1),
                             test_loss.double().unsqueeze(1),
                             head.metric(fp.output, y_train).unsqueeze(1),
                             head.metric(test_out, y_test).unsqueeze(1),
                             weight_norms, grad_norms], dim=1).tolist()
    layers = len(net.weights)
    rows = [{"epoch": m.epoch + ahead, "train_loss": values[0], "test_loss": values[1],
             "train_metric": values[2], "test_metric": values[3],
             "weight_norms": values[4:4 + layers], "grad_norms": values[4 + layers:],
             "val_loss": val, "near_zero": near}
            for m, values, val, near in zip(members, columns, val_loss, near_zero)]
    return rows, finite
