"""A class on one server: simulated students (``student.py``) driving the real server.

Each student opens a session as a browser does (Streamlit's own protocol, then the
live stream), plays, and reads every frame; none renders anything, so 100 of them
fit beside the server on the same 2 cores. Measured while they all play: each
student's epochs/s and frames/s, pause latency (everyone pauses and plays again,
a few at a time, while the rest keep training), the health check's latency (a
prober hits it every 50 ms, as a load balancer would), the server's CPU and
memory, and the students' own CPU, since they share the machine.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.request

import psutil

from benchmarks.common import log, percentile, tree_memory_mib
from benchmarks.student import Student

OPEN_AT_ONCE = 10  # students opening their page at the same moment
PAUSE_AT_ONCE = 5


class HealthProber:
    """GET /_stcore/health every `every` s on a thread of its own; latencies in ms."""

    def __init__(self, url: str, every: float = 0.05) -> None:
        self.url, self.every = f"{url}/_stcore/health", every
        self.samples: list[tuple[float, float | None]] = []  # (when, ms or None: failed)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> HealthProber:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        self.thread.join()

    def _run(self) -> None:
        while not self.stopped.is_set():
            start = time.monotonic()
            try:
                with urllib.request.urlopen(self.url, timeout=2) as reply:
                    reply.read()
                self.samples.append((start, (time.monotonic() - start) * 1000))
            except OSError:
                self.samples.append((start, None))
            self.stopped.wait(max(0.0, self.every - (time.monotonic() - start)))

    def figures(self, start: float = 0.0, end: float = float("inf")) -> dict:
        window = [ms for at, ms in self.samples if start <= at <= end]
        ok = [ms for ms in window if ms is not None]
        return {"p50_ms": percentile(ok, 50), "p99_ms": percentile(ok, 99),
                "max_ms": max(ok, default=None), "failures": len(window) - len(ok),
                "samples": len(window)}


def server_status(url: str) -> dict:
    with urllib.request.urlopen(f"{url}/playground-status", timeout=5) as reply:
        return json.loads(reply.read())


def cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for proc in processes:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


async def open_students(url: str, count: int, query: str) -> tuple[list[Student], list[str]]:
    """Open count students, OPEN_AT_ONCE at a time; (the open ones, refusals)."""
    students, refusals = [], []
    for first in range(0, count, OPEN_AT_ONCE):
        batch = [Student(url, query) for _ in range(min(OPEN_AT_ONCE, count - first))]
        results = await asyncio.gather(*(s.open() for s in batch), return_exceptions=True)
        for student, result in zip(batch, results):
            if isinstance(result, BaseException):
                refusals.append(f"{type(result).__name__}: {str(result)[:200]}")
            else:
                students.append(student)
    return students, refusals


def largest_gap(student: Student, start: float, end: float) -> float:
    """Longest time without a frame inside [start, end]."""
    times = [start] + [t for t in student.arrivals if start < t < end] + [end]
    return max(b - a for a, b in zip(times, times[1:]))


async def pause_round(students: list[Student]) -> list[float | None]:
    """Everyone pauses (PAUSE_AT_ONCE at a time) and plays on at once."""
    latencies: list[float | None] = []
    for first in range(0, len(students), PAUSE_AT_ONCE):
        batch = students[first:first + PAUSE_AT_ONCE]
        latencies += await asyncio.gather(*(s.pause() for s in batch))
        await asyncio.gather(*(s.play() for s in batch))
    return latencies


async def run_class(server, count: int, seconds: float = 10.0, warmup: float = 3.0,
                    query: str = "", pause: bool = True) -> dict:
    """count students playing for `seconds` on a running server; every figure."""
    url = server.url
    mine = psutil.Process()
    with HealthProber(url) as prober:
        students, refusals = await open_students(url, count, query)
        log(f"{len(students)} of {count} students open ({len(refusals)} refused)")
        await asyncio.gather(*(s.play() for s in students))
        await asyncio.sleep(warmup)
        tree = server.tree()
        server_cpu, my_cpu = cpu_seconds(tree), cpu_seconds([mine])
        start = time.monotonic()
        await asyncio.sleep(seconds)
        end = time.monotonic()
        cores = {"server": (cpu_seconds(tree) - server_cpu) / (end - start),
                 "students": (cpu_seconds([mine]) - my_cpu) / (end - start)}
        memory = tree_memory_mib(server)
        epochs = [s.epochs_per_s(start, end) for s in students]
        frames = [s.frames_per_s(start, end) for s in students]
        gaps = [largest_gap(s, start, end) for s in students]
        health = prober.figures(start, end)
        latencies = await pause_round(students) if pause else []
        took = [x * 1000 for x in latencies if x is not None]
        status = server_status(url)
        await asyncio.gather(*(s.close() for s in students), return_exceptions=True)
    result = {
        "students": count, "opened": len(students), "refusals": refusals,
        "epochs_per_s": {"min": min(epochs, default=None), "mean": _mean(epochs),
                         "max": max(epochs, default=None)},
        "frames_per_s": {"min": min(frames, default=None), "mean": _mean(frames)},
        "progressed": sum(e > 0 for e in epochs), "largest_gap_s": max(gaps, default=None),
        "pause_ms": {"p50": percentile(took, 50), "p95": percentile(took, 95),
                     "max": max(took, default=None), "never": latencies.count(None)},
        "health": health, "cores_used": {k: round(v, 2) for k, v in cores.items()},
        "memory_mib": memory, "workers": status["workers"]}
    log(f"{count} students: epochs/s {result['epochs_per_s']}, frames/s "
        f"{result['frames_per_s']}, pause {result['pause_ms']}, health {health}, "
        f"cores {result['cores_used']}, PSS {memory['pss']:.0f} MiB")
    return result


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def idle_memory(server, settle_s: float = 3.0) -> dict:
    """The server's memory with its workers up and no session (after a short settle)."""
    time.sleep(settle_s)
    return tree_memory_mib(server)


def run(server) -> dict:
    """The figures ``make bench`` reports: 1, 30 and 100 students, memory per session."""
    idle = idle_memory(server)
    figures = {"idle_memory_mib": idle}
    for count, seconds in ((1, 8.0), (30, 10.0), (100, 10.0)):
        figures[count] = asyncio.run(run_class(server, count, seconds))
        time.sleep(3.0)  # the closed sessions' pages leave; the next run starts clean
    crowd = figures[100]
    figures["mib_per_session_pss"] = (crowd["memory_mib"]["pss"] - idle["pss"]) / crowd["opened"]
    return figures
