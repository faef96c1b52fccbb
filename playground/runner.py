"""Runners: the page's only handle on training.

A Runner hosts one session's SessionLoop in its own process (the server's
default: sessions must not share one GIL) or in a thread (tests, notebooks),
and offers the small interface the UI uses: play, pause, step, reset,
apply_config, set_speed, snapshot, close. A reader thread receives the loop's
frames, keeps the whole metric history and the latest picture, and wakes the
live streams (``live.py``) that relay them to the browser.

Runners are registered under an unguessable token (the live stream's URL);
a janitor closes runners whose page went away or stayed idle too long, and a
cap keeps the number of trainer processes within what the server can run.
"""

from __future__ import annotations

import atexit
import json
import multiprocessing as mp
import secrets
import threading
import time
from collections.abc import Callable

from playground.config import Config
from playground.frames import PICTURE_KEYS
from playground.limits import LIMITS
from playground.session_loop import serve

DETACHED_GRACE_S = 20.0  # a page without a stream this long is gone (slow loads included)
HISTORY_KEYS = ("epoch", "train_loss", "test_loss", "train_metric", "test_metric",
                "weight_norms", "grad_norms")


class ServerBusy(RuntimeError):
    """Raised when every trainer slot on this server is taken."""


_context: mp.context.BaseContext | None = None


def _process_context() -> mp.context.BaseContext:
    """A forkserver that has imported torch once, so a trainer starts in milliseconds."""
    global _context
    if _context is None:
        _context = mp.get_context("forkserver")
        _context.set_forkserver_preload(["playground.trainer_preload"])
    return _context


def warm_up() -> None:
    """Start the forkserver now (it imports torch once) so no visitor waits for it."""
    from multiprocessing import forkserver

    _process_context()
    forkserver.ensure_running()


class Runner:
    def __init__(self, config: Config, use_process: bool = True,
                 resume: dict | None = None) -> None:
        self.token = secrets.token_urlsafe(24)
        self.use_process = use_process
        self.lock = threading.Lock()
        self.history: dict[str, list] = {key: [] for key in HISTORY_KEYS}
        self.generation = -1
        self.summary: dict = {"epoch": 0, "playing": False, "stopped": None,
                              "config": config.to_params()}
        self.picture: dict | None = None
        self.points: dict | None = None
        self.version = 0  # bumps with every frame received
        self.points_version = 0
        self.crashed: str | None = None
        self.last_state: dict | None = None  # exact weights, sent every few frames
        self.closed = False
        self.attached = 0  # live streams open on this runner
        self.last_contact = time.monotonic()
        self.listeners: list[Callable[[], None]] = []
        here, there = mp.Pipe()
        self.conn = here
        params = config.to_params()
        if use_process:
            self.worker = _process_context().Process(target=serve, args=(there, params, resume),
                                                     daemon=True, name="playground-trainer")
        else:
            self.worker = threading.Thread(target=serve, args=(there, params, resume),
                                           daemon=True)
        self.worker.start()
        if use_process:
            there.close()  # the child holds its own copy; ours would hide the child's exit
        self.reader = threading.Thread(target=self._read_frames, daemon=True)
        self.reader.start()

    # -- the interface the page uses -------------------------------------------------------
    def play(self) -> None:
        self._send("play")

    def pause(self) -> None:
        self._send("pause")

    def step(self, epochs: int = 1) -> None:
        self._send("step", epochs)

    def reset(self, keep_init: bool = True) -> None:
        self._send("reset", keep_init)

    def apply_config(self, config: Config) -> None:
        self._send("config", config.to_params())

    def set_speed(self, epochs_per_second: float) -> None:
        self._send("speed", epochs_per_second)

    def snapshot(self) -> dict:
        """The latest summary (epoch, playing, stopped, metrics, config) as plain values."""
        with self.lock:
            last = {key: values[-1] for key, values in self.history.items() if values}
            return {**self.summary, **last, "crashed": self.crashed}

    @property
    def alive(self) -> bool:
        return not self.closed and self.crashed is None

    def wait_for(self, condition: Callable[[dict], bool], timeout: float = 5.0) -> dict:
        """Block until the snapshot satisfies condition (for tests and scripts)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            snap = self.snapshot()
            if condition(snap) or snap["crashed"]:
                return snap
            time.sleep(0.01)
        raise TimeoutError(f"runner state not reached within {timeout} s: {self.snapshot()}")

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.conn.send_bytes(b'["close", []]')
        except OSError:
            pass
        # wait for the loop to finish its epoch: a trainer thread still inside torch
        # when the interpreter exits aborts the whole process
        self.worker.join(timeout=2.0)
        if self.use_process and self.worker.is_alive():
            self.worker.kill()
            self.worker.join(timeout=2.0)
        self._notify()
        _unregister(self)

    # -- plumbing ------------------------------------------------------------------------
    def touch(self) -> None:
        """The page is still there (it sent a command or closed its stream just now)."""
        self.last_contact = time.monotonic()

    def _send(self, command: str, *args: object) -> None:
        self.touch()
        if self.closed:
            return
        try:
            self.conn.send_bytes(json.dumps([command, list(args)]).encode())
        except OSError:
            self.crashed = self.crashed or "The trainer process is gone."

    def _read_frames(self) -> None:
        while True:
            try:
                frame = json.loads(self.conn.recv_bytes())
            except (EOFError, OSError):
                if not self.closed:
                    self.crashed = self.crashed or "The trainer process stopped unexpectedly."
                    self._notify()
                return
            if "crashed" in frame:
                self.crashed = f"The trainer hit an internal error ({frame['crashed']})."
            else:
                self._merge(frame)
            self._notify()

    def _merge(self, frame: dict) -> None:
        with self.lock:
            if frame["generation"] != self.generation:
                self.generation = frame["generation"]
                self.history = {key: [] for key in HISTORY_KEYS}
            rows = frame.pop("history")
            for key in HISTORY_KEYS:
                self.history[key].extend(rows[key])
            if "state" in frame:
                self.last_state = frame.pop("state")
            if "points" in frame:
                self.points = frame.pop("points")
                self.points_version += 1
            if "boundary" in frame:  # parts missing from this frame keep their last value
                fresh = {key: frame.pop(key) for key in PICTURE_KEYS if key in frame}
                self.picture = {**(self.picture or {}), **fresh}
            self.summary = frame
            self.version += 1

    def _notify(self) -> None:
        for listener in list(self.listeners):
            listener()


# -- the server-wide registry -----------------------------------------------------------
_runners: dict[str, Runner] = {}
_registry_lock = threading.Lock()
_janitor: threading.Thread | None = None


def start_runner(config: Config, use_process: bool = True, limits=LIMITS,
                 resume: dict | None = None) -> Runner:
    """A new registered runner; ServerBusy when all trainer slots are taken."""
    global _janitor
    with _registry_lock:
        busy = sum(1 for r in _runners.values() if r.use_process and r.alive)
        if use_process and busy >= limits.max_trainers:
            raise ServerBusy("The server is busy: every trainer slot is taken. "
                             "Try again in a minute.")
        runner = Runner(config, use_process, resume)
        _runners[runner.token] = runner
        if _janitor is None:
            _janitor = threading.Thread(target=_sweep, args=(limits,), daemon=True)
            _janitor.start()
    return runner


def find_runner(token: str) -> Runner | None:
    with _registry_lock:
        return _runners.get(token)


def _unregister(runner: Runner) -> None:
    with _registry_lock:
        _runners.pop(runner.token, None)


def active_runners() -> list[Runner]:
    with _registry_lock:
        return list(_runners.values())


def sweep_once(limits=LIMITS, now: float | None = None) -> None:
    """Close runners whose page went away, stayed idle too long, or crashed."""
    now = time.monotonic() if now is None else now
    for runner in active_runners():
        idle = now - runner.last_contact
        gone = runner.attached == 0 and idle > DETACHED_GRACE_S
        if gone or idle > limits.idle_timeout_s or runner.crashed:
            runner.close()


def _sweep(limits) -> None:
    while True:
        time.sleep(2.0)
        sweep_once(limits)


@atexit.register
def close_all() -> None:
    for runner in active_runners():
        runner.close()
