"""The real page in headless Chromium: it loads cleanly, trains, pauses, steps,
restarts, and the data set picker drives the URL. Also saves the README's
screenshots to ``assets/``.

One app server serves the whole module. Without Chromium the tests skip, unless
PLAYGROUND_REQUIRE_BROWSER=1 (CI), where a missing browser is a failure.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from browser import (
    ROOT,
    VIEWPORT,
    find_chromium,
    launch_chromium,
    open_playground,
    running_app,
    script_errors,
    shown_epoch,
    transport,
    wait_label,
)

from benchmarks.student import DEFAULT_VIEW

pytestmark = pytest.mark.browser
ASSETS = ROOT / "assets"
SCRATCH = Path(tempfile.gettempdir()) / "playground-screenshots"
SPIRAL = "/?dataset=spiral&hidden=8,8,8&optimizer=adam&learning_rate=0.003&noise=10"


def _require_browser() -> None:
    missing = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing = "no playwright: pip install playwright"
    if missing is None and find_chromium() is None:
        missing = "no chromium: apt-get install chromium"
    if missing:
        if os.environ.get("PLAYGROUND_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{missing} (PLAYGROUND_REQUIRE_BROWSER=1)")
        pytest.skip(missing)


@pytest.fixture(scope="module")
def server():
    _require_browser()
    with running_app() as app:
        yield app


@pytest.fixture(scope="module")
def chromium(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p)
        yield browser
        browser.close()


@dataclass
class Visit:
    page: object
    errors: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        assert self.errors == [], f"page errors: {self.errors}"
        assert script_errors(self.page) == [], "Streamlit showed a script exception"


@pytest.fixture
def visit(server, chromium):
    """Opens app URLs in a fresh browser context; closes it after the test."""
    contexts = []

    def open_(path: str, viewport: dict = VIEWPORT) -> Visit:
        context = chromium.new_context(viewport=viewport)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        v = Visit(page)
        page.on("pageerror", lambda error: v.errors.append(str(error)))
        open_playground(page, server.url + path)
        return v

    yield open_
    for context in contexts:
        context.close()


def number(page, selector: str) -> float | None:
    """A number shown in the live view ('0.123' or '93.5%'), None while it shows '–'."""
    nodes = page.locator(selector)
    if nodes.count() == 0:
        return None
    match = re.search(r"-?\d+(\.\d+)?", nodes.first.inner_text())
    return float(match.group()) if match else None


def wait_until(condition, timeout: float, what: str, poll: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(poll)


def screenshot(page, name: str) -> None:
    """Into assets/ (the README's pictures) only when PLAYGROUND_SCREENSHOTS=1; otherwise
    into a scratch folder, so a test run leaves the tracked files alone."""
    page.mouse.move(120, 650)  # off the buttons (their tooltips) and the plots (hover labels)
    folder = ASSETS if os.environ.get("PLAYGROUND_SCREENSHOTS") == "1" else SCRATCH
    folder.mkdir(exist_ok=True)
    page.screenshot(path=str(folder / name))


def test_default_page_loads_trains_and_screenshot(visit):
    v = visit("/")
    v.assert_clean()
    transport(v.page, "play").click()
    wait_until(lambda: shown_epoch(v.page) > 300, 20, "a few hundred epochs")
    screenshot(v.page, "screenshot-playing.png")
    transport(v.page, "play").click()  # pause, so the trainer idles while later tests run
    v.assert_clean()


def test_the_page_says_what_it_shows_and_gets_only_that(visit):
    """At 1024x768 the histograms are below the first screen: the page tells the server
    (as make bench's simulated students do), whose frames then leave them out; scrolled
    into sight, they come back and are drawn."""
    v = visit("/?dataset=xor", viewport={"width": 1024, "height": 768})
    page = v.page
    view = wait_until(lambda: page.evaluate("() => window.__pgStats.view"), 10, "the view")
    assert view == DEFAULT_VIEW
    page.evaluate("""() => {
      const view = Object.values(window.__pgViews).find((v) => v.network);
      const receive = view.receive.bind(view);
      window.__pgSlow = 0;
      view.receive = (msg) => { if (msg.picture && msg.picture.hist_weights) window.__pgSlow += 1;
                                receive(msg); };
    }""")
    transport(page, "play").click()
    wait_until(lambda: shown_epoch(page) > 100, 10, "a hundred epochs")
    assert page.evaluate("() => window.__pgSlow") == 0
    page.locator(".pg-hist-w").scroll_into_view_if_needed()
    wait_until(lambda: page.evaluate("() => window.__pgStats.view.stats"), 10, "stats shown")
    wait_until(lambda: page.evaluate("() => window.__pgSlow") > 2, 10, "histograms again")
    wait_until(lambda: page.evaluate("""() => {
      const div = document.querySelector('.pg-hist-w');
      return div.data && div.data.some((t) => (t.y || []).some((n) => n > 0)); }"""),
               10, "the weights' histogram drawn")
    transport(page, "play").click()
    v.assert_clean()


def test_play_pause_step_restart(visit):
    v = visit("/?dataset=xor")
    page = v.page
    transport(page, "play").click()
    # no loss is shown before the first epoch; the first frame after play brings one
    first_loss = wait_until(lambda: number(page, ".pg-test-loss"), 10, "a test loss", 0.02)
    wait_until(lambda: shown_epoch(page) > 50, 10, "epoch counter above 50")
    wait_until(lambda: (number(page, ".pg-test-loss") or first_loss) < first_loss, 10,
               f"test loss below its first value {first_loss}")

    wait_label(page, "Pause")
    transport(page, "play").click()
    wait_label(page, "Play")  # drawn from the frame that says the session paused
    before = shown_epoch(page)
    # a step lands exactly one epoch later: nothing trained after the pause
    transport(page, "step").click()
    assert wait_until(lambda: shown_epoch(page) if shown_epoch(page) != before else None,
                      5, "the step to show") == before + 1

    transport(page, "restart").click()
    wait_until(lambda: shown_epoch(page) == 0, 5, "Epoch 0 after restart")
    v.assert_clean()


def test_picker_changes_the_url(visit):
    v = visit("/")
    for name in ("xor", "spiral"):
        v.page.locator(f'.pg-pick[data-name="{name}"]').click()
        v.page.wait_for_url(re.compile(rf"[?&]dataset={name}(&|$)"), timeout=10_000)
    v.assert_clean()


def test_spiral_learns_and_screenshot(visit):
    v = visit(SPIRAL)
    page = v.page
    accuracy = 0.0
    # Adam on the spiral has brief spikes: pause on a solved spiral, and if a spike
    # landed right at the pause, play a little more and pause again
    for _ in range(3):
        transport(page, "play").click()
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            if (number(page, ".pg-test-metric") or 0.0) / 100 >= 0.95:
                break
            time.sleep(0.25)
        wait_label(page, "Pause")
        transport(page, "play").click()
        wait_label(page, "Play")  # the paused frame carries every part (histograms too)
        accuracy = (number(page, ".pg-test-metric") or 0.0) / 100
        if accuracy >= 0.9:
            break
    assert accuracy >= 0.9
    screenshot(page, "screenshot-spiral.png")
    print(f"spiral test accuracy {accuracy:.3f} at epoch {shown_epoch(page)}")
    v.assert_clean()


def sessions_on(server) -> int:
    import json
    import urllib.request

    with urllib.request.urlopen(f"{server.url}/playground-status", timeout=5) as reply:
        return json.loads(reply.read())["sessions"]


def test_a_reload_frees_the_old_session_at_once(server, visit):
    before = sessions_on(server)
    v = visit("/?dataset=xor")
    wait_until(lambda: sessions_on(server) == before + 1, 10, "the page's session")
    for _ in range(5):  # five reloads in a row: nobody locks themselves out
        v.page.reload(wait_until="domcontentloaded")
        v.page.wait_for_function("() => (window.__pgStats || {}).messages > 0", timeout=30_000)
    # the unloaded pages' sessions are gone well before any grace period would end
    wait_until(lambda: sessions_on(server) == before + 1, 5, "the old sessions to be freed")
    transport(v.page, "play").click()
    wait_until(lambda: shown_epoch(v.page) > 20, 10, "training after the reloads")
    v.assert_clean()


# The live view's curves (charts.js CurvesChart), read inside the page: the newest row
# within the axes' range, and whether the tail canvas has ink where Plotly's axes put
# the train loss and the train metric of five rows between Plotly's last and that one.
CURVES_JS = """() => {
  const view = Object.values(window.__pgViews).find((v) => v.network);
  const div = document.querySelector('.pg-curves'), full = div._fullLayout;
  const h = view.history, xs = div.data[0].x;
  const plotted = xs.length ? xs[xs.length - 1] : -1;
  let r = h.epoch.length - 1;
  while (r > 0 && h.epoch[r] > full.xaxis.range[1]) r -= 1;
  const canvas = document.querySelector('.pg-curves-tail');
  const context = canvas.getContext('2d'), scale = canvas.width / full._size.w;
  const ink = (x, y) => context.getImageData(Math.round(x * scale) - 2,
    Math.round(y * scale) - 2, 5, 5).data.some((v, i) => i % 4 === 3 && v > 0);
  const misses = [];
  const first = h.epoch.indexOf(plotted) + 1;
  for (let k = 1; k <= 5 && first < r; k++) {
    const row = first + Math.round((r - first) * k / 5);
    for (const [key, axis] of [['train_loss', full.yaxis], ['train_metric', full.yaxis2]]) {
      if (h[key][row] === null) continue;
      const x = full.xaxis.l2p(h.epoch[row]), y = axis.l2p(h[key][row]);
      if (!ink(x, y)) misses.push([key, h.epoch[row]]);
    }
  }
  const alpha = context.getImageData(0, 0, canvas.width, canvas.height).data;
  return {epoch: h.epoch[r], newest: h.epoch[h.epoch.length - 1], plotted, misses,
          range: full.xaxis.range, yRange: full.yaxis.range, loss: h.train_loss[r],
          inkAnywhere: alpha.some((v, i) => i % 4 === 3 && v > 0)};
}"""


def test_the_loss_curves_grow_on_a_canvas_between_plotlys_redraws(visit):
    """Rows that Plotly has not redrawn yet are drawn on a canvas over the plot, on
    Plotly's own axes: held back from Plotly, their ink is where Plotly's axes put
    them; let go, Plotly draws every row and the canvas is clear."""
    v = visit("/?dataset=spiral&hidden=6,4")
    page = v.page
    transport(page, "play").click()
    wait_until(lambda: shown_epoch(page) > 200, 10, "two hundred epochs")
    # hold Plotly's redraws of the curves back, at a moment when its x range has room
    # for 60 epochs more; from then on the canvas alone draws the new rows
    wait_until(lambda: page.evaluate("""() => {
      const view = Object.values(window.__pgViews).find((v) => v.network);
      const xs = document.querySelector('.pg-curves').data[0].x;
      if (view.curves.xMax - xs[xs.length - 1] < 60) return false;
      window.__pgGap = view.curves.gap;
      view.curves.gap = () => 1e9;
      return true; }"""), 10, "an x range with room")
    start = shown_epoch(page)
    wait_until(lambda: shown_epoch(page) > start + 100, 10, "a hundred epochs more")
    transport(page, "play").click()
    wait_label(page, "Play")
    held = page.evaluate(CURVES_JS)
    assert held["plotted"] < held["epoch"] - 50, held  # Plotly is behind ...
    # ... and the canvas shows the rows since (it is redrawn ten times a second)
    wait_until(lambda: page.evaluate(CURVES_JS)["misses"] == [], 2,
               "the canvas to show the rows since Plotly's last")
    page.evaluate("""() => { const view = Object.values(window.__pgViews).find((v) => v.network);
      view.curves.gap = window.__pgGap; view.jobs.curves.dirty = true; view.schedule(); }""")
    done = wait_until(lambda: (lambda s: s if s["plotted"] == s["epoch"] else None)(
        page.evaluate(CURVES_JS)), 10, "Plotly to draw every row")
    assert done["epoch"] == done["newest"] and done["range"][0] == 0  # the range holds all
    assert done["yRange"][0] == 0 and done["yRange"][1] >= done["loss"]
    assert not done["inkAnywhere"], "the canvas still shows rows Plotly has drawn"
    v.assert_clean()


def test_a_zoomed_loss_chart_keeps_the_users_range_until_a_double_click(visit):
    """The curves' own ranges give way to a zoom (Plotly then draws every update itself,
    nothing on the canvas); autoscaling, as a double click does, hands them back."""
    v = visit("/?dataset=xor")
    page = v.page
    transport(page, "play").click()
    wait_until(lambda: shown_epoch(page) > 100, 10, "a hundred epochs")
    page.evaluate("() => Plotly.relayout(document.querySelector('.pg-curves'), "
                  "{'xaxis.range': [10, 40], 'yaxis.range': [0, 0.5]})")
    start = shown_epoch(page)
    wait_until(lambda: shown_epoch(page) > start + 200, 10, "two hundred epochs more")
    zoomed = page.evaluate(CURVES_JS)
    assert zoomed["range"] == [10, 40] and zoomed["yRange"] == [0, 0.5]
    assert not zoomed["inkAnywhere"]  # the canvas draws nothing on a zoomed chart ...
    # ... and Plotly keeps up on its own: its rows trail the newest by at most a few frames
    wait_until(lambda: (lambda s: s["plotted"] > start + 200)(page.evaluate(CURVES_JS)), 5,
               "Plotly to draw the rows since the zoom")
    page.evaluate("() => Plotly.relayout(document.querySelector('.pg-curves'), "
                  "{'xaxis.autorange': true, 'yaxis.autorange': true})")
    wait_until(lambda: (lambda s: s["range"][0] == 0 and s["range"][1] >= s["newest"] * 0.8
                        and s["range"][1] < s["newest"] * 3)(page.evaluate(CURVES_JS)),
               5, "the chart's own range again")
    transport(page, "play").click()
    v.assert_clean()
