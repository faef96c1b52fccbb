"""A worker process: hosts many sessions and trains same-shaped ones as one group.

Commands arrive on a connection from the server (``protocol``); frames go back
on it. Each cycle the worker trains every playing session for its share of a
short time slice (a group of S same-shaped sessions gets S shares and spends
them in one batched computation), then sends a frame to each session that is
due one. Frames slow down under load (never below ``MIN_FPS``) before training
does; a paused session costs nothing.

A heartbeat thread tells the server every ``BEAT_S`` that the process is there and
how long ago its loop last went round; a worker that stops beating (stopped, or
stuck) is killed and replaced by the pool.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
import traceback
from multiprocessing.connection import Connection

import torch

from playground.engine.config import Config
from playground.engine.group import Group
from playground.engine.limits import LIMITS
from playground.engine.training import Trainer, unpack
from playground.server import protocol as p
from playground.server.frames import FrameBuilder, picture_key, pictures
from playground.server.hosted import MAX_CREDIT, Hosted, frame_rate, schedule_next_frame
from playground.server.study_host import HostedStudy

CYCLE_S = 0.03  # training time per cycle at most, shared by the playing sessions
MIN_SLICE_S = 0.003
IDLE_POLL_S = 0.5
BEAT_S = 0.5  # a heartbeat this often, playing or idle


class Worker:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.sessions: dict[str, Hosted] = {}
        self.studies: dict[str, HostedStudy] = {}  # races and sweeps: one session each
        self.groups: dict[tuple, tuple[Group, list[Hosted]]] = {}
        self.stale: set[tuple] = set()  # keys whose group must be formed anew
        self.frame_cost = 0.001  # seconds per session frame, a running mean
        self.send_lock = threading.Lock()  # the loop and the heartbeat share the pipe
        self.loop_at = time.monotonic()  # when the loop last went round
        self.handlers = {p.OPEN: self.open, p.CLOSE: self.close, p.PLAY: self.play,
                         p.PAUSE: self.pause, p.STEP: self.step, p.RESTART: self.restart,
                         p.CONFIG: self.config, p.SET_PARAM: self.set_param, p.LOAD: self.load}

    # -- commands ------------------------------------------------------------------------
    def open(self, sid: str, spec: dict) -> None:
        if spec.get("study"):
            self.studies[sid] = HostedStudy(spec)
            return
        config, _ = Config.from_params(spec["params"])
        trainer = Trainer(config, max_epochs=LIMITS.max_epochs_per_run)
        state = spec.get("state")
        if state and state.get("config") == config.to_params():
            trainer.restore(state)
        hosted = Hosted(trainer, FrameBuilder(int(spec.get("generation", 0))))
        hosted.playing = bool(spec.get("playing")) and not trainer.stopped
        self.sessions[sid] = hosted
        self._invalidate(hosted)

    def close(self, sid: str) -> None:
        self._invalidate(self.sessions[sid])
        del self.sessions[sid]

    def play(self, sid: str) -> None:
        h = self._release(sid)
        h.playing = not h.trainer.stopped
        h.credit, h.last_tick = 0.0, time.perf_counter()

    def pause(self, sid: str) -> None:
        self._release(sid).playing = False

    def step(self, sid: str, epochs: int = 1) -> None:
        h = self._release(sid)
        h.playing = False
        h.trainer.step_epochs(max(1, min(int(epochs), p.MAX_STEP)))

    def restart(self, sid: str) -> None:
        h = self._release(sid)
        h.trainer.reset(keep_init=True)
        h.frames.restart()

    def config(self, sid: str, params: dict) -> None:
        h = self._release(sid)
        config, _ = Config.from_params(params)
        if config.speed != h.speed:
            h.credit, h.last_tick = 0.0, time.perf_counter()
        if h.trainer.apply_config(config):
            h.frames.restart()
        h.playing = h.playing and not h.trainer.stopped
        self._invalidate(h)

    def set_param(self, sid: str, kind: str, layer: int, to: int, frm: int,
                  value: float) -> None:
        """One weight or bias, typed in on the drawing; only while paused, and only one
        that exists (anything else is ignored, as a stale click may be)."""
        h = self._release(sid)
        sizes = h.trainer.layout.sizes
        if h.playing or not 0 <= layer < len(sizes) - 1 or not 0 <= to < sizes[layer + 1]:
            return
        if kind == "weight" and not 0 <= frm < sizes[layer]:
            return
        h.trainer.set_param(kind, layer, to, frm, value)

    def load(self, sid: str, packed: str) -> None:
        """Imported weights (checked against the Config by the page): epoch 0 from them.
        Weights that no longer fit (the network changed since) are ignored."""
        h = self._release(sid)
        try:
            params = unpack(packed, h.trainer.layout.size)
        except ValueError:
            return
        h.trainer.load_params(params)
        h.playing = False
        h.frames.restart()

    def _release(self, sid: str) -> Hosted:
        """The session, out of any group (so it can change), with a frame due at once."""
        h = self.sessions[sid]
        self._invalidate(h)
        h.dirty, h.next_frame = True, 0.0
        return h

    def _invalidate(self, h: Hosted) -> None:
        """The group of this session's shape forms anew before it trains next."""
        entry = self.groups.pop(h.key, None)
        if entry is not None:
            entry[0].dissolve()
        self.stale.add(h.key)

    # -- the loop ------------------------------------------------------------------------
    def send(self, message: dict) -> None:
        data = p.dumps(message).encode()
        with self.send_lock:
            self.conn.send_bytes(data)

    def beat(self) -> None:
        """Every BEAT_S: the process is there, and its loop went round this long ago."""
        while True:
            time.sleep(BEAT_S)
            try:
                self.send({"frames": [], "beat": round(time.monotonic() - self.loop_at, 3)})
            except (OSError, ValueError):  # the server closed the pipe: the worker ends
                return

    def run(self) -> None:
        torch.set_num_threads(1)
        threading.Thread(target=self.beat, daemon=True, name="heartbeat").start()
        while True:
            self.loop_at = time.monotonic()
            busy = any(h.playing or h.dirty for h in self.sessions.values()) or any(
                s.training or s.dirty for s in self.studies.values())
            if self.conn.poll(0 if busy else IDLE_POLL_S):
                self.receive()  # then train on: a stream of commands must not starve it
            self.train()
            self.send_frames()

    def receive(self) -> None:
        while self.conn.poll():
            sid, commands = json.loads(self.conn.recv_bytes())
            for name, args in commands:
                if sid not in self.sessions and sid not in self.studies and name != p.OPEN:
                    continue  # closed already
                try:
                    if sid in self.studies:
                        self._study_command(sid, name, args)
                    else:
                        self.handlers[name](sid, *args)
                except Exception as error:  # one session's bad command must not stop the rest
                    self.fail(sid, error)

    def _study_command(self, sid: str, name: str, args: list) -> None:
        """A study takes the transport commands; its members' settings are fixed."""
        study = self.studies[sid]
        if name == p.CLOSE:
            del self.studies[sid]  # its trainers go with it
        elif name in (p.PLAY, p.PAUSE, p.STEP, p.RESTART):
            getattr(study, name)(*args)
            study.dirty, study.next_frame = True, 0.0

    def train(self) -> None:
        for key in self.stale:
            members = [h for h in self.sessions.values() if h.playing and h.key == key]
            if members:
                self.groups[key] = (Group([h.trainer for h in members]), members)
        self.stale.clear()
        studies = [(sid, s) for sid, s in self.studies.items() if s.training]
        total = (sum(len(members) for _, members in self.groups.values())
                 + sum(s.size for _, s in studies))
        if not total:
            return
        now = time.perf_counter()
        # train until the next frame is due (so frames keep their rate), at most one cycle
        due = min((h.next_frame for h in self.sessions.values() if h.playing), default=now)
        budget = min(max(due - now, MIN_SLICE_S), CYCLE_S)
        for group, members in list(self.groups.values()):
            try:
                self._train_group(group, members, budget * len(members) / total, now)
            except Exception as error:
                for sid in [sid for sid, h in self.sessions.items() if h in members]:
                    self.fail(sid, error)
                continue
            if any(h.trainer.stopped for h in members):
                for h in members:
                    h.playing = h.playing and not h.trainer.stopped
                self._invalidate(members[0])
        for sid, study in studies:  # a study of S members gets S shares
            try:
                study.train(budget * study.size / total)
            except Exception as error:
                self.fail(sid, error)

    def _train_group(self, group: Group, members: list[Hosted], budget: float,
                     now: float) -> None:
        speed = members[0].speed
        if speed <= 0:
            group.run_for(budget)
        else:
            for h in members:
                h.credit = min(h.credit + (now - h.last_tick) * speed, MAX_CREDIT)
                h.last_tick = now
            owed = int(min(h.credit for h in members))
            if not owed:
                return
            ran = group.run_epochs(owed)
            for h in members:
                h.credit -= ran
        for h in members:
            h.dirty = True

    def fps(self) -> float:
        playing = (sum(h.playing for h in self.sessions.values())
                   + sum(s.size for s in self.studies.values() if s.playing))
        return frame_rate(self.frame_cost, playing)

    def send_frames(self) -> None:
        now = time.perf_counter()
        due = [(sid, h) for sid, h in self.sessions.items() if h.dirty and now >= h.next_frame]
        studies = [(sid, s) for sid, s in self.studies.items() if s.dirty and now >= s.next_frame]
        if not due and not studies:
            if not any(h.speed <= 0 and h.playing for h in self.sessions.values()):
                time.sleep(0.002)  # only slow speeds (or nothing) to serve: do not spin
            return
        batches: dict[tuple, list[tuple[str, Hosted]]] = {}
        for sid, h in due:
            batches.setdefault(picture_key(h.trainer), []).append((sid, h))
        frames = []
        interval = 1.0 / self.fps()
        for batch in batches.values():
            every = [h.frames.wants_every_part(h.playing) for _, h in batch]
            with torch.no_grad():
                pics = pictures([h.trainer for _, h in batch], every)
            for (sid, h), picture in zip(batch, pics):
                frame = h.frames.build(h.trainer, h.playing, picture)
                h.maybe_snapshot(frame, now)
                frames.append([sid, frame])
                schedule_next_frame(h, now, interval)
        for sid, study in studies:
            try:
                frames.append([sid, study.frame()])
            except Exception as error:
                self.fail(sid, error)
                continue
            schedule_next_frame(study, now, interval * (1 + study.size // 4))  # big: fewer
        self.send({"frames": frames})
        cost = (time.perf_counter() - now) / (len(due) + sum(s.size for _, s in studies))
        self.frame_cost = 0.8 * self.frame_cost + 0.2 * cost

    def fail(self, sid: str, error: Exception) -> None:
        """A bug hit one session: log it, stop that session, tell its page in a sentence."""
        traceback.print_exc()
        h = self.sessions.pop(sid, None)
        if h is not None:
            self._invalidate(h)
        self.studies.pop(sid, None)
        message = f"The trainer hit an internal error ({type(error).__name__})."
        self.send({"frames": [[sid, {"error": message}]]})


def serve(conn: Connection) -> None:
    """Entry point of a worker process (or thread, in tests)."""
    if threading.current_thread() is threading.main_thread():
        # Ctrl-C or a stop signal reaches the whole process group: the server decides
        # when its workers end (it closes their pipes), so they outlive its shutdown
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        Worker(conn).run()
    except (EOFError, BrokenPipeError, ConnectionResetError, OSError):
        pass  # the server is gone: nothing left to serve
    except KeyboardInterrupt:
        pass
    finally:
        conn.close()
        sys.stdout.flush()
