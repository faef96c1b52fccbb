"""The loop that hosts one session's Trainer, in a trainer process (or a thread).

It obeys commands from a connection (play, pause, step, reset, config, speed,
close), trains by a time budget while playing, and sends frames at most
``FRAME_RATE`` times a second, so epochs per second never wait on drawing.
It exits when told to, or when the other end of the connection goes away.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection

import torch

from playground.config import Config
from playground.frames import FrameBuilder
from playground.limits import LIMITS
from playground.training import Trainer

FRAME_RATE = 40.0
IDLE_POLL_S = 0.5
STATE_EVERY = 20  # frames between exact snapshots of the weights (a crash restarts there)


class SessionLoop:
    def __init__(self, conn: Connection, params: dict[str, str],
                 resume: dict | None = None) -> None:
        torch.set_num_threads(1)
        self.conn = conn
        config, _ = Config.from_params(params)
        self.trainer = Trainer(config, max_epochs=LIMITS.max_epochs_per_run)
        if resume:
            self.trainer.restore(resume)
        self.frames = FrameBuilder()
        self.playing = False
        self.speed = 0.0  # epochs per second; 0 means as fast as possible
        self.credit = 0.0  # epochs owed to a slow speed setting
        self.dirty = True  # something changed that the page has not seen
        self.running = True
        self.handlers: dict[str, Callable[..., None]] = {
            "play": self.play, "pause": self.pause, "step": self.step, "reset": self.reset,
            "config": self.config, "speed": self.set_speed, "close": self.close,
        }

    # -- commands ------------------------------------------------------------------------
    def play(self) -> None:
        self.playing = not self.trainer.stopped
        self.credit, self.last_tick = 0.0, time.perf_counter()

    def pause(self) -> None:
        self.playing = False

    def step(self, epochs: int = 1) -> None:
        self.playing = False
        self.trainer.step_epochs(max(1, int(epochs)))

    def reset(self, keep_init: bool = True) -> None:
        self.trainer.reset(keep_init=keep_init)
        self.frames.restart()

    def config(self, params: dict[str, str]) -> None:
        config, _ = Config.from_params(params)
        if self.trainer.apply_config(config):
            self.frames.restart()

    def set_speed(self, epochs_per_second: float) -> None:
        self.speed = max(0.0, float(epochs_per_second))
        self.credit, self.last_tick = 0.0, time.perf_counter()

    def close(self) -> None:
        self.running = False

    # -- loop --------------------------------------------------------------------------
    def run(self) -> None:
        next_frame = time.perf_counter()
        self.last_tick = next_frame
        while self.running:
            busy = self.playing or self.dirty
            if self.conn.poll(0 if busy else IDLE_POLL_S):
                self.handle_commands()
                continue
            now = time.perf_counter()
            if self.playing:
                self.train_until(next_frame)
            now = time.perf_counter()
            if self.dirty and now >= next_frame:
                self.send_frame()
                next_frame = now + 1.0 / FRAME_RATE
            elif not self.playing and self.dirty:
                time.sleep(max(0.0, next_frame - now))

    def handle_commands(self) -> None:
        while self.running and self.conn.poll():
            # commands are JSON, never pickles: [name, [args...]]
            try:
                name, args = json.loads(self.conn.recv_bytes())
                self.handlers[name](*args)
            except (KeyError, TypeError, ValueError) as error:
                # a malformed command is dropped; the session goes on
                print(f"playground: ignored a malformed command: {error!r}", file=sys.stderr)
            self.dirty = True

    def train_until(self, deadline: float) -> None:
        budget = max(deadline - time.perf_counter(), 0.002)
        if self.speed <= 0:
            ran = self.trainer.train_for(budget)
        else:
            now = time.perf_counter()
            self.credit = min(self.credit + (now - self.last_tick) * self.speed, 1000.0)
            self.last_tick = now
            owed = int(self.credit)
            ran = self.trainer.step_epochs(owed) if owed else 0
            self.credit -= owed
            if not ran:
                time.sleep(min(budget, 0.01))
        if self.trainer.stopped:
            self.playing = False
        self.dirty = self.dirty or ran > 0 or not self.playing

    def send_frame(self) -> None:
        frame = self.frames.build(self.trainer, self.playing)
        if self.frames.pictures % STATE_EVERY == 1:  # the first frame, then every 20th
            frame["state"] = self.trainer.state()
        self.conn.send_bytes(json.dumps(frame, separators=(",", ":")).encode())
        self.dirty = False


def serve(conn: Connection, params: dict[str, str], resume: dict | None = None) -> None:
    """Entry point of a trainer process or thread."""
    try:
        SessionLoop(conn, params, resume).run()
    except (EOFError, BrokenPipeError, ConnectionResetError):
        pass  # the page's side is gone: nothing left to serve
    except Exception as error:  # a bug must reach the page as a message, not kill it silently
        traceback.print_exc()  # the details go to the server's log, not to the visitor
        try:
            conn.send_bytes(json.dumps({"crashed": type(error).__name__}).encode())
        except OSError:
            pass
    finally:
        conn.close()
