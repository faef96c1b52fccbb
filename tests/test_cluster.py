"""Two replicas behind nginx: sticky by cookie, WebSockets proxied, each session
training on the replica that holds it. (The class-sized version is ``make loadtest``.)"""

import json
import os
import sys
import time
import urllib.request
from pathlib import Path

import browser
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.cluster import find_nginx, running_cluster  # noqa: E402

pytestmark = pytest.mark.browser

if not (browser.find_chromium() and find_nginx()):
    if os.environ.get("PLAYGROUND_REQUIRE_BROWSER") == "1":
        raise RuntimeError("the cluster test needs chromium and nginx (apt-get install ...)")
    pytest.skip("no chromium or nginx: apt-get install chromium nginx", allow_module_level=True)


def replica_of(cluster, route: str) -> int:
    """Which replica nginx sends this route cookie to (read from its access log, whose
    lines end with the upstream's address)."""
    log = cluster.prefix / "access.log"
    before = len(log.read_text().splitlines()) if log.exists() else 0
    request = urllib.request.Request(f"{cluster.url}/_stcore/health",
                                     headers={"Cookie": f"pgroute={route}"})
    urllib.request.urlopen(request, timeout=5).read()
    ports = [str(replica.port) for replica in cluster.replicas]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # nginx writes the line after the reply
        lines = log.read_text().splitlines()
        if len(lines) > before:
            return next(i for i, port in enumerate(ports) if lines[-1].endswith(f":{port}"))
        time.sleep(0.02)
    raise AssertionError("nginx logged no line for the request")


def sessions_on(replica) -> int:
    with urllib.request.urlopen(f"{replica.url}/playground-status", timeout=5) as reply:
        return json.loads(reply.read())["sessions"]


def test_sessions_stick_to_their_replica_and_train_there():
    from playwright.sync_api import sync_playwright

    with running_cluster(2) as cluster, sync_playwright() as playwright:
        routes: dict[int, str] = {}
        for n in range(40):  # route ids hash to replicas; find one for each
            routes.setdefault(replica_of(cluster, f"route{n}"), f"route{n}")
            if len(routes) == 2:
                break
        assert len(routes) == 2
        chromium = browser.launch_chromium(playwright)
        pages = {}
        for index, route in routes.items():
            context = chromium.new_context(viewport=browser.VIEWPORT)
            context.add_cookies([{"name": "pgroute", "value": route, "url": cluster.url}])
            page = context.new_page()
            browser.open_playground(page, cluster.url + "/?dataset=xor", timeout_ms=60_000)
            browser.transport(page, "play").click()
            pages[index] = page
        for index, page in pages.items():
            page.wait_for_function("() => (window.__pgStats || {}).epoch > 20", timeout=30_000)
            assert not browser.script_errors(page)
            assert sessions_on(cluster.replicas[index]) == 1
        chromium.close()
