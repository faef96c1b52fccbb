"""Visitors in a real browser: one, with epochs/s and redraws/s seen on the page, the
CPU the server, its workers and the browser use, and the server's memory; and a class
of 30 real pages sharing the machine with the server (Plotly drawing in one of them).

(The class figures of ``classroom.py`` come from simulated students: a headless
browser each measures the browsers, which share these cores, as much as the server.)
"""

from __future__ import annotations

import time

from benchmarks import page as pg
from benchmarks.common import cpu_seconds, cpu_share, log, tree_memory_mib


def one_run(chromium, server, errors: list[str], keep_first_page=None,
            pages: list | None = None) -> dict:
    """Play one page (opened here, or given), measure, then close it.

    keep_first_page(page, result) runs on the page before closing (the single-session
    run measures pause latency there)."""
    pages = pages or pg.open_pages(chromium, server.url + "/", 1, errors)
    try:
        def sample() -> dict:
            return {"at": time.monotonic(), "cpu": cpu_seconds(server),
                    "memory_mib": tree_memory_mib(server)}

        measured = pg.measure_playing(pages, sample)
        start, end = measured["sample_start"], measured["sample_end"]
        rate = measured["per_session"][0]
        result = {"sessions": 1, "per_session": measured["per_session"],
                  "epochs_per_s_mean": rate["epochs_per_s"],
                  "redraws_per_s_mean": rate["redraws_per_s"],
                  "redraws_per_s_min": rate["redraws_per_s"],
                  "display_frames_per_s": rate["display_frames_per_s"],
                  "memory_mib": end["memory_mib"],
                  "cores_used": cpu_share(start["cpu"], end["cpu"], end["at"] - start["at"])}
        log(f"1 session: {rate}, cores used {result['cores_used']}")
        if keep_first_page:
            keep_first_page(pages[0], result)
        pg.pause_all(pages)
    finally:
        pg.close_pages(pages)
    return result


def class_of_pages(chromium, server, errors: list[str], count: int = 30) -> dict:
    """count real pages playing at once, Plotly stubbed in all but the first; the
    epochs/s each page drew."""
    pages = pg.open_pages(chromium, server.url + "/", count, errors, stub_plotly_after=1)
    try:
        measured = pg.measure_playing(pages)
        rates = [r["epochs_per_s"] for r in measured["per_session"]]
        redraws = [r["redraws_per_s"] for r in measured["per_session"]]
        result = {"pages": count, "epochs_per_s": {"min": min(rates), "mean": sum(rates) / count,
                                                   "plotly_page": rates[0], "all": rates},
                  "redraws_per_s": {"min": min(redraws), "all": redraws}}
        log(f"{count} pages: epochs/s {result['epochs_per_s']}")
        pg.pause_all(pages)
    finally:
        pg.close_pages(pages)
    return result
