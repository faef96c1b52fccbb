"""A race or a sweep hosted in a worker: one session whose members train in lockstep.

The worker gives a study as many shares of its time as it has members and sends it
one frame for all of them: each member's new history rows, its newest metrics, and
(for a race) its output over the plane. About once a second the frame carries every
member's exact snapshot, from which a restarted worker resumes the study.
"""

from __future__ import annotations

import time

import torch

from playground.engine.cohort import Cohort
from playground.engine.config import Config
from playground.engine.limits import LIMITS
from playground.engine.own_data import summary_params
from playground.engine.study import Study
from playground.server import protocol as p
from playground.server.frames import FrameBuilder, picture_key, pictures
from playground.server.hosted import MAX_CREDIT, snapshot_due


class HostedStudy:
    def __init__(self, spec: dict) -> None:
        base, _ = Config.from_params(spec["params"])
        study, why = Study.from_params(spec["study"])
        if study is None:
            raise ValueError(why or "no study")
        self.study = study
        self.cohort = Cohort(study.configs(base), epochs=study.epochs,
                             max_epochs=LIMITS.max_epochs_per_run)
        self.generation = int(spec.get("generation", 0))
        self.builders = [FrameBuilder(self.generation) for _ in self.cohort.trainers]
        if spec.get("state"):
            self.cohort.restore(spec["state"])
        self.playing = bool(spec.get("playing")) and not self.cohort.done
        self.owed = 0  # rounds asked for by Step, trained within the worker's time slices
        # a narrating speed (epochs a second) holds the race to it, as it does one network
        self.speed, self.credit, self.last_tick = base.speed, 0.0, time.perf_counter()
        self.dirty, self.next_frame = True, 0.0
        self.snapshot_at, self.snapshot_epoch = 0.0, -1

    @property
    def size(self) -> int:
        return len(self.cohort)

    @property
    def training(self) -> bool:
        return self.playing or self.owed > 0

    # -- commands ----------------------------------------------------------------------
    def play(self) -> None:
        self.playing = not self.cohort.done
        self.credit, self.last_tick = 0.0, time.perf_counter()

    def pause(self) -> None:
        self.playing, self.owed = False, 0
        self.cohort.dissolve()  # every member at the same epoch

    def step(self, epochs: int = 1) -> None:
        self.playing = False
        self.owed = max(1, min(int(epochs), p.MAX_STEP))

    def restart(self) -> None:
        self.owed = 0
        self.cohort.reset()
        self.generation += 1
        for builder in self.builders:
            builder.restart()

    # -- training and frames -------------------------------------------------------------
    def train(self, budget: float) -> None:
        """Train for this share of the worker's slice: a round may span several slices,
        so a study of many shapes never holds the worker (and its other sessions)."""
        limit = None if self.playing else self.owed
        paced = self.playing and self.speed > 0
        if paced:
            now = time.perf_counter()
            self.credit = min(self.credit + (now - self.last_tick) * self.speed, MAX_CREDIT)
            self.last_tick = now
            limit = int(self.credit)
            if limit <= 0:
                return
        rounds = self.cohort.run_for(budget, max_rounds=limit)
        if paced:
            self.credit -= rounds
        self.dirty = True
        if not self.playing:
            self.owed -= rounds
            if self.owed <= 0:
                self.owed = 0
                self.cohort.dissolve()
        if self.cohort.done:
            self.playing, self.owed = False, 0
            self.cohort.dissolve()

    def frame(self) -> dict:
        trainers = self.cohort.trainers
        members = [builder.build(t, self.playing) for builder, t in zip(self.builders, trainers)]
        if self.study.kind == "race":
            self._add_outputs(members)
        else:  # a sweep plots numbers only: no member's points or picture
            for member in members:
                member.pop("points", None)
        first = members[0]
        frame = {"epoch": self.cohort.epoch, "generation": self.generation,
                 "playing": self.playing, "done": self.cohort.done,
                 "metric": first["metric"], "stopped": None, "last": None,
                 "config": summary_params(trainers[0].config), "members": members}
        now = time.perf_counter()
        if self.cohort.epoch != self.snapshot_epoch and snapshot_due(
                self.playing, self.snapshot_at, now):
            frame["state"] = self.cohort.state()
            self.snapshot_at, self.snapshot_epoch = now, self.cohort.epoch
        return frame

    def _add_outputs(self, members: list[dict]) -> None:
        """Each member's output over the plane, same-shaped ones in one batched pass."""
        trainers = self.cohort.trainers
        shapes: dict[tuple, list[int]] = {}
        for i, t in enumerate(trainers):
            shapes.setdefault(picture_key(t), []).append(i)
        with torch.no_grad():
            for indices in shapes.values():
                batch = [trainers[i] for i in indices]
                for i, picture in zip(indices, pictures(batch, [False] * len(batch),
                                                        neurons=False)):
                    members[i]["picture"] = {"boundary": picture["boundary"]}
