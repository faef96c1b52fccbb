"""Load test: 12 visitors on two replicas behind nginx, on loopback, bounded in time.

    python -m benchmarks.loadtest          # (make loadtest) about 2-3 minutes

Each headless Chromium session opens the page through the proxy, changes a few
settings, plays for 60 s, pauses, resets and closes. Then it checks that no page
showed an exception, every session's epoch counter advanced, the servers' memory
stayed under the stated bound, the sessions were spread over both replicas, and
every trainer process ended. Writes ``benchmarks/results/loadtest.{json,md}``.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime

from playwright.sync_api import sync_playwright

from benchmarks.cluster import running_cluster
from benchmarks.common import browser, log, trainer_processes, tree_memory_mib
from benchmarks.report import RESULTS

SESSIONS = 12
PLAY_S = 60.0
MEMORY_BOUND_MIB = 4096  # PSS of both replicas with all their trainers
TRAINERS_PER_REPLICA = 8  # so all 12 sessions get a trainer on 2 replicas
GONE_WITHIN_S = 40.0
# what the visitors change: a data set (thumbnail click) and a menu each
DATASETS = ["xor", "spiral", "gauss", "moons", "spiral3", "blobs3"]
LEARNING_RATES = ["0.1", "0.01", "0.3"]


def open_session(chromium, url: str, index: int, errors: list[str]):
    page = chromium.new_context(viewport=browser.VIEWPORT).new_page()
    page.set_default_timeout(60_000)
    page.on("pageerror", lambda error: errors.append(f"session {index}: {error}"))
    browser.open_playground(page, url, timeout_ms=90_000)
    page.click(f'.pg-pick[data-name="{DATASETS[index % len(DATASETS)]}"]')
    page.locator(".st-key-cfg_learning_rate").click()
    page.get_by_role("option", name=LEARNING_RATES[index % len(LEARNING_RATES)],
                     exact=True).click()
    page.wait_for_function("() => (window.__pgStats || {}).messages > 0", timeout=60_000)
    return page


def replica_counts(cluster) -> list[int]:
    return [len(trainer_processes(replica)) for replica in cluster.replicas]


def run() -> dict:
    errors: list[str] = []
    env = {"PLAYGROUND_MAX_TRAINERS": str(TRAINERS_PER_REPLICA)}
    with running_cluster(2, env) as cluster, sync_playwright() as playwright:
        chromium = browser.launch_chromium(playwright)
        log(f"cluster up at {cluster.url}; opening {SESSIONS} sessions")
        pages = [open_session(chromium, cluster.url, i, errors) for i in range(SESSIONS)]
        before = [browser.shown_epoch(page) for page in pages]
        for page in pages:
            browser.button(page, "play").click()
        log(f"all playing; watching for {PLAY_S:.0f} s")
        peak_pss, spread = 0.0, [0, 0]
        end = time.monotonic() + PLAY_S
        while time.monotonic() < end:
            time.sleep(5)
            peak_pss = max(peak_pss, sum(tree_memory_mib(r)["pss"] for r in cluster.replicas))
            spread = max(spread, replica_counts(cluster), key=min)
        after = [browser.shown_epoch(page) for page in pages]
        for page in pages:
            browser.button(page, "play").click()
        for page in pages:
            browser.wait_label(page, "Play", timeout=30)
            browser.button(page, "reset").click()
        for page in pages:
            page.wait_for_function("() => document.querySelector('[data-testid=\"pg-epoch\"]')"
                                   ".textContent === 'Epoch 0'", timeout=30_000)
        exceptions = [text for page in pages for text in browser.script_errors(page)]
        for page in pages:
            page.context.close()
        log("sessions closed; waiting for the trainers to end")
        gone_after, left = None, replica_counts(cluster)
        start = time.monotonic()
        while time.monotonic() - start < GONE_WITHIN_S:
            left = replica_counts(cluster)
            if not any(left):
                gone_after = time.monotonic() - start
                break
            time.sleep(1)
        chromium.close()
    advanced = [b - a for a, b in zip(before, after)]
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "sessions": SESSIONS, "play_s": PLAY_S,
        "epochs_advanced": advanced,
        "every_session_advanced": all(n > 0 for n in advanced),
        "exceptions_on_pages": exceptions + errors,
        "peak_pss_mib": round(peak_pss), "memory_bound_mib": MEMORY_BOUND_MIB,
        "trainers_per_replica_while_playing": spread,
        "trainers_gone_after_s": None if gone_after is None else round(gone_after, 1),
        "trainers_left": left,
    }


def verdict(result: dict) -> list[tuple[str, str, bool]]:
    spread = result["trainers_per_replica_while_playing"]
    return [
        ("no page showed an exception", f"{len(result['exceptions_on_pages'])} seen",
         not result["exceptions_on_pages"]),
        ("every session's epoch counter advanced",
         f"min {min(result['epochs_advanced'])} epochs in {result['play_s']:.0f} s",
         result["every_session_advanced"]),
        ("servers' memory (PSS) under the bound",
         f"{result['peak_pss_mib']} MiB ≤ {result['memory_bound_mib']} MiB",
         result["peak_pss_mib"] <= result["memory_bound_mib"]),
        ("sessions spread over both replicas", f"trainers per replica {spread}",
         all(n > 0 for n in spread)),
        ("all trainer processes ended", f"after {result['trainers_gone_after_s']} s",
         result["trainers_gone_after_s"] is not None),
    ]


def main() -> int:
    result = run()
    checks = verdict(result)
    lines = [f"Load test of {result['date']}: {SESSIONS} sessions through nginx on 2 "
             f"replicas, {PLAY_S:.0f} s of play each.", "", "| check | measured | result |",
             "|---|---|---|"]
    lines += [f"| {name} | {value} | {'pass' if ok else '**fail**'} |"
              for name, value, ok in checks]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "loadtest.json").write_text(json.dumps(result, indent=2))
    (RESULTS / "loadtest.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if all(ok for _, _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
