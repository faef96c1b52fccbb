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


def routes_to_each_replica(cluster) -> dict[int, str]:
    routes: dict[int, str] = {}
    for n in range(40):  # route ids hash to replicas; find one for each
        routes.setdefault(replica_of(cluster, f"route{n}"), f"route{n}")
        if len(routes) == len(cluster.replicas):
            return routes
    raise AssertionError("no route id for every replica")


def wait_until(condition, timeout: float, what: str, poll: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_a_room_spans_visitors_of_both_replicas_and_lives_on_one():
    """A teacher and four students whose earlier cookies point at both replicas: each
    room request goes by the room's code, so all of them land in one room on the
    replica the code hashes to; every tile is live and a push reaches every student."""
    from playwright.sync_api import sync_playwright

    with running_cluster(2) as cluster, sync_playwright() as playwright:
        routes = routes_to_each_replica(cluster)
        chromium = browser.launch_chromium(playwright)
        errors: list[str] = []

        def page_with_cookie(route: str):
            context = chromium.new_context(viewport=browser.VIEWPORT)
            context.add_cookies([{"name": "pgroute", "value": route, "url": cluster.url}])
            page = context.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            return page

        def cookie(page) -> str:
            return next(c["value"] for c in page.context.cookies() if c["name"] == "pgroute")

        teacher = page_with_cookie(routes[0])
        teacher.goto(cluster.url + "/?room=new&dataset=xor", timeout=60_000)
        teacher.get_by_test_id("room-code").wait_for(timeout=60_000)
        code = teacher.get_by_test_id("room-code").inner_text().strip()
        home = replica_of(cluster, f"room.{code}")  # where the room's code hashes to
        students = []
        for n in range(4):  # two students came from each replica
            student = page_with_cookie(routes[n % 2])
            student.goto(f"{cluster.url}/?room={code}&name=S{n}", timeout=60_000)
            students.append(student)
        for page in (teacher, *students):
            assert cookie(page) == f"room.{code}"  # the page's streams follow the room
        for student in students:
            student.locator('[data-testid="pg-epoch"]').wait_for(timeout=60_000)
            student.wait_for_function("() => (window.__pgStats || {}).messages > 0",
                                      timeout=60_000)
            student.get_by_test_id("pg-play").click()

        def tiles() -> dict[str, str]:
            return dict(zip(teacher.get_by_test_id("room-tile-name").all_inner_texts(),
                            teacher.get_by_test_id("room-tile-nums").all_inner_texts()))

        wait_until(lambda: sorted(tiles()) == ["S0", "S1", "S2", "S3"], 30,
                   f"four tiles; have {tiles()}")
        wait_until(lambda: "4 playing" in teacher.get_by_test_id("room-counts").inner_text(),
                   30, "four students playing")
        first = tiles()
        wait_until(lambda: all(tiles()[name] != first[name] for name in first), 10,
                   "every tile updating")
        # every session of the room (teacher and students) is on the room's replica
        assert sessions_on(cluster.replicas[home]) == 5
        assert sessions_on(cluster.replicas[1 - home]) == 0
        teacher.get_by_test_id("room-push").click()
        for student in students:
            wait_until(lambda s=student: "new experiment" in
                       s.get_by_test_id("pg-msg").inner_text(), 2.0, "the push notice")
        # a reload of the teacher's page (its address holds the key) finds the room again
        teacher.reload()
        teacher.get_by_test_id("room-code").wait_for(timeout=60_000)
        assert teacher.get_by_test_id("room-code").inner_text().strip() == code
        wait_until(lambda: len(tiles()) == 4, 30, "the tiles back after the reload")
        # a code typed in lower case (hashed elsewhere) is sent on to its own spelling
        late = page_with_cookie(routes[1 - home] if 1 - home in routes else routes[0])
        late.goto(f"{cluster.url}/?room={code.lower()}&name=Late", timeout=60_000)
        late.locator('[data-testid="pg-epoch"]').wait_for(timeout=60_000)
        assert f"room={code}" in late.url and cookie(late) == f"room.{code}"
        wait_until(lambda: "Late" in tiles(), 30, "the late student's tile")
        assert not errors
        chromium.close()
