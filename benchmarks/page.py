"""What a visitor sees: epochs and redraws per second while playing, how fast pause
stops the counter, and how long a fresh load takes until the page can be used.

All readings come from the live view's own counters (``window.__pgStats``): epoch is
the last epoch actually drawn, redraws the number of frames drawn.
"""

from __future__ import annotations

import time

from benchmarks.common import browser, log, median, percentile, sleep_until

WARMUP_S = 2.0  # first reading this long after play (the stream is up to speed)
WINDOW_S = 10.0  # second reading this long after the first
PAUSE_STABLE_S = 0.3  # the counter must not move this long to count as stopped
PAUSE_GIVE_UP_S = 5.0

# Records, in page time, when the drawn epoch changes, when the next click lands, and
# when the play button's label turns back to Play (the frame that says the session
# paused arrived). A 10 ms poll inside the page: polling from Python would add a round
# trip per reading.
PROBE_JS = """() => {
  const old = window.__pgProbe;
  if (old) clearInterval(old.timer);
  const probe = window.__pgProbe = {clickAt: null, labelAt: null, changes: [],
                                    last: window.__pgStats.epoch};
  document.addEventListener("click", () => { probe.clickAt = performance.now(); },
                            {capture: true, once: true});
  probe.timer = setInterval(() => {
    const now = performance.now();
    const epoch = window.__pgStats.epoch;
    if (epoch !== probe.last) { probe.last = epoch; probe.changes.push(now); }
    if (probe.clickAt !== null && probe.labelAt === null) {
      const button = [...document.querySelectorAll("[data-testid=pg-play]")]
        .find((b) => b.offsetParent !== null);
      if (button && button.innerText.includes("Play")) probe.labelAt = now;
    }
  }, 10);
}"""
PROBE_READ_JS = """() => { const p = window.__pgProbe;
  return {now: performance.now(), clickAt: p.clickAt, labelAt: p.labelAt,
          changes: p.changes.slice(-5)}; }"""


# Plotly that draws nothing: every call resolves at once, and a plot gets the fields and
# event methods the live view uses (a page of a class whose charts cost no CPU, so that
# many pages on one machine measure the server, not Plotly). It has no "then": a promise
# resolved with a thenable would wait on it for ever.
PLOTLY_STUB = """const draw = (div) => {
  if (div instanceof Element && !div._fullLayout) {
    div._fullLayout = {_size: {l: 40, t: 10, w: 280, h: 280}};
    div.on = div.removeAllListeners = () => {};
    div.data = [];
    div.layout = {};
  }
  return Promise.resolve(div);
};
window.Plotly = new Proxy({Icons: {camera: {}, disk: {}}, then: undefined}, {
  get: (known, name) => name in known ? known[name] : draw});"""


def new_page(chromium, errors: list[str] | None = None, stub_plotly: bool = False):
    context = chromium.new_context(viewport=browser.VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(20_000)
    if stub_plotly:
        page.route("**/plotly.min.js*", lambda route: route.fulfill(
            body=PLOTLY_STUB, content_type="text/javascript"))
    if errors is not None:
        page.on("pageerror", lambda error: errors.append(str(error)))
    return page


def open_pages(chromium, url: str, count: int, errors: list[str],
               stub_plotly_after: int | None = None) -> list:
    """Open count pages one after the other, each until its live stream is connected;
    pages from index stub_plotly_after on get a Plotly that draws nothing.

    One at a time on purpose: pages loading all at once on a small machine share its
    cores with the server, which would blur what one load costs. A page whose stream
    never connects is still returned, marked with ``no_stream``; it measures as 0
    epochs/s.
    """
    pages = []
    for k in range(count):
        stub = stub_plotly_after is not None and k >= stub_plotly_after
        page = new_page(chromium, errors, stub_plotly=stub)
        pages.append(page)
        page.goto(url, wait_until="commit", timeout=browser.LOAD_TIMEOUT_MS)
        playground_ready(page, timeout_ms=60_000)
        try:
            page.wait_for_function("() => (window.__pgStats || {}).messages > 0",
                                   timeout=30_000, polling=50)
        except Exception:
            errors.append(f"page {len(pages)} of {count}: the live stream never connected")
            log(errors[-1])
    return pages


def close_pages(pages) -> None:
    for page in pages:
        try:
            page.context.close()
        except Exception:  # a crashed page must not stop the cleanup of the others
            pass


def play_all(pages) -> None:
    for page in pages:
        browser.transport(page, "play").click()
    for page in pages:
        browser.wait_label(page, "Pause", timeout=20)


def pause_all(pages) -> None:
    """Pause every playing page (best effort: this is tidying up, not measuring)."""
    for page in pages:
        try:
            if "Pause" in browser.play_label(page):
                browser.transport(page, "play").click()
                browser.wait_label(page, "Play", timeout=5)
        except Exception:
            pass


# Counts the browser's animation frames: no page can redraw more often than its
# display (or headless Chromium's stand-in for one) shows a frame.
DISPLAY_FRAMES_JS = """() => {
  if (window.__pgDisplayFrames !== undefined) return;
  window.__pgDisplayFrames = 0;
  const tick = () => { window.__pgDisplayFrames += 1; requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
}"""


def measure_playing(pages, sample=None) -> dict:
    """Play every page; per page epochs/s, redraws/s and display frames/s between
    t=2 s and t=12 s.

    sample() is called at both ends of the window while everything plays (the
    concurrency run reads the server's memory and CPU there); its two results are
    returned as "sample_start" and "sample_end".
    """
    play_all(pages)
    pages[0].evaluate(DISPLAY_FRAMES_JS)
    sleep_until(time.monotonic() + WARMUP_S)
    start = sample() if sample else None
    display_frames = "() => window.__pgDisplayFrames"
    first = [(time.monotonic(), browser.stats(page)) for page in pages]
    frames0 = pages[0].evaluate(display_frames)
    sleep_until(first[0][0] + WINDOW_S)
    end = sample() if sample else None
    rates = []
    for page, (t0, s0) in zip(pages, first):
        t1, s1 = time.monotonic(), browser.stats(page)
        rates.append({"epochs_per_s": (s1["epoch"] - s0["epoch"]) / (t1 - t0),
                      "redraws_per_s": (s1["redraws"] - s0["redraws"]) / (t1 - t0),
                      "messages_per_s": (s1["messages"] - s0["messages"]) / (t1 - t0),
                      "draw_ms": s1.get("ms")})
    rates[0]["display_frames_per_s"] = (pages[0].evaluate(display_frames) - frames0) / (
        time.monotonic() - first[0][0])
    return {"per_session": rates, "sample_start": start, "sample_end": end,
            "window_s": WINDOW_S}


def stable_window(redraws_per_s: float | None) -> float:
    """How long the counter must stand still to count as stopped: 300 ms, or longer
    when frames are drawn so rarely that 300 ms without a change means nothing."""
    if not redraws_per_s:
        return PAUSE_STABLE_S
    return max(PAUSE_STABLE_S, 2.5 / redraws_per_s)


def pause_once(page, stable_s: float = PAUSE_STABLE_S) -> dict | None:
    """One try from a playing page. Returns "ms": from the pause click until the
    counter stopped moving (0 if it never moved after the click), and "label_ms":
    until the button said Play again; None if it never stopped.

    Stopped means: the button already says Play (the server ran the pause) and the
    drawn epoch has not changed for stable_s.
    """
    page.evaluate(PROBE_JS)
    browser.transport(page, "play").click()
    deadline = time.monotonic() + PAUSE_GIVE_UP_S + stable_s
    while time.monotonic() < deadline:
        time.sleep(0.05)
        probe = page.evaluate(PROBE_READ_JS)
        if probe["clickAt"] is None or probe["labelAt"] is None:
            continue
        last = max([probe["clickAt"], *probe["changes"]])
        if probe["now"] - last >= stable_s * 1000:
            return {"ms": last - probe["clickAt"], "label_ms": probe["labelAt"] - probe["clickAt"]}
    return None


def resume(page, play_s: float = 1.0) -> None:
    """Play again after a pause try, and run ~play_s so the counter is moving."""
    try:
        browser.wait_label(page, "Play")
    except TimeoutError:
        if "Pause" not in browser.play_label(page):
            raise
        time.sleep(play_s)  # the pause never took: it is still playing
        return
    before = browser.stats(page)["epoch"]
    browser.transport(page, "play").click()
    browser.wait_label(page, "Pause")
    time.sleep(play_s)
    if browser.stats(page)["epoch"] == before:
        time.sleep(play_s)  # a slow frame; give it once more


def pause_try(page, first: bool, play_s: float = 1.0, stable_s: float = PAUSE_STABLE_S
              ) -> dict | None:
    """Resume (unless first), then one pause measurement; a failure counts as None."""
    try:
        if not first:
            resume(page, play_s)
        return pause_once(page, stable_s)
    except Exception as error:  # one bad try must not end the series
        log(f"pause try failed: {type(error).__name__}: {str(error)[:200]}")
        return None


def pause_latencies(page, tries: int, stable_s: float = PAUSE_STABLE_S
                    ) -> list[dict | None]:
    """tries pause measurements on a page that is playing now; it is paused after."""
    return [pause_try(page, first=i == 0, stable_s=stable_s) for i in range(tries)]


def summarize_latencies(tries: list[dict | None]) -> dict:
    # a try that never stopped counts as the give-up time, so it still lands in p95
    give_up = PAUSE_GIVE_UP_S * 1000
    values = [give_up if t is None else t["ms"] for t in tries]
    labels = [give_up if t is None else t["label_ms"] for t in tries]
    return {"p50_ms": median(values), "p95_ms": percentile(values, 95),
            "max_ms": max(values) if values else None, "tries": len(values),
            "never_stopped": sum(t is None for t in tries),
            "label_p50_ms": median(labels), "label_p95_ms": percentile(labels, 95),
            "all_ms": [round(v, 1) for v in values], "label_all_ms": [round(v) for v in labels]}


def load_once(chromium, url: str, ready) -> dict[str, float]:
    """One fresh load in a new context: ready(page, start) returns its milestones
    (seconds since goto), "ready_s" being the time to interactive; and what the load
    downloaded until the network went quiet after it: "bytes" (decoded, as the page
    got them; the live stream's and Streamlit's WebSocket messages not counted) and
    "requests"."""
    page = new_page(chromium)
    received = {"bytes": 0, "requests": 0}
    cdp = page.context.new_cdp_session(page)
    cdp.on("Network.requestWillBeSent",
           lambda event: received.__setitem__("requests", received["requests"] + 1))
    cdp.on("Network.dataReceived",
           lambda event: received.__setitem__("bytes", received["bytes"] + event["dataLength"]))
    cdp.send("Network.enable")
    try:
        start = time.monotonic()
        page.goto(url, wait_until="commit", timeout=browser.LOAD_TIMEOUT_MS)
        marks = ready(page, start)
        page.wait_for_load_state("networkidle", timeout=browser.LOAD_TIMEOUT_MS)
        return {**marks, **received}
    finally:
        page.context.close()


def playground_ready(page, start: float | None = None,
                     timeout_ms: int = browser.LOAD_TIMEOUT_MS) -> dict[str, float]:
    """The live view is on screen and the (visible) play button is enabled.

    With start, returns the milestones on the way: the play button shows (the
    script's first lines ran), the live view shows, the button is enabled (ready),
    and the stream's first frame arrived (the picture is live).
    """
    since = (lambda: time.monotonic() - start) if start is not None else (lambda: 0.0)
    marks = {}
    browser.transport(page, "play").wait_for(state="visible", timeout=timeout_ms)
    marks["button_s"] = since()
    page.locator('[data-testid="pg-epoch"]').wait_for(state="visible", timeout=timeout_ms)
    marks["live_s"] = since()
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=pg-play]')]"
        ".some(b => b.offsetParent !== null && !b.disabled)", timeout=timeout_ms, polling=20)
    marks["ready_s"] = since()
    if start is not None:
        page.wait_for_function("() => (window.__pgStats || {}).messages > 0",
                               timeout=timeout_ms, polling=20)
        marks["first_frame_s"] = since()
        # the first chart: the loss curves drawn by Plotly, once its bundle has loaded
        page.locator(".pg-curves .main-svg").first.wait_for(state="attached",
                                                            timeout=timeout_ms)
        marks["chart_s"] = since()
    return marks


def bare_ready(page, start: float) -> dict[str, float]:
    browser.button(page, "go").wait_for(state="visible", timeout=browser.LOAD_TIMEOUT_MS)
    return {"ready_s": time.monotonic() - start}
