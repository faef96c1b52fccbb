"""Server-side scaling: 1, 2, 4, 8 trainer processes playing at once, no browser.

The page figures of concurrency.py run the visitors' headless browsers on the same
2 cores as the server, where they take most of the CPU. This measures what the
server itself does with several sessions: trainer processes started and driven
through the runner interface the page uses, epochs/s read from their snapshots.
"""

from __future__ import annotations

import time

from benchmarks.common import log
from playground.engine.config import Config
from playground.engine.limits import Limits
from playground.server.runner import start_runner

COUNTS = (1, 2, 4, 8)
WARMUP_S, WINDOW_S = 2.0, 6.0


def pause_latencies(runners) -> list[float]:
    """Milliseconds from pause() until each trainer reports that it stopped."""
    latencies = []
    for runner in runners:
        started = time.monotonic()
        runner.pause()
        runner.wait_for(lambda s: not s["playing"], timeout=10)
        latencies.append((time.monotonic() - started) * 1000)
    return latencies


def one_count(count: int, measure_pause: bool = False) -> tuple[list[float], list[float]]:
    limits = Limits(max_trainers=max(COUNTS))
    runners = [start_runner(Config(), use_process=True, limits=limits) for _ in range(count)]
    try:
        for runner in runners:
            runner.wait_for(lambda s: s.get("metric") is not None, timeout=60)
        for runner in runners:
            runner.play()
        time.sleep(WARMUP_S)
        first = [runner.snapshot()["epoch"] for runner in runners]
        started = time.monotonic()
        time.sleep(WINDOW_S)
        last = [runner.snapshot()["epoch"] for runner in runners]
        elapsed = time.monotonic() - started
        pauses = pause_latencies(runners) if measure_pause else []
        return [(b - a) / elapsed for a, b in zip(first, last)], pauses
    finally:
        for runner in runners:
            runner.close()


def run() -> dict:
    runs = {}
    for count in COUNTS:
        rates, pauses = one_count(count, measure_pause=count == max(COUNTS))
        runs[count] = {"epochs_per_s": rates, "mean": sum(rates) / count,
                       "pause_ms": sorted(pauses)}
        log(f"server-side, {count} trainer(s): epochs/s {[round(r) for r in rates]}"
            + (f", pause ms {[round(p) for p in pauses]}" if pauses else ""))
    single = runs[1]["mean"]
    for run_ in runs.values():
        run_["relative"] = run_["mean"] / single if single else None
    return {"runs": runs}
