"""A group: same-shaped Trainers trained as one batched computation.

Tiny networks are bound by per-call overhead, not arithmetic, so S networks of
one shape cost about what one does when their tensors are stacked: weights
``[S, out, in]`` through ``baddbmm``/``bmm``, and each optimizer step a few
element-wise operations on the ``[S, P]`` parameter stack. Networks with different
optimizers share a group: the members are sorted by optimizer, and each optimizer's
slice of rows takes its own update (a race of optimizers is one computation). Every
member keeps
its own data, initial weights, learning rate, momentum, penalty rate, dropout
rates, generator and epoch, and ends with exactly the weights it would have
reached alone (the tests check this against a group of one and against
``torch.optim``).

While a group lives, its members' tensors are views into the stacks; leaving
the group (``dissolve``, or the end of a ``with`` block) gives each member its
own copy again. Change a member only outside a group.

Members with ``tf_math`` train as the TensorFlow Playground does (``tfplayground.py``):
the points in their stored order, TF's update after every full batch, a leftover partial
batch carried over to the next epoch; ``group_key`` keeps them apart from the others.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence

import torch

from playground.engine.nn import tf_rule
from playground.engine.nn.backprop import Net, backward, dropout_mask, forward
from playground.engine.nn.optimizers import OPTIMIZERS, Hyper, UpdateRule
from playground.engine.train.metrics import measure_stack
from playground.engine.train.trainer import Trainer


class Group:
    def __init__(self, members: Sequence[Trainer]) -> None:
        # each optimizer's members side by side: its rows of the stacks are one slice
        self.members = sorted(members, key=lambda m: m.config.optimizer)
        first = self.members[0]
        if any(m.group_key != first.group_key for m in self.members):
            raise ValueError("a group's members must share one shape")
        c = first.config
        self.params = self._stack("params")
        self.last_good = self._stack("last_good")
        self.full_grad = self._stack("full_grad")
        self.steps = self._stack("steps")
        self.parts = self._parts(c.tf_math)
        self.slots = self.parts[0][2]  # TF math's sums (it has one part)
        self.x_train = torch.stack([m.x_train for m in self.members])
        self.y_train = torch.stack([m.y_train for m in self.members])
        self.x_val = torch.stack([m.x_val for m in self.members])
        self.y_val = torch.stack([m.y_val for m in self.members])
        self.x_test = torch.stack([m.x_test for m in self.members])
        self.y_test = torch.stack([m.y_test for m in self.members])
        self.rows = torch.arange(len(self.members)).unsqueeze(1)
        self.layout = first.layout
        weights, biases = self.layout.split(self.params)
        self.net = Net(weights, biases, c.activation)
        self.tf_math = c.tf_math
        self.l1 = c.regularization == "l1"
        self.objective, self.head, self.penalty = first.objective, first.head, first.penalty
        self.batch = min(c.batch_size, self.x_train.shape[1])
        self.dropout_layers = [i for i, rate in enumerate(c.dropout) if rate > 0]
        self.momentum = self._column([m.config.momentum for m in self.members])
        self.penalty_rates = (self._column([m.config.reg_rate for m in self.members])
                              * self.layout.weight_mask) if self.penalty else None

    def _parts(self, tf_math: bool) -> list[tuple[UpdateRule | None, slice, dict]]:
        """(update rule, rows, state vectors stacked) per optimizer: networks with other
        optimizers train together and each slice of rows takes its own update."""
        parts, start = [], 0
        # TF math has no optimizer to choose (one part: its sums)
        by_rule = (lambda m: None) if tf_math else (lambda m: m.config.optimizer)
        for name, run in itertools.groupby(self.members, key=by_rule):
            run = list(run)
            slots = {slot: torch.stack([m.slots[slot] for m in run]) for slot in run[0].slots}
            for i, m in enumerate(run):
                m.slots = {slot: stack[i] for slot, stack in slots.items()}
            parts.append((None if name is None else OPTIMIZERS[name],
                          slice(start, start + len(run)), slots))
            start += len(run)
        return parts

    def _stack(self, name: str) -> torch.Tensor:
        stack = torch.stack([getattr(m, name) for m in self.members])
        for i, m in enumerate(self.members):
            setattr(m, name, stack[i])
        return stack

    @staticmethod
    def _column(values: list[float]) -> torch.Tensor:
        return torch.tensor(values, dtype=torch.float32).unsqueeze(1)

    def dissolve(self) -> None:
        """Every member gets its own tensors back (copies of its rows)."""
        for m in self.members:
            for name in ("params", "last_good", "full_grad", "steps"):
                setattr(m, name, getattr(m, name).clone())
            m.slots = {name: value.clone() for name, value in m.slots.items()}
        self.members = []

    def __enter__(self) -> Group:
        return self

    def __exit__(self, *exc: object) -> None:
        self.dissolve()

    # -- training ----------------------------------------------------------------------
    def run_epochs(self, n: int) -> int:
        """Train every member up to n epochs; stops early once any member stops (the
        caller then regroups the others). Returns the epochs run."""
        with torch.no_grad():
            for done in range(n):
                self._epoch()
                if any(m.stopped for m in self.members):
                    return done + 1
        return n

    def run_for(self, seconds: float, max_epochs: int | None = None) -> int:
        """Whole epochs until the time budget is spent (at least one)."""
        deadline = time.perf_counter() + seconds
        done = 0
        while max_epochs is None or done < max_epochs:
            done += self.run_epochs(1)
            if any(m.stopped for m in self.members) or time.perf_counter() >= deadline:
                break
        return done

    def _epoch(self) -> None:
        if self.tf_math:
            self._tf_epoch()
            return
        n = self.x_train.shape[1]
        lr = self._column([m.learning_rate for m in self.members])
        updates = [(rule.step, rows, slots, Hyper(lr[rows], self.momentum[rows], self.steps[rows]))
                   for rule, rows, slots in self.parts]
        orders = torch.stack([torch.randperm(n, generator=m.generator) for m in self.members])
        xs, ys = self.x_train[self.rows, orders], self.y_train[self.rows, orders]
        for start in range(0, n, self.batch):
            g = self._gradient(xs[:, start:start + self.batch], ys[:, start:start + self.batch])
            if self.penalty_rates is not None:
                g = g + self.penalty.grad(self.params) * self.penalty_rates
            self.steps += 1
            for step, rows, slots, hyper in updates:  # slices of rows: views, no copies
                step(self.params[rows], g[rows], slots, hyper)
        self._record()

    def _tf_epoch(self) -> None:
        """TF's oneStep: the points in their stored order, an update after every
        batch_size-th point of the epoch; a leftover partial batch stays in the sums."""
        n = self.x_train.shape[1]
        lr = self._column([m.learning_rate for m in self.members])
        for start in range(0, n, self.batch):
            batch = slice(start, start + self.batch)
            xb, yb = self.x_train[:, batch], self.y_train[:, batch]
            points = xb.shape[1]
            # the loss's gradient is the batch's mean; TF sums and averages at its update
            tf_rule.accumulate(self.slots, self._gradient(xb, yb) * points, points)
            if points == self.batch:
                self.steps += 1
                tf_rule.update(self.params, self.slots, lr, self.penalty,
                                    self.penalty_rates, self.l1)
        self._record()

    def _gradient(self, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        """``[S, P]``: each member's gradient of its mean loss over this batch."""
        fp = forward(self.net, xb, self._dropout_masks(xb.shape[1]))
        grads = backward(self.net, fp, self.objective.grad(fp.output, yb))
        return torch.cat([t.reshape(len(self.members), -1) for pair in grads for t in pair],
                         dim=1)

    def _dropout_masks(self, batch: int) -> list[torch.Tensor | None] | None:
        if not self.dropout_layers:
            return None
        masks: list[torch.Tensor | None] = [None] * len(self.net.activations)
        for layer in self.dropout_layers:
            shape = (batch, self.layout.sizes[layer + 1])
            masks[layer] = torch.stack([dropout_mask(shape, m.config.dropout[layer], m.generator)
                                        for m in self.members])
        return masks

    def _record(self) -> None:
        """Book the epoch just trained; a member whose loss or weights are no longer
        finite gets its last finite weights back and stops."""
        rows, finite = self.measure(ahead=1)
        if not all(finite):
            keep = torch.tensor(finite).unsqueeze(1)
            self.params.copy_(torch.where(keep, self.params, self.last_good))
        self.last_good.copy_(self.params)
        for m, row, ok in zip(self.members, rows, finite):
            m.finish_epoch(row if ok else None)
        restored = [(i, best) for i, m in enumerate(self.members)
                    if (best := m.best_weights_due()) is not None]
        if restored:  # early stopping put the best epoch's weights back: measure them
            for i, best in restored:
                self.params[i].copy_(best)
                self.last_good[i].copy_(best)
            rows, _ = self.measure()
            for i, _ in restored:
                self.members[i].history.last = rows[i] | {"epoch": self.members[i].epoch}

    def measure(self, ahead: int = 0) -> tuple[list[dict], list[bool]]:
        """Each member's metrics on its whole training and test sets (a history row for
        epoch + ahead), whether they are finite, and its full-set gradient."""
        return measure_stack(self.members, self.net, self.params, self.full_grad,
                             (self.x_train, self.y_train, self.x_test, self.y_test, self.x_val,
                              self.y_val),
                             self.objective, self.head, ahead)


def train_epochs(trainer: Trainer, n: int = 1) -> int:
    """Train one network alone (a group of one) up to n epochs; returns how many ran
    (fewer once training stops)."""
    if trainer.stopped or n <= 0:
        return 0
    with Group([trainer]) as group:
        return group.run_epochs(n)


def train_seconds(trainer: Trainer, seconds: float, max_epochs: int | None = None) -> int:
    """Train one network alone for whole epochs until the time budget is spent."""
    if trainer.stopped:
        return 0
    with Group([trainer]) as group:
        return group.run_for(seconds, max_epochs)
