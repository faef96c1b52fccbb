"""A cohort: the members of a race or a sweep, trained in lockstep.

Every round trains each member still running by one epoch, so all of them are at
the same epoch whenever someone looks; members of one shape train as one batched
Group (``group.py``), which gives each exactly what it would reach alone. A member
that diverges or stops early drops out; the others go on. A sweep's members stop
at its fixed number of epochs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from playground.engine.config import Config
from playground.engine.group import Group
from playground.engine.training import Trainer


class Cohort:
    def __init__(self, configs: Sequence[Config], epochs: int | None = None,
                 max_epochs: int | None = None) -> None:
        self.trainers = [Trainer(c, max_epochs=max_epochs) for c in configs]
        self.epochs = epochs  # a sweep's length; None: until paused
        self._groups: list[Group] | None = None

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
        """Up to n rounds; returns how many ran (fewer once every member is done)."""
        for done in range(n):
            if not self._round():
                return done
        return n

    def run_for(self, seconds: float) -> int:
        """Rounds until the time budget is spent (at least one)."""
        deadline = time.perf_counter() + seconds
        rounds = 0
        while self._round():
            rounds += 1
            if time.perf_counter() >= deadline:
                break
        return rounds

    def _round(self) -> bool:
        """One epoch for every running member; False when none was running."""
        groups = self._formed()
        if not groups:
            return False
        for group in groups:
            group.run_epochs(1)
        if any(not self.running(t) for g in groups for t in g.members):
            self.dissolve()  # the next round forms its groups from the members still running
        return True

    def _formed(self) -> list[Group]:
        if self._groups is None:
            shapes: dict[tuple, list[Trainer]] = {}
            for t in self.trainers:
                if self.running(t):
                    shapes.setdefault(t.group_key, []).append(t)
            self._groups = [Group(members) for members in shapes.values()]
        return self._groups

    def dissolve(self) -> None:
        """Every member gets its own tensors back (before any member changes)."""
        for group in self._groups or ():
            group.dissolve()
        self._groups = None

    # -- controls and snapshots ----------------------------------------------------------
    def reset(self) -> None:
        """Back to epoch 0, every member from its same initial weights."""
        self.dissolve()
        for t in self.trainers:
            t.reset(keep_init=True)

    def state(self) -> list[dict]:
        self.dissolve()
        return [t.state() for t in self.trainers]

    def restore(self, states: Sequence[dict]) -> None:
        self.dissolve()
        for t, state in zip(self.trainers, states):
            if state.get("config") == t.config.to_params():
                t.restore(state)
