"""A worker process: hosts many sessions and trains their members in batched groups.

Commands arrive on a connection from the server (``protocol``); frames go back
on it. Every member of every session that trains is in one group, by one policy
(``Worker.lane`` and the member's shape): one network's with every other network of its
shape and speed, a race's or sweep's members among themselves. Each cycle every group
trains for its share of a short time slice (a group of S members gets S shares and
spends them in one batched computation), then each session that is due one gets a
frame, its members' pictures batched by shape too. Frames slow down under load (never
below ``MIN_FPS``) before training does; a paused session costs nothing.

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

from playground.engine.train.group import Group
from playground.engine.train.trainer import Trainer
from playground.server import protocol as p
from playground.server.frames import picture_key, pictures
from playground.server.hosted import MAX_CREDIT, Hosted, frame_rate

CYCLE_S = 0.03  # training time per cycle at most, shared by the playing sessions
MIN_SLICE_S = 0.003
IDLE_POLL_S = 0.5
BEAT_S = 0.5  # a heartbeat this often, playing or idle


class Worker:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.hosted: dict[str, Hosted] = {}
        # every training member of every session, in groups of one shape and one lane:
        # (lane, shape) -> (the group, the sessions its members belong to)
        self.groups: dict[tuple, tuple[Group, list[Hosted]]] = {}
        self.stale: set[tuple] = set()  # keys whose group must be formed anew
        self.frame_cost = 0.001  # seconds per member's frame, a running mean
        self.send_lock = threading.Lock()  # the loop and the heartbeat share the pipe
        self.loop_at = time.monotonic()  # when the loop last went round
        self.handlers = {p.PLAY: Hosted.play, p.PAUSE: Hosted.pause, p.STEP: Hosted.step,
                         p.RESTART: Hosted.restart, p.CONFIG: Hosted.config,
                         p.SET_PARAM: Hosted.set_param, p.LOAD: Hosted.load,
                         p.VIEW: Hosted.view}

    # -- commands ------------------------------------------------------------------------
    def open(self, sid: str, spec: dict) -> None:
        self.hosted[sid] = Hosted.open(spec)
        self._invalidate(sid)

    def close(self, sid: str) -> None:
        self._invalidate(sid)
        del self.hosted[sid]

    def command(self, sid: str, name: str, args: list) -> None:
        """A command for one session: out of its groups first (so it can change), with a
        frame due at once."""
        if name == p.OPEN:
            self.open(sid, *args)
            return
        if sid not in self.hosted:
            return  # closed already
        if name == p.CLOSE:
            self.close(sid)
            return
        h = self.hosted[sid]
        trains_anew = name != p.VIEW  # what the page shows changes no training
        if trains_anew:
            self._invalidate(sid)
        self.handlers[name](h, *args)
        if trains_anew:
            self._invalidate(sid)  # a command may change what trains
        h.dirty, h.next_frame = True, 0.0

    @staticmethod
    def lane(sid: str, h: Hosted) -> tuple:
        """Sessions' members in one lane and of one shape train as one group: one
        network's with every other's of its speed; a study's only among themselves (its
        members stay level)."""
        return ("study", sid) if h.level else ("speed", h.speed)

    def _invalidate(self, sid: str) -> None:
        """The groups holding this session's members form anew before they train next."""
        h = self.hosted.get(sid)
        if h is None:
            return
        lane = self.lane(sid, h)
        for key in {(lane, t.group_key) for t in h.members}:
            entry = self.groups.pop(key, None)
            if entry is not None:
                entry[0].dissolve()
            self.stale.add(key)

    # -- the loop ------------------------------------------------------------------------
    def send(self, message: dict) -> None:
        data = p.pack_frames(message)
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
            busy = any(h.training or h.dirty for h in self.hosted.values())
            if self.conn.poll(0 if busy else IDLE_POLL_S):
                self.receive()  # then train on: a stream of commands must not starve it
            self.train()
            self.send_frames()

    def receive(self) -> None:
        while self.conn.poll():
            sid, commands = json.loads(self.conn.recv_bytes())
            for name, args in commands:
                try:
                    self.command(sid, name, args)
                except Exception as error:  # one session's bad command must not stop the rest
                    self.fail(sid, error)

    def _form_groups(self) -> None:
        """One policy for every member of every session: the members that train now, by
        lane and shape."""
        if not self.stale:
            return
        members: dict[tuple, tuple[list[Trainer], list[Hosted]]] = {}
        for sid, h in self.hosted.items():
            lane = self.lane(sid, h)
            for t in h.trainees():
                key = (lane, t.group_key)
                if key in self.stale:
                    trainers, hosts = members.setdefault(key, ([], []))
                    trainers.append(t)
                    if h not in hosts:
                        hosts.append(h)
        for key, (trainers, hosts) in members.items():
            self.groups[key] = (Group(trainers), hosts)
        self.stale.clear()

    def train(self) -> None:
        self._form_groups()
        total = sum(len(group.members) for group, _ in self.groups.values())
        if not total:
            return
        now = time.perf_counter()
        # train until the next frame is due (so frames keep their rate), at most one cycle
        due = min((h.next_frame for h in self.hosted.values() if h.playing), default=now)
        budget = min(max(due - now, MIN_SLICE_S), CYCLE_S)
        studies: dict[str, list[Group]] = {}
        for key, (group, hosts) in list(self.groups.items()):
            lane = key[0]
            if lane[0] == "study":
                studies.setdefault(lane[1], []).append(group)
                continue
            try:
                self._train_speed_group(group, hosts, budget * len(group.members) / total, now)
            except Exception as error:
                for sid in [sid for sid, h in self.hosted.items() if h in hosts]:
                    self.fail(sid, error)
                continue
            if any(t.stopped for t in group.members):
                for h in hosts:
                    h.settle()
                    h.playing = h.playing and not h.members[0].stopped
                self.stale.add(key)
                self.groups.pop(key)[0].dissolve()
        for sid, groups in studies.items():  # a study of S members gets S shares
            h = self.hosted[sid]
            share = budget * sum(len(g.members) for g in groups) / total
            try:
                regroup = h.train_level(groups, share)
            except Exception as error:
                self.fail(sid, error)
                continue
            h.dirty = True
            if regroup:
                self._invalidate(sid)
                h.settle()

    def _train_speed_group(self, group: Group, hosts: list[Hosted], budget: float,
                           now: float) -> None:
        """One network's sessions of one shape and speed: as fast as their share allows,
        or the epochs their speed owes."""
        speed = hosts[0].speed
        if speed <= 0:
            group.run_for(budget)
        else:
            for h in hosts:
                h.credit = min(h.credit + (now - h.last_tick) * speed, MAX_CREDIT)
                h.last_tick = now
            owed = int(min(h.credit for h in hosts))
            if not owed:
                return
            ran = group.run_epochs(owed)
            for h in hosts:
                h.credit -= ran
        for h in hosts:
            h.dirty = True

    def fps(self) -> float:
        playing = sum(h.size for h in self.hosted.values() if h.playing)
        return frame_rate(self.frame_cost, playing)

    def send_frames(self) -> None:
        now = time.perf_counter()
        interval = 1.0 / self.fps()
        # those due within half a frame come along: pictures drawn together cost a third
        # as much each as one alone, and the sessions' frames fall into step
        soon = now + interval / 2
        due = [(sid, h) for sid, h in self.hosted.items() if h.dirty and soon >= h.next_frame]
        if not due:
            if not any(h.speed <= 0 and h.training for h in self.hosted.values()):
                time.sleep(0.002)  # only slow speeds (or nothing) to serve: do not spin
            return
        # every due member's picture, same-shaped ones in one batched pass
        batches: dict[tuple, list[tuple[int, int]]] = {}
        for d, (_, h) in enumerate(due):
            if h.picture_parts is not None:
                for i, t in enumerate(h.members):
                    batches.setdefault((h.picture_parts, picture_key(t)), []).append((d, i))
        drawn: list[list] = [[None] * h.size for _, h in due]
        for (parts, _), batch in batches.items():
            trainers = [due[d][1].members[i] for d, i in batch]
            every = [parts != "output" and due[d][1].shows_stats
                     and due[d][1].builders[i].wants_every_part(due[d][1].playing)
                     for d, i in batch]
            with torch.no_grad():
                for (d, i), picture in zip(batch, pictures(trainers, every,
                                                           neurons=parts == "all")):
                    if parts == "output":
                        picture = {"boundary": picture["boundary"]}
                    drawn[d][i] = picture
        frames = []
        for (sid, h), pics in zip(due, drawn):
            try:
                frames.append([sid, h.frame(pics, now, interval)])
            except Exception as error:
                self.fail(sid, error)
        self.send({"frames": frames})
        cost = (time.perf_counter() - now) / sum(h.size for _, h in due)
        self.frame_cost = 0.8 * self.frame_cost + 0.2 * cost

    def fail(self, sid: str, error: Exception) -> None:
        """A bug hit one session: log it, stop that session, tell its page in a sentence."""
        traceback.print_exc()
        if sid in self.hosted:
            self._invalidate(sid)
            del self.hosted[sid]
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
