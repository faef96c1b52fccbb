"""The class test: 30 simulated students and 2 real browser tabs on one server.

    python -m benchmarks.loadtest          # (make loadtest) about 4 minutes

The server is started as ``make run`` starts it. Thirty students (``student.py``:
Streamlit's own protocol, then the live stream, no browser) open the page with a
mix of settings, so the workers hold several groups, and play for 3 minutes;
every 30 s a few of them pause and play on. Two headless Chromium tabs play
beside them and are watched for exceptions. Checks: nothing lost (every student
and tab kept advancing, no error or notice), no stall over 1 s in any student's
frames while it played, the health check stayed fast. Writes
``benchmarks/results/loadtest.{json,md}``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from datetime import UTC, datetime

from benchmarks.classroom import HealthProber, largest_gap, open_students, pause_round
from benchmarks.common import browser, log, tree_memory_mib
from benchmarks.report import RESULTS

STUDENTS = 30
PLAY_S = 180.0
ROUND_S = 30.0  # every ROUND_S a few students pause and play on
# what the students open: most the default, some other shapes (other groups)
QUERIES = [""] * 20 + ["dataset=xor&hidden=8,8"] * 5 + ["dataset=spiral&optimizer=adam"] * 5
MAX_STALL_S = 1.0


def browser_tabs(url: str, stop: threading.Event, report: dict) -> None:
    """Two tabs that play until stop is set; their errors and epochs go to report."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = browser.launch_chromium(playwright)
        pages = []
        for _ in range(2):
            page = chromium.new_context(viewport=browser.VIEWPORT).new_page()
            page.on("pageerror", lambda error: report["errors"].append(str(error)))
            browser.open_playground(page, url + "/?dataset=spiral", timeout_ms=90_000)
            browser.transport(page, "play").click()
            pages.append(page)
        report["ready"] = True
        start = [browser.shown_epoch(page) for page in pages]
        while not stop.wait(5.0):
            report["epochs"] = [browser.shown_epoch(page) - s for page, s in zip(pages, start)]
        report["exceptions"] = [t for page in pages for t in browser.script_errors(page)]
        chromium.close()


async def students_run(server) -> dict:
    students = []
    refusals: list[str] = []
    for query in sorted(set(QUERIES)):
        opened, refused = await open_students(server.url, QUERIES.count(query), query)
        students += opened
        refusals += refused
    await asyncio.gather(*(s.play() for s in students))
    start = time.monotonic()
    totals = [[s.total] for s in students]
    peak_pss = 0.0
    pauses: list[float | None] = []
    for round_ in range(int(PLAY_S / ROUND_S)):
        await asyncio.sleep(ROUND_S)
        for s, seen in zip(students, totals):
            seen.append(s.total)
        peak_pss = max(peak_pss, tree_memory_mib(server)["pss"])
        chosen = students[round_ * 5 % len(students):][:5]
        pauses += await pause_round(chosen)
    end = time.monotonic()
    gaps = [largest_gap(s, start, end) for s in students]
    result = {
        "students": len(students), "refusals": refusals,
        "every_round_advanced": all(b > a for seen in totals for a, b in zip(seen, seen[1:])),
        "epochs_min": min(seen[-1] - seen[0] for seen in totals),
        "largest_gap_s": max(gaps), "errors": [e for s in students for _, e in s.errors],
        "notices": [n for s in students for _, n in s.notices],
        "closed": sum(s.closed_code is not None for s in students),
        "pause_never": pauses.count(None), "peak_pss_mib": round(peak_pss)}
    await asyncio.gather(*(s.close() for s in students), return_exceptions=True)
    return result


def run() -> dict:
    tabs = {"errors": [], "epochs": [0, 0], "exceptions": [], "ready": False}
    stop = threading.Event()
    with browser.running_app() as server, HealthProber(server.url) as prober:
        thread = threading.Thread(target=browser_tabs, args=(server.url, stop, tabs))
        thread.start()
        deadline = time.monotonic() + 120
        while not tabs["ready"] and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.5)
        log(f"browser tabs ready; {STUDENTS} students for {PLAY_S:.0f} s")
        result = asyncio.run(students_run(server))
        stop.set()
        thread.join(timeout=60)
        result["health"] = prober.figures()
    result.update(date=datetime.now(UTC).isoformat(timespec="seconds"), play_s=PLAY_S,
                  tab_epochs=tabs["epochs"], tab_errors=tabs["errors"] + tabs["exceptions"])
    return result


def verdict(r: dict) -> list[tuple[str, str, bool]]:
    return [
        ("every student opened", f"{r['students']} of {STUDENTS}, {len(r['refusals'])} refused",
         r["students"] == STUDENTS),
        ("every student advanced in every 30 s", f"min {r['epochs_min']:,} epochs in all",
         r["every_round_advanced"]),
        ("nothing lost: no error, notice or dropped stream",
         f"{len(r['errors'])} errors, {len(r['notices'])} notices, {r['closed']} closed",
         not (r["errors"] or r["notices"] or r["closed"])),
        (f"no stall over {MAX_STALL_S:g} s in any student's frames",
         f"longest gap {r['largest_gap_s']:.2f} s", r["largest_gap_s"] <= MAX_STALL_S),
        ("every pause took", f"{r['pause_never']} never did", r["pause_never"] == 0),
        ("2 browser tabs: no exception, both advanced",
         f"{len(r['tab_errors'])} errors, epochs {r['tab_epochs']}",
         not r["tab_errors"] and all(e > 0 for e in r["tab_epochs"])),
        ("health check p99 under 100 ms", f"{r['health']['p99_ms']:.0f} ms",
         (r["health"]["p99_ms"] or 1e9) < 100),
    ]


def main() -> int:
    result = run()
    checks = verdict(result)
    lines = [f"Class test of {result['date']}: {STUDENTS} simulated students and 2 browser "
             f"tabs on one server, {PLAY_S:.0f} s; peak server memory (PSS) "
             f"{result['peak_pss_mib']} MiB.", "", "| check | measured | result |", "|---|---|---|"]
    lines += [f"| {name} | {value} | {'pass' if ok else '**fail**'} |"
              for name, value, ok in checks]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "loadtest.json").write_text(json.dumps(result, indent=2))
    (RESULTS / "loadtest.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if all(ok for _, _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
