"""Small shared pieces: the browser helpers, timing, percentiles, the server's processes.

The browser helpers live in ``tests/browser.py`` so the smoke test and the benchmarks
start the app the same way; that folder is put on ``sys.path`` here exactly as pytest
does it, so both import the module under the same name.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))

import browser  # noqa: E402  (needs the path above)

START = time.monotonic()


def log(message: str) -> None:
    """Progress on stderr, so stdout holds only the final table."""
    print(f"[{time.monotonic() - START:6.1f}s] {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: list[float]) -> float | None:
    return percentile(values, 50)


def sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.monotonic()))


def worker_pids(server: browser.AppServer) -> set[int]:
    """The pool's worker processes, as the server itself reports them."""
    try:
        with urllib.request.urlopen(f"{server.url}/playground-status", timeout=5) as reply:
            return {w["pid"] for w in json.loads(reply.read())["workers"] if w["pid"]}
    except OSError:
        return set()


def tree_memory_mib(server: browser.AppServer) -> dict[str, float]:
    """RSS summed over the server and all descendants (counts pages shared with the
    forkserver once per process, so it overstates) and PSS (shares them out fairly)."""
    rss = pss = 0
    for proc in server.tree():
        try:
            info = proc.memory_full_info()
        except psutil.Error:
            continue
        rss += info.rss
        pss += getattr(info, "pss", info.rss)
    return {"rss": rss / 2**20, "pss": pss / 2**20}


def cpu_seconds(server: browser.AppServer) -> dict[int, tuple[str, float]]:
    """CPU time used so far per process, with its kind: the server itself, a worker,
    another server helper, or the browser (this process's other descendants: the
    playwright driver and chromium). cpu_share turns two readings into cores used."""
    tree = server.tree()
    workers = worker_pids(server)
    tree_pids = {p.pid for p in tree}
    browser_procs = [p for p in psutil.Process().children(recursive=True)
                     if p.pid not in tree_pids]
    seconds = {}
    for proc in tree + browser_procs:
        if proc.pid == server.pid:
            kind = "server"
        elif proc.pid in workers:
            kind = "workers"
        elif proc.pid in tree_pids:
            kind = "server_helpers"
        else:
            kind = "browser"
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        seconds[proc.pid] = (kind, times.user + times.system)
    return seconds


def cpu_share(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]],
              seconds: float) -> dict[str, float]:
    """Cores used per kind over a window (1.0 = one core fully busy). Only processes
    alive at both ends count: one that exits in between takes its CPU time with it."""
    used = {"server": 0.0, "workers": 0.0, "server_helpers": 0.0, "browser": 0.0}
    for pid, (kind, end) in after.items():
        if pid in before:
            used[kind] += end - before[pid][1]
    return {kind: round(total / seconds, 2) for kind, total in used.items()}


@contextmanager
def browsers_in_background(server: browser.AppServer, niceness: int = 19):
    """Lowest CPU priority for this run's browsers (this process's descendants that are
    not the server's). On one 2-core box the headless browsers would otherwise take the
    cores the trainers need; visitors' browsers run on their own machines. Every thread
    is reniced: Linux keeps a niceness per thread, and chromium's raster and compositor
    threads would keep theirs. (With the kernel's autogroups on, CPU is first shared
    between sessions, so this helps less than it would elsewhere; see scaling.py.)
    """
    tree_pids = {p.pid for p in server.tree()}
    for proc in psutil.Process().children(recursive=True):
        if proc.pid in tree_pids:
            continue
        try:
            for thread in proc.threads():
                os.setpriority(os.PRIO_PROCESS, thread.id, niceness)
        except (psutil.Error, OSError):
            pass
    yield
