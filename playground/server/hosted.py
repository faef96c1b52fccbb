"""One session as a worker hosts it, and the pace of its frames.

A hosted session is a Trainer and what the worker knows of it: playing or not, the
epochs a slow speed setting owes, when its next frame is due and when its last exact
snapshot was sent. Races and sweeps are hosted alike (``study_host.py``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from playground.engine.train.trainer import Trainer
from playground.server.frames import FrameBuilder

MAX_FPS, MIN_FPS = 40.0, 10.5  # 10.5: a frame late by a cycle still leaves 10/s
FRAME_SHARE = 0.3  # of the worker's time for pictures before frames slow down
SNAPSHOT_EVERY_S = 1.0  # a crashed worker's sessions resume from here
MAX_CREDIT = 1000.0  # epochs a slow speed setting may owe


def frame_rate(frame_cost: float, playing: int) -> float:
    """Frames per second for each session: as many as ``FRAME_SHARE`` of the worker's
    time buys at ``frame_cost`` seconds a frame, within ``MIN_FPS``..``MAX_FPS``."""
    return max(MIN_FPS, min(MAX_FPS, FRAME_SHARE / (frame_cost * max(playing, 1))))


def schedule_next_frame(h, now: float, interval: float) -> None:
    """Keep the cadence (a frame sent late does not push the next one back), but never
    owe a burst of frames after a pause. ``h``: a Hosted or a HostedStudy."""
    cadence = h.next_frame + interval
    h.dirty, h.next_frame = False, cadence if cadence > now else now + interval


def snapshot_due(playing: bool, last_at: float, now: float) -> bool:
    """An exact snapshot about once a second while playing, at once after a change."""
    return not playing or now - last_at >= SNAPSHOT_EVERY_S


@dataclass(eq=False)  # compared by identity
class Hosted:
    trainer: Trainer
    frames: FrameBuilder
    playing: bool = False
    credit: float = 0.0  # epochs a slow speed setting owes
    last_tick: float = field(default_factory=time.perf_counter)
    dirty: bool = True  # something changed that the page has not seen
    next_frame: float = 0.0
    snapshot_at: float = 0.0
    snapshot_of: tuple = ()

    @property
    def speed(self) -> float:
        """Epochs per second the Config asks for; 0: as fast as its share allows."""
        return self.trainer.config.speed

    @property
    def key(self) -> tuple:
        return self.trainer.group_key, self.speed

    def maybe_snapshot(self, frame: dict, now: float) -> None:
        """An exact snapshot about once a second while playing, and after every change."""
        of = (self.trainer.epoch, self.frames.generation, tuple(frame["config"].items()))
        if of != self.snapshot_of and snapshot_due(self.playing, self.snapshot_at, now):
            frame["state"] = self.trainer.state()
            self.snapshot_at, self.snapshot_of = now, of
