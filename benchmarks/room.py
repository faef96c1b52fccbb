"""A class room under load: 30 protocol students (``student.py``) in one room plus a
teacher-view client on the room's stream, against the same 30 without a room, on one
server in one run (the machine is shared: ratios within a run, not absolute figures).

Figures: the students' epochs/s in the room over those without (target >= 0.9); the
largest gap between two updates of any tile in the teacher's stream (target <= 1 s);
the time from the teacher's "send my experiment" to the last student's notice
(target <= 2 s).

    python -m benchmarks.room            # starts a server; writes results/room.{json,md}
    python -m benchmarks.room --url http://127.0.0.1:8501 --n 30   # one figure, printed
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import time

from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.asyncio.client import connect

from benchmarks.classroom import open_students
from benchmarks.student import endpoints, first_run_message
from playground.server import protocol as p

STUDENTS = 30
MANY = 100  # the room's limit: it must still work
ROOM_VIEW_KEY = "room_view"  # the key the teacher page mounts the room's view with
ROOM_GO_KEY = "room_go"  # ... and the page that only passes on to another address


class TeacherClient:
    """The teacher's page as a protocol client: opens ``?room=new``, then reads the
    room's stream and books when each tile last changed."""

    def __init__(self, url: str, query: str = "room=new&dataset=xor") -> None:
        self.url, self.query = url, query
        self.updates: dict[str, list[float]] = {}  # tile id -> arrival times
        self.tasks: list[asyncio.Task] = []

    async def open(self) -> None:
        base, prefix, origin = endpoints(self.url)
        data, query = None, self.query
        async with asyncio.timeout(60):
            while data is None:
                # ?room=new picks a code and sends the page on to ?room=CODE&open=1 (a new
                # page load, which a load balancer routes by the code): follow it
                self.page = await connect(f"{base}{prefix}/_stcore/stream",
                                          subprotocols=["streamlit"], origin=origin,
                                          proxy=None, max_size=None)
                await self.page.send(first_run_message(self.url, query))
                while True:
                    msg = ForwardMsg.FromString(await self.page.recv())
                    component = msg.delta.new_element.bidi_component
                    key = component.id.rsplit("-", 1)[-1]
                    if key not in (ROOM_VIEW_KEY, ROOM_GO_KEY):
                        continue
                    kind = component.WhichOneof("data")
                    found = json.loads(component.json if kind == "json" else component.mixed.json)
                    if key == ROOM_VIEW_KEY:
                        data = found
                    else:
                        query = found["url"].lstrip("?")
                        await self.page.close()
                    break
        self.key, self.code = data["key"], data["code"]
        self.tasks.append(asyncio.create_task(self._drain(self.page)))
        self.live = await connect(f"{base}{prefix}/live/{self.key}", origin=origin, proxy=None,
                                  max_size=None)
        self.tasks.append(asyncio.create_task(self._read()))

    @staticmethod
    async def _drain(ws) -> None:
        try:
            async for _ in ws:
                pass
        except Exception:  # noqa: BLE001  (closed under us)
            pass

    async def _read(self) -> None:
        try:
            async for raw in self.live:
                now = time.monotonic()
                for tile in json.loads(p.stream_json(raw))["tiles"]:
                    self.updates.setdefault(tile["id"], []).append(now)
        except Exception:  # noqa: BLE001  (the stream ended)
            pass

    async def command(self, action: str, **fields) -> None:
        await self.live.send(json.dumps({"cmd": "room", "action": action, "key": self.key,
                                         **fields}))

    def largest_gap(self, start: float, end: float) -> float:
        """The longest time any tile went without an update in [start, end]."""
        gaps = []
        for times in self.updates.values():
            inside = [start] + [t for t in times if start <= t <= end] + [end]
            gaps.append(max(b - a for a, b in zip(inside, inside[1:])))
        return max(gaps) if gaps else float("inf")

    async def close(self) -> None:
        for ws in (self.live, self.page):
            await ws.close()
        for task in self.tasks:
            task.cancel()


async def _rates(students, seconds: float, warmup: float) -> tuple[list[float], float, float]:
    await asyncio.gather(*(s.play() for s in students))
    await asyncio.sleep(warmup)
    start = time.monotonic()
    await asyncio.sleep(seconds)
    end = time.monotonic()
    return [s.epochs_per_s(start, end) for s in students], start, end


async def measure(url: str, count: int = STUDENTS, seconds: float = 10.0,
                  warmup: float = 3.0) -> dict:
    alone, problems = await open_students(url, count, "dataset=xor")
    try:
        alone_rates, _, _ = await _rates(alone, seconds, warmup)
    finally:
        await asyncio.gather(*(s.close() for s in alone), return_exceptions=True)
    await asyncio.sleep(3)  # the closed sessions leave the workers
    teacher = TeacherClient(url)
    await teacher.open()
    # one name for all: the room gives each a suffix (s, s 2, s 3, ...)
    students, more = await open_students(url, count, f"room={teacher.code}&name=s")
    problems += more
    try:
        room_rates, start, end = await _rates(students, seconds, warmup)
        gap = teacher.largest_gap(start, end)
        sent = time.monotonic()
        await teacher.command("push")
        deadline = sent + 10
        while time.monotonic() < deadline and not all(
                any(at > sent and "new experiment" in text for at, text in s.notices)
                for s in students):
            await asyncio.sleep(0.02)
        reached = [min((at for at, text in s.notices if at > sent and "new experiment" in text),
                       default=float("inf")) - sent for s in students]
    finally:
        await asyncio.gather(*(s.close() for s in students), return_exceptions=True)
        await teacher.close()
    mean_alone = sum(alone_rates) / max(1, len(alone_rates))
    mean_room = sum(room_rates) / max(1, len(room_rates))
    return {"students": len(students), "alone_epochs_per_s": round(mean_alone, 1),
            "room_epochs_per_s": round(mean_room, 1),
            "ratio": round(mean_room / mean_alone, 3) if mean_alone else None,
            "tiles": len(teacher.updates), "largest_tile_gap_s": round(gap, 2),
            "push_reached_all_s": round(max(reached), 2), "problems": problems}


async def warm_up(url: str, count: int = STUDENTS, seconds: float = 8.0) -> None:
    """A fresh server's first students pay for its workers' start (torch, the first
    groups): play a class once, unmeasured, so "alone" is not the cold run."""
    students, _ = await open_students(url, count, "dataset=xor")
    try:
        await asyncio.gather(*(s.play() for s in students))
        await asyncio.sleep(seconds)
    finally:
        await asyncio.gather(*(s.close() for s in students), return_exceptions=True)
    await asyncio.sleep(3)


def run(server, warm: bool = False) -> dict:
    """The room of 30 against the same 30 alone, then a room of 100 (does it still work:
    every tile there, a push reaches everyone)."""
    if warm:
        asyncio.run(warm_up(server.url))
    figures = {STUDENTS: asyncio.run(measure(server.url))}
    time.sleep(3)  # the 30's sessions leave the workers
    figures[MANY] = asyncio.run(measure(server.url, MANY, seconds=10.0, warmup=5.0))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=None,
                        help="a running server (default: start one, as make bench does)")
    parser.add_argument("--n", type=int, default=None, help="only this many students")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    if args.url and args.n:
        print(json.dumps(asyncio.run(measure(args.url, args.n, args.seconds)), indent=1))
        return
    from benchmarks.__main__ import cpu_model
    from benchmarks.common import browser
    from benchmarks.report import RESULTS, markdown
    from benchmarks.targets import room_rows

    load_before, started = [round(x, 2) for x in os.getloadavg()], time.monotonic()
    if args.url:
        figures = run(type("Server", (), {"url": args.url})())
    else:
        with browser.running_app() as server:
            figures = run(server, warm=True)
    meta = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "cpu_count": os.cpu_count(), "cpu_model": cpu_model(),
            "load_avg_start": load_before, "wall_s": time.monotonic() - started,
            "load_avg_end": [round(x, 2) for x in os.getloadavg()]}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "room.json").write_text(json.dumps({**meta, "room": figures}, indent=1))
    table = markdown(room_rows({"room": figures}), meta)
    (RESULTS / "room.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
