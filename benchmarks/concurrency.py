"""Several visitors at once: 1, 2, 4, 8 pages playing the default config together.

With more than one page, the browsers run at the lowest CPU priority: they stand in
for visitors' own machines, and on this 2-core box they would otherwise take the
cores the server's trainers need (8 headless pages used 1.7 cores, their trainers 0.2).

Per run: per-session epochs/s and redraws/s, the server's memory (server process plus
every descendant) while all play, and how long the trainers outlive the closed pages.
At the largest count, pause latency is measured on each session while the others
keep playing. Each run starts only once the previous run's trainers are gone, so
its memory and CPU are its own.
"""

from __future__ import annotations

import time
from contextlib import nullcontext

from benchmarks import page as pg
from benchmarks.common import (
    browsers_in_background,
    cpu_seconds,
    cpu_share,
    log,
    trainer_processes,
    tree_memory_mib,
    wait_for_no_trainers,
)

COUNTS = (1, 2, 4, 8)
PAUSE_TRIES_PER_SESSION = 2
PAUSE_BUDGET_S = 60.0  # starved pages make each try slow; keep the whole run bounded
CLEANUP_LIMIT_S = 30.0  # a trainer still alive this long after its page closed is a leak


def one_run(chromium, server, count: int, errors: list[str], pause_tries: int = 0,
            keep_first_page=None, clean_start: bool = True, time_cleanup: bool = False,
            pages: list | None = None) -> dict:
    """Open count pages, play them all, measure; close them (and time the cleanup).

    keep_first_page(page, result) runs on the first page before closing (the
    single-session run measures pause latency there). clean_start waits until the
    trainers of earlier pages are gone (their memory would count here); without
    time_cleanup the pages are paused before closing, so their trainers idle until
    reaped instead of taking CPU from the next run. pages: already open ones to use.
    """
    leftover = 0
    if pages is None:
        if clean_start:
            wait_for_no_trainers(server, timeout=CLEANUP_LIMIT_S + 15)
            leftover = len(trainer_processes(server))  # would inflate this run's memory
        pages = pg.open_pages(chromium, server.url + "/", count, errors)
    background = browsers_in_background(server) if count > 1 else nullcontext()
    with background:
        try:
            def sample() -> dict:
                return {"at": time.monotonic(), "cpu": cpu_seconds(server),
                        "memory_mib": tree_memory_mib(server),
                        "trainers": len(trainer_processes(server))}

            measured = pg.measure_playing(pages, sample)
            start, end = measured["sample_start"], measured["sample_end"]
            rates = measured["per_session"]
            epochs = [r["epochs_per_s"] for r in rates]
            redraws = [r["redraws_per_s"] for r in rates]
            result = {"sessions": count, "per_session": rates, "leftover_at_start": leftover,
                      "epochs_per_s_mean": sum(epochs) / count, "epochs_per_s_min": min(epochs),
                      "redraws_per_s_mean": sum(redraws) / count, "redraws_per_s_min": min(redraws),
                      "memory_mib": end["memory_mib"], "trainers": end["trainers"],
                      "cores_used": cpu_share(start["cpu"], end["cpu"], end["at"] - start["at"])}
            log(f"{count} session(s): epochs/s {[round(e) for e in epochs]}, "
                f"redraws/s {[round(r, 1) for r in redraws]}, "
                f"RSS {end['memory_mib']['rss']:.0f} MiB, trainers {end['trainers']}, "
                f"cores used {result['cores_used']}")
            if pause_tries:
                latencies = []
                stable_s = pg.stable_window(min(redraws))
                budget_end = time.monotonic() + PAUSE_BUDGET_S
                for _ in range(pause_tries):  # round robin; each page plays again at once
                    for page in pages:
                        if time.monotonic() > budget_end:
                            break
                        latencies.append(pg.pause_try(page, first=True, stable_s=stable_s))
                        try:
                            pg.resume(page, play_s=0.3)
                        except Exception as error:
                            log(f"resume failed: {type(error).__name__}: {str(error)[:200]}")
                result["pause"] = {**pg.summarize_latencies(latencies), "stable_s": stable_s}
                log(f"{count} sessions: pause ms {result['pause']['all_ms']}")
            if keep_first_page:
                keep_first_page(pages[0], result)
            if not time_cleanup:
                pg.pause_all(pages)
        finally:
            pg.close_pages(pages)
    if time_cleanup:
        seconds, samples = wait_for_no_trainers(server, timeout=CLEANUP_LIMIT_S + 15)
        result["cleanup_s"], result["cleanup_samples"] = seconds, samples
        log(f"{count} session(s): trainers gone {seconds} s after closing: {samples}")
    return result


def summarize(runs: dict[int, dict], idle_memory: dict) -> dict:
    """Relative speeds and memory per extra session from the runs."""
    single = runs.get(1)
    summary: dict = {"idle_memory_mib": idle_memory}
    if not single:
        return summary
    for run in runs.values():
        run["relative_epochs"] = run["epochs_per_s_mean"] / single["epochs_per_s_mean"]
        run["relative_redraws"] = (run["redraws_per_s_mean"] / single["redraws_per_s_mean"]
                                   if single["redraws_per_s_mean"] else None)
    largest = max(runs)
    if largest > 1:
        extra = largest - 1
        summary["mib_per_extra_session_rss"] = (
            runs[largest]["memory_mib"]["rss"] - single["memory_mib"]["rss"]) / extra
        summary["mib_per_extra_session_pss"] = (
            runs[largest]["memory_mib"]["pss"] - single["memory_mib"]["pss"]) / extra
    return summary
