"""``python -m benchmarks``: every figure, with targets, in about ten minutes.

Order: raw trainer and group speed (no server); then one app server, started as
``make run`` starts it, for the page figures of one visitor in a real browser
(epochs/s seen, redraws/s, pause latency, time to interactive and the first visit's
bytes against a bare Streamlit page, a class of 30 real pages), then a class of
simulated students (1, 30, 100 at once), a class room, then the floods and a killed
worker (``attacks.py``). A failing section is recorded and the rest still run; servers
and the browser are always stopped.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import platform
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

from benchmarks import attacks, classroom, concurrency, raw, report, room, targets
from benchmarks import page as pg
from benchmarks.common import ROOT, browser, log, median

PAUSE_TRIES = 20
TTI_TRIES = 3
BARE_PAGE = 'import streamlit as st\n\nst.title("Bare page")\nst.button("Go", key="go")\n'


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


class Sections:
    """Runs named sections; a failure is logged and recorded, not fatal."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.durations: dict[str, float] = {}

    def run(self, name: str, action):
        start = time.monotonic()
        log(f"{name} ...")
        try:
            return action()
        except Exception as error:  # a benchmark reports a failure; the rest still runs
            traceback.print_exc(file=sys.stderr)
            self.errors.append(f"{name}: {type(error).__name__}: {str(error)[:300]}")
            return None
        finally:
            self.durations[name] = round(time.monotonic() - start, 1)


def first_page(chromium, server, errors) -> list:
    """The first page, which the single-session run then measures (its rates start 2 s
    after play, well past any first-load cost). The app may be mid-edit during
    development: one retry after a pause."""
    for attempt in range(2):
        try:
            return pg.open_pages(chromium, server.url + "/", 1, errors)
        except Exception:
            if attempt:
                raise
            log("the first page load failed; retrying in 30 s")
            time.sleep(30)
    return []


def time_to_interactive(chromium, server) -> dict:
    """Fresh loads of the playground and of a bare Streamlit page, alternating so that
    drifting background load hits both alike; medians of each milestone."""
    marks: dict[str, dict[str, list[float]]] = {"playground": {}, "bare": {}}
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bare_page.py"
        script.write_text(BARE_PAGE)
        # same cwd as the app, so the same .streamlit/config.toml applies
        with browser.running_app(str(script)) as bare:
            pg.load_once(chromium, bare.url, pg.bare_ready)  # its first load warms it up
            for _ in range(TTI_TRIES):
                for name, url, ready in (("playground", server.url + "/", pg.playground_ready),
                                         ("bare", bare.url, pg.bare_ready)):
                    for mark, seconds in pg.load_once(chromium, url, ready).items():
                        marks[name].setdefault(mark, []).append(round(seconds, 3))
    log(f"time to interactive: {marks}")
    return {name: {"all": values, **{f"{mark}_median": median(v) for mark, v in values.items()}}
            for name, values in marks.items()}


def page_benchmarks(sections: Sections, figures: dict, page_errors: list[str], server) -> None:
    from playwright.sync_api import sync_playwright

    if browser.find_chromium() is None:
        sections.errors.append("page benchmarks: no chromium (apt-get install chromium)")
        return
    with sync_playwright() as p:
        chromium = browser.launch_chromium(p)
        try:
            run_on_server(sections, figures, page_errors, chromium, server)
        finally:
            chromium.close()


def run_on_server(sections, figures, page_errors, chromium, server) -> None:
    pages = sections.run("first page load", lambda: first_page(chromium, server, page_errors))
    if not pages:
        return  # the page does not load; nothing below can work

    def pause_20(page, result) -> None:
        stable_s = pg.stable_window(result["redraws_per_s_min"])
        figures["pause"] = {**pg.summarize_latencies(pg.pause_latencies(page, PAUSE_TRIES,
                                                                        stable_s)),
                            "stable_s": stable_s}
        log(f"pause latency ms: {figures['pause']['all_ms']}")

    figures["single"] = sections.run("1 session + pause latency", lambda: concurrency.one_run(
        chromium, server, page_errors, keep_first_page=pause_20, pages=pages))
    figures["tti"] = sections.run("time to interactive",
                                  lambda: time_to_interactive(chromium, server))
    figures["pages"] = sections.run("a class of 30 real pages", lambda: concurrency.
                                    class_of_pages(chromium, server, page_errors))


def main() -> int:
    # SIGTERM (e.g. a CI timeout) unwinds like Ctrl-C, so servers still get stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.chdir(ROOT)
    start = time.monotonic()
    meta = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "cpu_count": os.cpu_count(), "cpu_model": cpu_model(),
            "load_avg_start": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version()}
    sections = Sections()
    figures: dict = {}
    page_errors: list[str] = []
    figures["raw"] = sections.run("raw trainer", raw.run)
    with browser.running_app() as server:
        sections.run("page benchmarks",
                     lambda: page_benchmarks(sections, figures, page_errors, server))
        figures["class"] = sections.run("a class of simulated students",
                                        lambda: classroom.run(server))
        figures["room"] = sections.run("a class room: 30 students and a teacher view",
                                       lambda: room.run(server))
        figures["attacks"] = sections.run("floods and a killed worker",
                                          lambda: asyncio.run(attacks.run_all(server.url)))
    figures["page_errors"] = page_errors
    meta.update(wall_s=time.monotonic() - start, durations_s=sections.durations,
                load_avg_end=[round(x, 2) for x in os.getloadavg()],
                errors=sections.errors + [f"page error: {e[:200]}" for e in page_errors[:5]])
    rows = targets.rows(figures)
    print(report.write(rows, figures, meta))
    print(f"wrote {report.RESULTS / 'latest.json'} and latest.md", file=sys.stderr)
    return 1 if sections.errors else 0


if __name__ == "__main__":
    sys.exit(main())
