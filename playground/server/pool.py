"""The trainer pool: a few worker processes (one per core) host every session.

The server talks to each worker through one pipe. Nothing here blocks the
caller: ``send`` puts a command in a small per-session outbox (a flood of
play/pause clicks collapses to the last one; beyond a few pending commands new
ones are dropped) and a writer thread does the blocking pipe write. A reader
thread hands each frame to its session's Session. A worker that dies is
started again and its sessions reopen from their last snapshots.

Each worker beats every half second (``worker.BEAT_S``). A watchdog thread kills a
worker that has not beaten for ``DEAD_AFTER_S`` (stopped, or its process stuck), or
whose loop has not gone round for ``STALLED_AFTER_S``; it is then replaced like a worker
that died, and its sessions are told so. New sessions go to workers that beat.

Workers are forked by the forkserver, not by the server, so the server makes itself
their "child subreaper" (Linux): if the forkserver dies, its workers become the
server's children instead of init's, and stay in its process tree (memory accounting,
shutdown). The pool waits for, kills and reaps workers by pid (``psutil``), whichever
process forked them.
"""

from __future__ import annotations

import ctypes
import json
import multiprocessing as mp
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Protocol

import psutil

from playground.engine.config.limits import env_number
from playground.server import protocol as p
from playground.server.worker import BEAT_S, serve

MAX_PENDING = 16  # commands waiting for one session; more are dropped
RESPAWN_WINDOW_S, MAX_RESPAWNS = 60.0, 5  # a worker dying this often is not restarted
DEAD_AFTER_S = 5.0  # no heartbeat this long (10 beats): the worker is killed and replaced
STALLED_AFTER_S = 30.0  # its loop has not gone round this long: likewise
FIRST_BEAT_S = 15.0  # a new worker's allowance for its first beat (a busy machine)
SUSPECT_AFTER_S = 3 * BEAT_S  # a worker that missed this many beats takes no new session
PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h


class Session(Protocol):
    """What the pool needs of a session's handle (``session.Session``)."""

    sid: str
    weight: int  # sessions it counts as (a study: its members)

    def merge(self, frame: dict) -> None: ...
    def open_spec(self) -> dict: ...
    def resumed(self, failed: bool, hung: bool = False) -> None: ...


def queue_command(pending: list, name: str, args: list) -> bool:
    """Add a command to a session's pending ones: play/pause and config replace their
    earlier selves, steps add up; False (dropped) once MAX_PENDING are waiting."""
    if name in p.TOGGLES or name in p.REPLACED:
        same = p.TOGGLES if name in p.TOGGLES else (name,)
        pending[:] = [c for c in pending if c[0] not in same]
    elif name == p.STEP and pending and pending[-1][0] == p.STEP:
        pending[-1][1][0] = min(pending[-1][1][0] + args[0], p.MAX_STEP)
        return True
    if len(pending) >= MAX_PENDING:
        return False
    pending.append([name, args])
    return True


def worker_count() -> int:
    """PLAYGROUND_WORKERS (checked when the server starts: ``limits``), else one per core."""
    return env_number("PLAYGROUND_WORKERS", whole=True) or os.cpu_count() or 1


_context: mp.context.BaseContext | None = None


def process_context() -> mp.context.BaseContext:
    """A forkserver that has imported torch once, so a worker starts in milliseconds
    (a killed worker is back before its visitors notice)."""
    global _context
    if _context is None:
        adopt_orphans()
        _context = mp.get_context("forkserver")
        _context.set_forkserver_preload(["playground.server.worker_preload"])
    return _context


def adopt_orphans() -> bool:
    """Make this process the child subreaper of its descendants (Linux): a worker whose
    parent, the forkserver, exits becomes this process's child, not init's."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def end_process(proc: psutil.Process | None, grace: float) -> None:
    """Wait up to ``grace`` s for a worker to exit, then kill it; reaped either way if it
    is this process's child (psutil checks the pid still names the same process)."""
    if proc is None:
        return
    try:
        proc.wait(timeout=grace)
        return
    except psutil.TimeoutExpired:
        pass
    except psutil.Error:
        return
    try:
        proc.kill()
        proc.wait(timeout=2.0)
    except (psutil.Error, psutil.TimeoutExpired):
        pass


class WorkerLink:
    """One worker and the two threads that talk to it."""

    def __init__(self, index: int, use_process: bool) -> None:
        self.index = index
        self.use_process = use_process
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.outbox: dict[str, list] = {}
        self.sessions: dict[str, Session] = {}
        self.deaths: list[float] = []
        self.closed = False
        self.hung = False  # the watchdog killed it for not beating
        self.process: mp.process.BaseProcess | threading.Thread | None = None
        self.proc: psutil.Process | None = None  # the worker process, by pid
        self.last_beat = time.monotonic()  # when it last said anything
        self.beaten = False  # whether it has said anything since it started
        self.loop_age = 0.0  # how long ago its loop had gone round, at that beat
        self._start()

    @property
    def pid(self) -> int | None:
        return getattr(self.process, "pid", None)

    def _start(self) -> None:
        here, there = mp.Pipe()
        if self.use_process:
            self.process = process_context().Process(
                target=serve, args=(there,), daemon=True, name=f"playground-worker-{self.index}")
        else:
            self.process = threading.Thread(target=serve, args=(there,), daemon=True)
        self.process.start()
        if self.use_process:
            there.close()  # the child holds its own copy; ours would hide the child's exit
            try:
                self.proc = psutil.Process(self.process.pid)
            except psutil.Error:
                self.proc = None  # gone already: the reader sees its end
        with self.lock:
            self.conn = here
            self.last_beat, self.loop_age, self.hung = time.monotonic(), 0.0, False
            self.beaten = False
        threading.Thread(target=self._write, args=(here,), daemon=True).start()
        threading.Thread(target=self._read, args=(here,), daemon=True).start()

    # -- the non-blocking side ------------------------------------------------------------
    def send(self, sid: str, name: str, args: list) -> bool:
        """Queue a command; False if it was dropped (too many pending)."""
        with self.lock:
            queued = queue_command(self.outbox.setdefault(sid, []), name, args)
        self.wake.set()
        return queued

    def add(self, session: Session) -> None:
        with self.lock:
            self.sessions[session.sid] = session
        self.send(session.sid, p.OPEN, [session.open_spec()])

    def remove(self, sid: str) -> None:
        with self.lock:
            self.sessions.pop(sid, None)
        self.send(sid, p.CLOSE, [])

    # -- the threads -----------------------------------------------------------------------
    def _write(self, conn) -> None:
        while True:
            self.wake.wait()
            with self.lock:
                if self.closed or conn is not self.conn:
                    self.wake.set()  # the new writer (after a restart) may need this wake
                    return
                self.wake.clear()
                batch, self.outbox = self.outbox, {}
            try:
                for sid, commands in batch.items():
                    conn.send_bytes(json.dumps([sid, commands]).encode())
            except OSError:
                return  # the reader sees the worker's end and restarts it

    def _read(self, conn) -> None:
        while True:
            try:
                message = p.unpack_frames(conn.recv_bytes())
            except (EOFError, OSError, TypeError):  # TypeError: closed under our feet
                if not self.closed and conn is self.conn:
                    self._respawn()
                return
            self.last_beat, self.beaten = time.monotonic(), True
            if "beat" in message:
                self.loop_age = message["beat"]
            for sid, frame in message["frames"]:
                session = self.sessions.get(sid)
                if session is not None:
                    session.merge(frame)

    # -- health ---------------------------------------------------------------------------
    def silent_for(self, now: float) -> float:
        """Seconds since the worker last said anything (a frame or a heartbeat)."""
        return max(0.0, now - self.last_beat)

    def healthy(self, now: float) -> bool:
        return self.silent_for(now) < SUSPECT_AFTER_S and self.loop_age < STALLED_AFTER_S

    def check(self, now: float) -> bool:
        """Kill a worker process that stopped beating or whose loop is stuck (its reader
        then replaces it); True if it did."""
        if self.closed or self.proc is None or self.hung:
            return False
        allowed = DEAD_AFTER_S if self.beaten else FIRST_BEAT_S
        if self.silent_for(now) < allowed and self.loop_age < STALLED_AFTER_S:
            return False
        self.hung = True
        try:
            self.proc.kill()  # SIGKILL ends a stopped process too
        except psutil.Error:
            pass  # gone already: its reader has seen that
        return True

    def _respawn(self) -> None:
        """Start the worker again; its sessions reopen from their last snapshots."""
        now = time.monotonic()
        self.deaths = [t for t in self.deaths if now - t < RESPAWN_WINDOW_S] + [now]
        failed = len(self.deaths) > MAX_RESPAWNS
        hung = self.hung
        end_process(self.proc, grace=1.0)  # and reap it
        if isinstance(self.process, mp.process.BaseProcess):
            self.process.join(timeout=0.5)  # multiprocessing's own bookkeeping
        with self.lock:
            self.outbox = {}
            sessions = list(self.sessions.values())
            if failed:
                self.sessions = {}
        if not failed:
            try:
                self._start()
            except (OSError, EOFError, ValueError):  # the server is going down
                self.closed = True
                return
        for session in sessions:
            if not failed:
                self.send(session.sid, p.OPEN, [session.open_spec()])
            session.resumed(failed, hung)

    def close(self) -> None:
        self.closed = True
        self.wake.set()
        try:
            self.conn.close()  # the worker sees EOF and exits
        except OSError:
            pass
        if isinstance(self.process, threading.Thread):
            if self.process.ident is not None:
                self.process.join(timeout=2.0)
        else:
            end_process(self.proc, grace=2.0)


class Pool:
    def __init__(self, workers: int | None = None, use_process: bool = True) -> None:
        self.links = [WorkerLink(i, use_process) for i in range(workers or worker_count())]
        self.closed = threading.Event()
        if use_process:  # a thread cannot be killed: tests of threads have no watchdog
            threading.Thread(target=self._watch, daemon=True, name="pool-watchdog").start()

    def place(self, session: Session) -> WorkerLink:
        """The worker with the least load takes the new one (a study of S members
        weighs S sessions), among those that beat (all of them, if none does)."""
        now = time.monotonic()
        links = [link for link in self.links if link.healthy(now)] or self.links
        link = min(links, key=lambda link: sum(
            s.weight for s in list(link.sessions.values())))
        link.add(session)
        return link

    def _watch(self) -> None:
        while not self.closed.wait(BEAT_S):
            now = time.monotonic()
            for link in self.links:
                link.check(now)

    def status(self) -> list[dict]:
        now = time.monotonic()
        return [{"index": link.index, "pid": link.pid, "sessions": len(link.sessions),
                 "restarts": len(link.deaths), "healthy": link.healthy(now),
                 "last_beat_s": round(link.silent_for(now), 2),
                 "loop_age_s": link.loop_age} for link in self.links]

    def close(self) -> None:
        self.closed.set()
        for link in self.links:
            link.close()


_pool: Pool | None = None
_pool_lock = threading.Lock()


def get_pool(factory: Callable[[], Pool] | None = None) -> Pool:
    global _pool
    with _pool_lock:
        if _pool is None:
            use_process = os.environ.get("PLAYGROUND_RUNNER", "process") != "thread"
            _pool = factory() if factory else Pool(use_process=use_process)
        return _pool


def close_pool() -> None:
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.close()
