"""One session as a worker hosts it: its members, its commands, and the pace of its frames.

A session has N >= 1 members (Trainers): one network, or a race's or a sweep's
members (``Study``). The worker forms the groups that train them (``worker.py``); a
hosted session holds what the worker knows of it: playing or not, the epochs a Step
still owes, the epochs a slow speed setting owes, when its next frame is due and when
its last exact snapshot was sent.

The members of a study stay level: its groups train behind-first, one epoch at a time,
so every member is at the same epoch, or one apart while a round is under way. A member
that diverges or stops early drops out; the others go on. A sweep's members stop at its
fixed number of epochs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from playground.engine.config.config import Config
from playground.engine.config.limits import LIMITS
from playground.engine.teaching.study import Study
from playground.engine.train.group import Group, train_epochs
from playground.engine.train.trainer import Trainer, unpack
from playground.server import protocol as p
from playground.server.frames import FrameBuilder

MAX_FPS, MIN_FPS = 60.0, 10.5  # 60: the TF Playground's rate; 10.5: a late frame still leaves 10/s
# of the worker's time for frames before they slow down; the server spends about as much
# again relaying them. A class of 30 on 2 cores: at 0.3, 35-47 frames a second and 112-122
# epochs/s each; at 0.15, 15-22 frames and 173-181 epochs/s (one visitor still gets 60)
FRAME_SHARE = 0.15
SNAPSHOT_EVERY_S = 1.0  # a crashed worker's sessions resume from here
MAX_CREDIT = 1000.0  # epochs a slow speed setting may owe


def frame_rate(frame_cost: float, playing: int) -> float:
    """Frames per second for each session: as many as ``FRAME_SHARE`` of the worker's
    time buys at ``frame_cost`` seconds a frame, within ``MIN_FPS``..``MAX_FPS``."""
    return max(MIN_FPS, min(MAX_FPS, FRAME_SHARE / (frame_cost * max(playing, 1))))


@dataclass(eq=False)  # compared by identity
class Hosted:
    members: list[Trainer]
    builders: list[FrameBuilder]
    study: Study | None = None
    playing: bool = False
    target: int | None = None  # a study's Step: the epoch its members train up to
    credit: float = 0.0  # epochs a slow speed setting owes
    last_tick: float = field(default_factory=time.perf_counter)
    dirty: bool = True  # something changed that the page has not seen
    next_frame: float = 0.0
    snapshot_at: float = 0.0
    snapshot_of: tuple = ()
    shows_stats: bool = True  # the page shows the histograms and confusion (protocol.VIEW)
    shows_neurons: bool = True  # ... and the neurons' thumbnails

    @classmethod
    def open(cls, spec: dict) -> Hosted:
        """A session from the server's open spec (``Session.open_spec``): one network from
        its Config, or a study's members; each resumes from its own snapshot if it fits."""
        base, _ = Config.from_params(spec["params"])
        study = None
        if spec.get("study"):
            study, why = Study.from_params(spec["study"])
            if study is None:
                raise ValueError(why or "no study")
        configs = study.configs(base) if study else [base]
        members = [Trainer(c, max_epochs=LIMITS.max_epochs_per_run) for c in configs]
        for trainer, state in zip(members, spec.get("state") or []):
            if state.get("config") == trainer.config.to_params():
                trainer.restore(state)
        generation = int(spec.get("generation", 0))
        hosted = cls(members, [FrameBuilder(generation) for _ in members], study)
        hosted.playing = bool(spec.get("playing")) and hosted.running_any
        return hosted

    # -- reading -----------------------------------------------------------------------
    @property
    def size(self) -> int:
        return len(self.members)

    @property
    def level(self) -> bool:
        """Whether the members must stay level (a study), rather than each training in
        whatever group its shape and speed put it."""
        return self.study is not None

    @property
    def speed(self) -> float:
        """Epochs per second the Config asks for (a study's too: a race in a lesson is
        narrated); 0: as fast as its share allows."""
        return self.members[0].config.speed

    @property
    def epoch(self) -> int:
        """The session's epoch: its furthest member's."""
        return max(t.epoch for t in self.members)

    def running(self, trainer: Trainer) -> bool:
        epochs = self.study.epochs if self.study else None
        return not trainer.stopped and (epochs is None or trainer.epoch < epochs)

    @property
    def running_any(self) -> bool:
        return any(self.running(t) for t in self.members)

    @property
    def training(self) -> bool:
        return self.playing or self.target is not None

    def trains(self, trainer: Trainer) -> bool:
        """Whether this member trains now."""
        return self.training and self.running(trainer) and (
            self.target is None or trainer.epoch < self.target)

    def trainees(self) -> list[Trainer]:
        return [t for t in self.members if self.trains(t)]

    # -- commands (the worker has released the session from its groups first) ----------
    def view(self, stats: bool, neurons: bool) -> None:
        """What the page shows (its frames leave out the rest; it changes no training)."""
        self.shows_stats, self.shows_neurons = stats, neurons

    def play(self) -> None:
        self.playing = self.running_any
        self.credit, self.last_tick = 0.0, time.perf_counter()

    def pause(self) -> None:
        self.playing, self.target = False, None
        self.even_out()

    def step(self, epochs: int = 1) -> None:
        self.playing = False
        epochs = max(1, min(int(epochs), p.MAX_STEP))
        if self.level:  # trained within the worker's slices, group by group
            self.target = self.epoch + epochs
        else:
            train_epochs(self.members[0], epochs)

    def restart(self) -> None:
        self.target = None
        for trainer, builder in zip(self.members, self.builders):
            trainer.reset(keep_init=True)
            builder.restart()

    def config(self, params: dict) -> None:
        """New settings for one network (a study's are fixed: ignored)."""
        if self.level:
            return
        config, _ = Config.from_params(params)
        trainer = self.members[0]
        if config.speed != trainer.config.speed:
            self.credit, self.last_tick = 0.0, time.perf_counter()
        if trainer.apply_config(config):
            self.builders[0].restart()
        self.playing = self.playing and not trainer.stopped

    def set_param(self, kind: str, layer: int, to: int, frm: int, value: float) -> None:
        """One weight or bias, typed in on the drawing; only while paused, and only one
        that exists (anything else is ignored, as a stale click may be)."""
        if self.level or self.playing:
            return
        trainer = self.members[0]
        sizes = trainer.layout.sizes
        if not 0 <= layer < len(sizes) - 1 or not 0 <= to < sizes[layer + 1]:
            return
        if kind == "weight" and not 0 <= frm < sizes[layer]:
            return
        trainer.set_param(kind, layer, to, frm, value)

    def load(self, packed: str) -> None:
        """Imported weights (checked against the Config by the page): epoch 0 from them.
        Weights that no longer fit (the network changed since) are ignored."""
        if self.level:
            return
        trainer = self.members[0]
        try:
            params = unpack(packed, trainer.layout.size)
        except ValueError:
            return
        trainer.load_params(params)
        self.playing = False
        self.builders[0].restart()

    # -- training a study level -------------------------------------------------------------
    def train_level(self, groups: list[Group], seconds: float) -> bool:
        """Train this study's groups behind-first, one epoch at a time, until the time is
        spent (at least one group's epoch): a study of many shapes never holds its worker
        longer than that. Returns whether its groups must form anew (a member stopped,
        or a Step is done)."""
        now = time.perf_counter()
        deadline, paced = now + seconds, self.playing and self.speed > 0
        start = min(t.epoch for g in groups for t in g.members)
        target = None
        if paced:  # a narrating speed holds the study to it, as it does one network
            self.credit = min(self.credit + (now - self.last_tick) * self.speed, MAX_CREDIT)
            self.last_tick = now
            target = start + int(self.credit)
        regroup = False
        while True:
            behind = min(groups, key=lambda g: min(t.epoch for t in g.members))
            if target is not None and min(t.epoch for t in behind.members) >= target:
                break  # the rounds this speed owes are done
            behind.run_epochs(1)
            if not all(self.trains(t) for t in behind.members):
                regroup = True
                break
            if time.perf_counter() >= deadline:
                break
        if paced:
            self.credit -= min(t.epoch for g in groups for t in g.members) - start
        return regroup

    def even_out(self) -> None:
        """Every running member at the session's epoch again (a study paused mid-round)."""
        if not self.level:
            return
        epoch = self.epoch
        behind = [t for t in self.members if self.running(t) and t.epoch < epoch]
        shapes: dict[tuple, list[Trainer]] = {}
        for t in behind:
            shapes.setdefault(t.group_key, []).append(t)
        for members in shapes.values():
            with Group(members) as group:
                group.run_epochs(epoch - members[0].epoch)

    def settle(self) -> None:
        """After training: a Step that is done ends; a study with no member running stops."""
        if self.target is not None and not self.trainees():
            self.target = None
            self.even_out()
        if not self.running_any:
            self.playing, self.target = False, None

    # -- frames ---------------------------------------------------------------------------
    @property
    def picture_parts(self) -> str | None:
        """What each member's picture holds: everything for one network ("network": the
        same, less the neurons' thumbnails, while its page does not show them), the output
        for a race's cards, nothing for a sweep (it plots numbers only)."""
        if not self.level:
            return "all" if self.shows_neurons else "network"
        return "output" if self.study.kind == "race" else None

    def frame(self, pictures: list | None, now: float, interval: float) -> dict:
        """The session's frame: one network's at the top, or its members' side by side;
        about once a second (and after every change) every member's exact snapshot."""
        pictures = pictures or [None] * self.size
        updates = [builder.build(t, self.playing, picture)
                   for builder, t, picture in zip(self.builders, self.members, pictures)]
        if self.level:
            if self.picture_parts is None:
                for update in updates:
                    update.pop("points", None)
            first = self.members[0]
            frame = {"epoch": self.epoch, "generation": self.builders[0].generation,
                     "playing": self.playing, "done": not self.running_any,
                     "metric": first.head.metric_name, "stopped": None, "last": None,
                     "config": self.builders[0].config_params(first), "members": updates}
        else:
            frame = updates[0]
        of = (tuple(t.epoch for t in self.members), self.builders[0].generation,
              tuple(frame["config"].items()))
        if of != self.snapshot_of and (
                not self.playing or now - self.snapshot_at >= SNAPSHOT_EVERY_S):
            frame["state"] = [t.state() for t in self.members]
            self.snapshot_at, self.snapshot_of = now, of
        # keep the cadence (a frame sent late does not push the next one back), but never
        # owe a burst of frames after a pause; a big study's frames come less often
        interval *= 1 + self.size // 4 if self.level else 1
        cadence = self.next_frame + interval
        self.dirty, self.next_frame = False, cadence if cadence > now else now + interval
        return frame
