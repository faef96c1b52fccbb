"""The page's handle on one session in the trainer pool.

A session has N >= 1 members: one network is a session of one, a race or a sweep a
session of several (``Study``), and a Session is the one handle for both. It offers the
small interface the UI uses (play, pause, step, restart, apply_config, load_weights,
snapshot, view, close); where the training runs is the pool's business. For each member
it keeps what the page draws: the (bounded) metric history, the latest picture, the data
points and the newest metrics; and the last exact snapshot of every member, from which
a restarted worker resumes the session.

Sessions are registered under an unguessable token (the live stream's URL). An open
live stream is contact: a session that a page watches is never closed, however long
nobody clicks. A janitor closes a session that no page has watched for the idle
timeout (one whose page never opened its stream within ``DETACHED_GRACE_S``: a script,
not a page), and says why (``ended_why``); the page offers to start again from its last
snapshot. The number of sessions is capped by memory, not by cores: past the cap a new
visitor is told the server is full; a session counts as one per member.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from playground.engine.config.config import Config
from playground.engine.config.limits import LIMITS, Limits
from playground.engine.teaching.study import Study
from playground.engine.train.history import History
from playground.server import protocol as p
from playground.server.pool import get_pool
from playground.server.replay import Replay

NOTICE_S = 60.0  # how long a notice is news
DETACHED_GRACE_S = 20.0  # a session whose stream never opened this long has no page
# why the server closed a session (Session.close): nobody watched it for the idle timeout,
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


@dataclass(eq=False)
class Member:
    """What the page draws of one member: its history, newest metrics, picture, points."""

    history: History = field(default_factory=History)
    summary: dict | None = None
    picture: dict | None = None  # parts a frame leaves out keep their last value
    picture_version: int = 0
    points: dict | None = None
    points_version: int = 0


@dataclass(eq=False)
class SessionView:
    """A read-only copy of what the page may read of a session (never a lock)."""

    summary: dict
    history: History  # the first member's (one network: its only one)
    points: dict | None
    state: dict | None  # the first member's last exact snapshot (``Trainer.state``)
    replay_epochs: list[int]


class StreamState:
    """What one live stream has already sent its page, so each message carries only
    what is new: per member [picture version, points version, epoch of the last row,
    the picture's parts as sent (a part a frame left out is the same object still)]."""

    def __init__(self) -> None:
        self.version = -1
        self.generation: int | None = None
        self.rewrites = 0
        self.notice: str | None = None
        self.members: dict[int, list[int]] = {}


class Session:
    def __init__(self, config: Config, resume: list | None = None,
                 study: Study | None = None) -> None:
        self.token = secrets.token_urlsafe(24)  # the live stream's secret
        self.sid = secrets.token_hex(8)  # the worker's name for the session
        self.study = study
        self.lock = threading.Lock()
        self.members = [Member() for _ in (study.values if study else (None,))]
        self.generation = 0
        self.rewrites = 0  # bumps when the history was cut back (a worker restart)
        self.summary: dict = {"epoch": 0, "playing": False, "stopped": None, "generation": 0,
                              "config": config.to_params(), "last": None}
        self.params = config.to_params()
        self.replay = Replay()  # snapshots of a network's run for the page's replay
        self.version = 0  # bumps with every change the stream should send
        self.notice: str | None = None
        self.room_version = 0  # room hook: bumps when the student's room changed (rooms.py)
        self.notice_until = 0.0  # a page that connects later need not hear old news
        self.error: str | None = None
        self.last_state: list[dict] | None = resume  # one exact snapshot per member
        self.closed = False
        self.closed_why: str | None = None  # IDLE, NO_STREAM, UNLOADED; None: on purpose
        self.attached = 0  # live streams open on this session
        self.watched = False  # whether a live stream has ever opened on it
        self.flooded_until = 0.0  # a stream flooded it: new streams wait until then
        self.last_contact = time.monotonic()
        self.listeners: list[Callable[[], None]] = []
        self.link = get_pool().place(self)

    @property
    def weight(self) -> int:
        """Sessions this session counts as against the server's cap: one per member."""
        return len(self.members)

    # -- the interface the page uses -------------------------------------------------------
    def play(self) -> None:
        self.command(p.PLAY)

    def pause(self) -> None:
        self.command(p.PAUSE)

    def pause_unwatched(self) -> None:
        """Pause because no page watches: no contact from a page, so the idle clock runs on."""
        if not self.closed:
            self.link.send(self.sid, p.PAUSE, [])

    def step(self, epochs: int = 1) -> None:
        self.command(p.STEP, epochs)

    def restart(self) -> None:
        """Back to epoch 0 with the same initial weights."""
        self.command(p.RESTART)

    def apply_config(self, config: Config) -> None:
        if self.study is not None:
            raise RuntimeError("a study's settings are fixed: start another study")
        self.params = config.to_params()
        self.command(p.CONFIG, self.params)

    def load_weights(self, packed: str) -> None:
        """Imported weights (``trainer.pack``); training starts again from them."""
        self.command(p.LOAD, packed)

    def tell(self, text: str) -> None:
        """A one-line notice for the page (room hook: a teacher's action reaches the
        student's page on its live stream, with the next message)."""
        with self.lock:
            self.notice = text
            self.notice_until = time.monotonic() + NOTICE_S
            self.version += 1
        self._notify()

    def command(self, name: str, *args: object) -> bool:
        """Queue a command for the worker; never blocks. False if it was dropped."""
        self.touch()
        if self.closed:
            return False
        return self.link.send(self.sid, name, list(args))

    def runs(self) -> list[tuple[History, str | None]]:
        """Each member's history and why it stopped, as copies (for lesson checks)."""
        with self.lock:
            return [(m.history.copy(), (m.summary or {}).get("stopped")) for m in self.members]

    def snapshot(self) -> dict:
        """The latest summary (epoch, playing, stopped, metrics, config) as plain values."""
        with self.lock:
            return {**self.summary, "crashed": self.error, "notice": self.notice}

    def view(self) -> SessionView:
        """What the page reads of the session (its exports, replay, slow motion), copied."""
        with self.lock:
            first = self.members[0]
            return SessionView(
                summary=dict(self.summary), history=first.history.copy(), points=first.points,
                state=self.last_state[0] if self.last_state else None,
                replay_epochs=self.replay.epochs())

    def boundary(self) -> str | None:
        """The first member's newest output over the plane (a class room's tile)."""
        with self.lock:
            return (self.members[0].picture or {}).get("boundary")

    def replay_snapshots(self) -> list:
        return self.replay.snapshots()

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
        raise TimeoutError(f"session state not reached within {timeout} s: {self.snapshot()}")

    def close(self, why: str | None = None) -> None:
        """End the session (``why``: IDLE, NO_STREAM or UNLOADED when the server ended
        it, None when the page did)."""
        if self.closed:
            return
        self.closed, self.closed_why = True, why
        self.link.remove(self.sid)
        with self.lock:  # a closed page's Streamlit session may hold this for minutes
            self.members = [Member() for _ in self.members]
            self.replay.clear()
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
        """How a worker (re)creates this session: config, study, snapshots, playing."""
        with self.lock:
            spec = {"params": self.params, "state": self.last_state,
                    "playing": self.summary["playing"], "generation": self.generation}
        if self.study is not None:
            spec["study"] = self.study.to_params()
        return spec

    def merge(self, frame: dict) -> None:
        """A frame from the worker (called on the pool's reader thread): the session's
        summary, and each member's update (one network: the frame is its member's)."""
        with self.lock:
            if "error" in frame:
                self.error = frame["error"]
            else:
                if frame["generation"] != self.generation:
                    self.generation = frame["generation"]
                    self._new_generation()  # training restarted at epoch 0
                if "state" in frame:
                    self.last_state = frame.pop("state")
                pictured = self.study is None and "picture" in frame
                updates = frame.pop("members", None) or [frame]
                for member, update in zip(self.members, updates):
                    self._take(member, update)
                if pictured:
                    self.replay.add(frame["epoch"], self.members[0].picture)
                self.summary = frame
            self.version += 1
        self._notify()

    def _new_generation(self) -> None:
        """Training restarted at epoch 0: new curves; the points and pictures stay."""
        for member in self.members:
            member.history = History()
        self.replay.clear()

    @staticmethod
    def _take(member: Member, update: dict) -> None:
        """Keep what an update brings (its rows, points, picture); the rest is the
        member's summary."""
        member.history.extend(update.pop("history"))
        if "points" in update:
            member.points = untracked_points(update.pop("points"))
            member.points_version += 1
        if "picture" in update:
            member.picture = {**(member.picture or {}), **update.pop("picture")}
            member.picture_version += 1
        member.summary = update

    def stream_message(self, sent: StreamState) -> dict | None:
        """What the page has not seen yet (``protocol.StreamMessage``), or None: each
        member's new rows and newest metrics, its picture and points when they changed.
        One network's page reads its member's parts at the top of the message."""
        with self.lock:
            if self.version == sent.version:
                return None
            message: dict = {"summary": self.summary, "error": self.error}
            if self.generation != sent.generation or self.rewrites != sent.rewrites:
                sent.generation, sent.rewrites, sent.members = self.generation, self.rewrites, {}
                message["restart"] = True  # the page drops its curves
            updates = [self._member_update(member, sent.members.setdefault(i, [0, 0, 0, {}]))
                       for i, member in enumerate(self.members)]
            if self.study is None:
                updates[0].pop("summary")  # the session's own
                message.update(updates[0])
            else:
                message["members"] = updates
            if self.room_version:  # room hook: the page reruns to show the room's news
                message["room"] = self.room_version
            notice = self.notice if time.monotonic() < self.notice_until else None
            if notice != sent.notice:
                sent.notice = message["notice"] = notice
            sent.version = self.version
        return message

    @staticmethod
    def _member_update(member: Member, seen: list[int]) -> dict:
        rows = member.history.since(seen[2])
        if rows["epoch"]:
            seen[2] = rows["epoch"][-1]
        update = {"history": rows, "summary": member.summary}
        if member.picture is not None and member.picture_version != seen[0]:
            seen[0] = member.picture_version
            # only the parts that changed: the histograms come a few times a second, the
            # neurons not at all while the page is scrolled away from them (the page
            # keeps the parts it has)
            parts = seen[3]
            changed = {k: v for k, v in member.picture.items() if parts.get(k) is not v}
            if changed:
                parts.update(changed)
                update["picture"] = changed
        if member.points_version != seen[1]:
            seen[1] = member.points_version
            update["points"] = member.points
        return update

    def resumed(self, failed: bool, hung: bool = False) -> None:
        """The worker died (or stopped answering and was killed); it was replaced (or,
        dying again and again, given up on). Each member goes on from its own snapshot."""
        with self.lock:
            if failed:
                self.error = "The trainer keeps failing; your settings are kept."
            else:
                states = self.last_state or []
                for member, state in zip(self.members, states):
                    member.history.truncate_after(state["epoch"])
                if not states:
                    for member in self.members:
                        member.history.truncate_after(0)
                epoch = self.resume_epoch()
                self.rewrites += 1
                what = "stopped answering and was replaced" if hung else (
                    "stopped and was restarted")
                self.notice = (f"The trainer process {what}; training goes on from epoch "
                               f"{epoch:,}.")
                self.notice_until = time.monotonic() + NOTICE_S
            self.version += 1
        self._notify()

    def resume_epoch(self) -> int:
        """The epoch a resumed session goes on from: its furthest member's snapshot."""
        return max((s["epoch"] for s in self.last_state or []), default=0)

    def _notify(self) -> None:
        for listener in list(self.listeners):
            listener()


# -- the server-wide registry -----------------------------------------------------------
_sessions: dict[str, Session] = {}
_registry_lock = threading.Lock()
_janitor: threading.Thread | None = None


def start_session(config: Config, limits: Limits = LIMITS, resume: list | None = None,
                 study: Study | None = None) -> Session:
    """A new registered session of one network, or of a study's members when given;
    ServerBusy when the server holds all it can."""
    global _janitor
    weight = len(study.values) if study else 1
    with _registry_lock:
        if sum(r.weight for r in _sessions.values()) + weight > limits.max_sessions:
            raise ServerBusy(f"The server is full ({limits.max_sessions} sessions at once); "
                             "try again in a few minutes.")
        session = Session(config, resume, study)
        _sessions[session.token] = session
        if _janitor is None:
            _janitor = threading.Thread(target=_sweep, args=(limits,), daemon=True)
            _janitor.start()
    return session


def find_session(token: str) -> Session | None:
    with _registry_lock:
        return _sessions.get(token)


def _unregister(session: Session) -> None:
    with _registry_lock:
        _sessions.pop(session.token, None)


def active_sessions() -> list[Session]:
    with _registry_lock:
        return list(_sessions.values())


def sweep_once(limits: Limits = LIMITS, now: float | None = None) -> None:
    """Close the sessions that no page has watched for the idle timeout, and those whose
    page never opened its stream (``DETACHED_GRACE_S``). A watched session stays."""
    now = time.monotonic() if now is None else now
    for session in active_sessions():
        if session.attached:
            continue  # an open stream is contact (its end touches the session)
        unwatched = now - session.last_contact
        if session.watched and unwatched > limits.idle_timeout_s:
            session.close(IDLE)
        elif not session.watched and unwatched > DETACHED_GRACE_S:
            session.close(NO_STREAM)


def _sweep(limits: Limits) -> None:
    while True:
        time.sleep(2.0)
        sweep_once(limits)


def close_all() -> None:
    for session in active_sessions():
        session.close()
