"""Runners: the page's handle on one session in the trainer pool.

A Runner offers the small interface the UI uses (play, pause, step, restart,
apply_config, snapshot, close); where the training runs is the
pool's business. It keeps what the page draws: the (bounded) metric history,
the latest picture and data points, the summary, and the last exact snapshot
of the weights, from which a restarted worker resumes the session.

Runners are registered under an unguessable token (the live stream's URL). An open
live stream is contact: a session that a page watches is never closed, however long
nobody clicks. A janitor closes a session that no page has watched for the idle
timeout (one whose page never opened its stream within ``DETACHED_GRACE_S``: a script,
not a page), and says why (``ended_why``); the page offers to start again from its last
snapshot. The number of sessions is capped by memory, not by cores: past the cap a new
visitor is told the server is full.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable

from playground.engine.config import Config
from playground.engine.history import History
from playground.engine.limits import LIMITS, Limits
from playground.server import protocol as p
from playground.server.pool import get_pool
from playground.server.replay import Replay
from playground.server.stream_state import StreamState

NOTICE_S = 60.0  # how long a notice is news
DETACHED_GRACE_S = 20.0  # a session whose stream never opened this long has no page
# why the server closed a session (Runner.close): nobody watched it for the idle timeout,
# its page never opened its stream, its page said it was going away
IDLE, NO_STREAM, UNLOADED = "idle", "no stream", "unloaded"


def untracked_points(points: dict | None) -> dict | None:
    """Data points with each [x1, x2, label] row a tuple: a server holds hundreds of
    thousands of rows, and Python's garbage collector walks every list on each full
    collection (tens of ms with the GIL held), but not tuples of numbers."""
    if not points:
        return points
    return {key: [tuple(row) for row in rows] if key in ("train", "test") else rows
            for key, rows in points.items()}


class ServerBusy(RuntimeError):
    """Raised when the server holds as many sessions as its memory allows."""


class Runner:
    weight = 1  # sessions this runner counts as, against the server's cap

    def __init__(self, config: Config, resume: dict | None = None) -> None:
        self.token = secrets.token_urlsafe(24)  # the live stream's secret
        self.sid = secrets.token_hex(8)  # the worker's name for the session
        self.lock = threading.Lock()
        self.history = History()
        self.generation = 0
        self.rewrites = 0  # bumps when the history was cut back (a worker restart)
        self.summary: dict = {"epoch": 0, "playing": False, "stopped": None, "generation": 0,
                              "config": config.to_params(), "last": None}
        self.params = config.to_params()
        self.picture: dict | None = None
        self.points: dict | None = None
        self.replay = Replay()  # snapshots of this run for the page's replay
        self.version = 0  # bumps with every change the stream should send
        self.points_version = 0
        self.notice: str | None = None
        self.notice_until = 0.0  # a page that connects later need not hear old news
        self.error: str | None = None
        self.last_state: dict | None = resume
        self.closed = False
        self.closed_why: str | None = None  # IDLE, NO_STREAM, UNLOADED; None: on purpose
        self.attached = 0  # live streams open on this runner
        self.watched = False  # whether a live stream has ever opened on it
        self.flooded_until = 0.0  # a stream flooded it: new streams wait until then
        self.last_contact = time.monotonic()
        self.listeners: list[Callable[[], None]] = []
        self.link = get_pool().place(self)

    # -- the interface the page uses -------------------------------------------------------
    def play(self) -> None:
        self.command(p.PLAY)

    def pause(self) -> None:
        self.command(p.PAUSE)

    def step(self, epochs: int = 1) -> None:
        self.command(p.STEP, epochs)

    def restart(self) -> None:
        """Back to epoch 0 with the same initial weights."""
        self.command(p.RESTART)

    def apply_config(self, config: Config) -> None:
        self.params = config.to_params()
        self.command(p.CONFIG, self.params)

    def load_weights(self, packed: str) -> None:
        """Imported weights (``training.pack``); training starts again from them."""
        self.command(p.LOAD, packed)

    def command(self, name: str, *args: object) -> bool:
        """Queue a command for the worker; never blocks. False if it was dropped."""
        self.touch()
        if self.closed:
            return False
        return self.link.send(self.sid, name, list(args))

    def runs(self) -> list[tuple[History, str | None]]:
        """The run's history and why it stopped, as copies (for lesson checks)."""
        with self.lock:
            return [(self.history.copy(), self.summary.get("stopped"))]

    def snapshot(self) -> dict:
        """The latest summary (epoch, playing, stopped, metrics, config) as plain values."""
        with self.lock:
            return {**self.summary, "crashed": self.error, "notice": self.notice}

    @property
    def alive(self) -> bool:
        return not self.closed and self.error is None

    def wait_for(self, condition: Callable[[dict], bool], timeout: float = 5.0) -> dict:
        """Block until the snapshot satisfies condition (for tests and scripts)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            snap = self.snapshot()
            if condition(snap) or snap["crashed"]:
                return snap
            time.sleep(0.01)
        raise TimeoutError(f"runner state not reached within {timeout} s: {self.snapshot()}")

    def close(self, why: str | None = None) -> None:
        """End the session (``why``: IDLE, NO_STREAM or UNLOADED when the server ended
        it, None when the page did)."""
        if self.closed:
            return
        self.closed, self.closed_why = True, why
        self.link.remove(self.sid)
        with self.lock:  # a closed page's Streamlit session may hold this for minutes
            self.points = self.picture = None
            self._new_generation()
        self._notify()
        _unregister(self)

    def touch(self) -> None:
        """The page is still there (it sent a command, or a stream opened or closed)."""
        self.last_contact = time.monotonic()

    def ended_why(self, limits: Limits = LIMITS) -> str:
        """Why this closed session ended, in one sentence for its page."""
        if self.closed_why == IDLE:
            minutes = limits.idle_timeout_s / 60
            shown = f"{minutes:g} minute{'s' * (minutes != 1)}" if minutes >= 1 else (
                f"{limits.idle_timeout_s:g} seconds")
            return (f"This session was closed after {shown} with no page watching it, "
                    "to free the server for others.")
        if self.closed_why == NO_STREAM:
            return (f"This session was closed because its page did not connect within "
                    f"{DETACHED_GRACE_S:g} seconds.")
        if self.closed_why == UNLOADED:
            return "This session was closed when its page was left."
        return "This session was closed."

    # -- what the pool calls -----------------------------------------------------------------
    def open_spec(self) -> dict:
        """How a worker (re)creates this session: config, snapshot, playing."""
        with self.lock:
            return {"params": self.params, "state": self.last_state,
                    "playing": self.summary["playing"], "generation": self.generation}

    def merge(self, frame: dict) -> None:
        """A frame from the worker (called on the pool's reader thread)."""
        with self.lock:
            if "error" in frame:
                self.error = frame["error"]
            else:
                if frame["generation"] != self.generation:
                    self.generation = frame["generation"]
                    self._new_generation()  # training restarted at epoch 0
                if "state" in frame:
                    self.last_state = frame.pop("state")
                self._take(frame)
                self.summary = frame
            self.version += 1
        self._notify()

    def _new_generation(self) -> None:
        self.history = History()
        self.replay.clear()

    def _take(self, frame: dict) -> None:
        """Keep what the frame brings (its rows, points, picture); the rest is the summary."""
        self.history.extend(frame.pop("history"))
        if "points" in frame:
            self.points = untracked_points(frame.pop("points"))
            self.points_version += 1
        if "picture" in frame:  # parts missing from this picture keep their last value
            self.picture = {**(self.picture or {}), **frame.pop("picture")}
            self.replay.add(frame["epoch"], self.picture)

    def stream_message(self, sent: StreamState) -> dict | None:
        """What the page has not seen yet (``protocol.StreamMessage``), or None."""
        with self.lock:
            if self.version == sent.version:
                return None
            message: p.StreamMessage = {"summary": self.summary, "error": self.error}
            if sent.restarts(self):
                message["restart"] = True
            rows = self.history.since(sent.sent_epoch)
            if rows["epoch"]:
                sent.sent_epoch = rows["epoch"][-1]
            message["history"] = rows
            if self.points_version != sent.points_version:
                sent.points_version = self.points_version
                message["points"] = self.points
            if self.picture is not None:
                message["picture"] = self.picture
            changed, notice = sent.news(self)
            if changed:
                message["notice"] = notice
            sent.version = self.version
        return message

    def resumed(self, failed: bool, hung: bool = False) -> None:
        """The worker died (or stopped answering and was killed); it was replaced (or,
        dying again and again, given up on)."""
        with self.lock:
            if failed:
                self.error = "The trainer keeps failing; your settings are kept."
            else:
                epoch = self.resume_epoch()
                self.history.truncate_after(epoch)
                self.rewrites += 1
                what = "stopped answering and was replaced" if hung else (
                    "stopped and was restarted")
                self.notice = (f"The trainer process {what}; training goes on from epoch "
                               f"{epoch:,}.")
                self.notice_until = time.monotonic() + NOTICE_S
            self.version += 1
        self._notify()

    def resume_epoch(self) -> int:
        """The epoch a restarted worker goes on from (the last snapshot's)."""
        return self.last_state["epoch"] if self.last_state else 0

    def _notify(self) -> None:
        for listener in list(self.listeners):
            listener()


# -- the server-wide registry -----------------------------------------------------------
_runners: dict[str, Runner] = {}
_registry_lock = threading.Lock()
_janitor: threading.Thread | None = None


def start_runner(config: Config, limits: Limits = LIMITS, resume: dict | None = None,
                 make: Callable[..., Runner] = Runner, weight: int = 1) -> Runner:
    """A new registered runner (``make(config, resume)``, counting as ``weight``
    sessions); ServerBusy when the server holds all it can."""
    global _janitor
    with _registry_lock:
        if sum(r.weight for r in _runners.values()) + weight > limits.max_sessions:
            raise ServerBusy(f"The server is full ({limits.max_sessions} sessions at once); "
                             "try again in a few minutes.")
        runner = make(config, resume)
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


def sweep_once(limits: Limits = LIMITS, now: float | None = None) -> None:
    """Close the sessions that no page has watched for the idle timeout, and those whose
    page never opened its stream (``DETACHED_GRACE_S``). A watched session stays."""
    now = time.monotonic() if now is None else now
    for runner in active_runners():
        if runner.attached:
            continue  # an open stream is contact (its end touches the runner)
        unwatched = now - runner.last_contact
        if runner.watched and unwatched > limits.idle_timeout_s:
            runner.close(IDLE)
        elif not runner.watched and unwatched > DETACHED_GRACE_S:
            runner.close(NO_STREAM)


def _sweep(limits: Limits) -> None:
    while True:
        time.sleep(2.0)
        sweep_once(limits)


def close_all() -> None:
    for runner in active_runners():
        runner.close()
