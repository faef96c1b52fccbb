"""A cohort: the members of a race or a sweep, trained in lockstep.

Every round trains each member still running by one epoch, so all of them are at
the same epoch, or one apart while a round is under way; members of one shape train as
one batched Group (``group.py``), which gives each exactly what it would reach alone.
A round may be split over several time budgets (group by group): a study of many
shapes never holds its worker longer than one group's epoch. A member
that diverges or stops early drops out; the others go on. A sweep's members stop
at its fixed number of epochs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from playground.engine.config.config import Config
from playground.engine.train.group import Group
from playground.engine.train.trainer import Trainer


class Cohort:
    def __init__(self, configs: Sequence[Config], epochs: int | None = None,
                 max_epochs: int | None = None) -> None:
        self.trainers = [Trainer(c, max_epochs=max_epochs) for c in configs]
        self.epochs = epochs  # a sweep's length; None: until paused
        self._groups: list[Group] | None = None
        self._pending: list[Group] = []  # the groups yet to train in the current round

    def __len__(self) -> int:
        return len(self.trainers)

    def running(self, trainer: Trainer) -> bool:
        return not trainer.stopped and (self.epochs is None or trainer.epoch < self.epochs)

    @property
    def done(self) -> bool:
        return not any(self.running(t) for t in self.trainers)

    @property
    def epoch(self) -> int:
        """The round the cohort is at: the furthest member's epoch."""
        return max(t.epoch for t in self.trainers)

    # -- training ----------------------------------------------------------------------
    def run_epochs(self, n: int) -> int:
        """Up to n whole rounds; returns how many ran (fewer once every member is done)."""
        return self.run_for(float("inf"), max_rounds=n)

    def run_for(self, seconds: float, max_rounds: int | None = None) -> int:
        """Train group by group until the time budget is spent (at least one group's
        epoch) or ``max_rounds`` rounds are complete; returns the rounds completed."""
        deadline = time.perf_counter() + seconds
        rounds = 0
        while max_rounds is None or rounds < max_rounds:
            if not self._pending:
                self._pending = list(self._formed())
                if not self._pending:
                    break  # every member is done
            group = self._pending.pop(0)
            group.run_epochs(1)
            if not self._pending:
                rounds += 1
                self._end_round()
            if time.perf_counter() >= deadline:
                break
        return rounds

    def _end_round(self) -> None:
        if any(not self.running(t) for g in self._groups or () for t in g.members):
            self._release()  # the next round forms its groups from the members still running

    def _formed(self) -> list[Group]:
        if self._groups is None:
            shapes: dict[tuple, list[Trainer]] = {}
            for t in self.trainers:
                if self.running(t):
                    shapes.setdefault(t.group_key, []).append(t)
            self._groups = [Group(members) for members in shapes.values()]
        return self._groups

    def dissolve(self) -> None:
        """Every member at the same epoch again, with its own tensors back (before a
        snapshot or a change)."""
        while self._pending:  # the groups the current round still owes
            self._pending.pop(0).run_epochs(1)
        self._release()

    def _release(self) -> None:
        for group in self._groups or ():
            group.dissolve()
        self._groups = None

    # -- controls and snapshots ----------------------------------------------------------
    def reset(self) -> None:
        """Back to epoch 0, every member from its same initial weights."""
        self._pending = []
        self.dissolve()
        for t in self.trainers:
            t.reset(keep_init=True)

    def state(self) -> list[dict]:
        self.dissolve()
        return [t.state() for t in self.trainers]

    def restore(self, states: Sequence[dict]) -> None:
        self._pending = []
        self.dissolve()
        for t, state in zip(self.trainers, states):
            if state.get("config") == t.config.to_params():
                t.restore(state)
