"""Races, sweeps and lessons in a real browser at 1024x768, opened from their URLs.

Shares the app server and Chromium of ``test_browser.py`` (its fixtures)."""

from __future__ import annotations

import pytest
from browser import open_playground
from test_browser import chromium, server, wait_until  # noqa: F401  (pytest fixtures)

from playground.engine.teaching.study import sweep

pytestmark = pytest.mark.browser
TIMEOUT = 60.0

STUDY_STATE = """() => {
  const view = Object.values(window.__pgViews).find((v) => v.summaries);
  return { epochs: view.summaries.map((s) => (s ? s.epoch : null)),
           last: view.summaries.map((s) => (s && s.last ? s.last.test_loss : null)),
           curves: view.members.map((m) => m.epoch.length),
           playing: Boolean(view.summary && view.summary.playing),
           done: Boolean(view.summary && view.summary.done) };
}"""


def open_at(chromium, server, path: str, width: int = 1024, height: int = 768):  # noqa: F811
    page = chromium.new_context(viewport={"width": width, "height": height}).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    open_playground(page, server.url + path)
    return page, errors


def not_wider_than_the_window(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_a_race_from_its_url_runs_its_members_side_by_side(chromium, server):  # noqa: F811
    page, errors = open_at(chromium, server,
                           "/?dataset=xor&race=optimizer:sgd,momentum,rmsprop,adagrad,adam")
    cards = page.locator('[data-testid="pg-race-card"]')
    assert cards.count() == 5
    assert cards.nth(4).inner_text().startswith("adam")
    page.locator('[data-testid="pg-play"]').click()
    wait_until(lambda: min(e or 0 for e in page.evaluate(STUDY_STATE)["epochs"]) >= 30,
               TIMEOUT, "every racer past epoch 30")
    page.locator('[data-testid="pg-play"]').click()  # pause
    wait_until(lambda: not page.evaluate(STUDY_STATE)["playing"], TIMEOUT, "paused")
    state = page.evaluate(STUDY_STATE)
    assert len(set(state["epochs"])) == 1, "racers advance together"
    assert all(n > 0 for n in state["curves"]) and all(v is not None for v in state["last"])
    # one chart with every racer's test and training loss, the legend naming them
    legend = page.locator('[data-testid="pg-study-chart"] .legendtext').evaluate_all(
        "texts => texts.map((t) => t.textContent)")
    assert legend == ["optimizer=sgd", "optimizer=momentum", "optimizer=rmsprop",
                      "optimizer=adagrad", "optimizer=adam"]
    assert not_wider_than_the_window(page)
    assert cards.nth(0).bounding_box()["y"] < 768, "the race is in view without scrolling"
    # a card is one button: its name (under the picture) opens that configuration too
    assert cards.evaluate_all("cards => cards.every((c) => c.tagName === 'BUTTON')")
    cards.nth(4).locator(".pg-card-name").click()
    page.wait_for_url(lambda url: "race=" not in url and "optimizer=adam" in url, timeout=20_000)
    page.locator('[data-testid="pg-epoch"]').wait_for(state="visible")
    assert errors == []
    page.context.close()


def test_a_sweep_from_its_url_plots_every_point_and_opens_one(chromium, server):  # noqa: F811
    page, errors = open_at(chromium, server, "/?dataset=xor&n_points=200&sweep=learning_rate:"
                                             "0.001..3&sweep_n=8&sweep_epochs=40")
    wait_until(lambda: "of 40" in page.locator('[data-testid="pg-epoch"]').inner_text(),
               TIMEOUT, "the sweep's length shown")
    page.locator('[data-testid="pg-play"]').click()
    wait_until(lambda: page.evaluate(STUDY_STATE)["done"], TIMEOUT, "the sweep finished")
    state = page.evaluate(STUDY_STATE)
    assert state["epochs"] == [40] * 8 or all(e <= 40 for e in state["epochs"])
    points = page.evaluate("""() => {
      const chart = document.querySelector('[data-testid="pg-study-chart"]');
      return chart.data.map((t) => t.y.filter((v) => v !== null).length); }""")
    assert points[1] >= 7, "a test loss for (almost) every learning rate"
    # the log axis: every label reads as its tick's own value (no "5" for 0.0005, no "2"
    # for 2), and the powers of ten the rates span are all labelled
    ticks = page.evaluate("""() => document.querySelector('[data-testid="pg-study-chart"]')
      ._fullLayout.xaxis._vals.map((v) => [10 ** v.x, v.text])""")
    assert all(abs(float(text) - value) <= 1e-9 * value for value, text in ticks), ticks
    assert [text for _, text in ticks] == ["0.001", "0.01", "0.1", "1"]
    assert not_wider_than_the_window(page)
    # a click on a point opens that learning rate on its own (the 3rd of 8)
    third = sweep("learning_rate:0.001..3", 8, 40).values[2]
    page.evaluate("""() => {
      const chart = document.querySelector('[data-testid="pg-study-chart"]');
      chart.emit('plotly_click', { points: [{ pointIndex: 2 }] }); }""")
    page.wait_for_url(lambda url: "sweep=" not in url and f"learning_rate={third!r}" in url,
                      timeout=20_000)
    assert errors == []
    page.context.close()


def test_the_race_panel_starts_a_race_of_the_current_experiment(chromium, server):  # noqa: F811
    page, errors = open_at(chromium, server, "/?dataset=circle")
    page.get_by_text("Race or sweep").click()
    page.locator(".st-key-start_race button").click()
    page.wait_for_url(lambda url: "race=optimizer" in url, timeout=20_000)
    page.locator('[data-testid="pg-race-card"]').first.wait_for(state="visible")
    assert page.locator('[data-testid="pg-race-card"]').count() == 5
    page.get_by_text("Back to one network").click()
    page.wait_for_url(lambda url: "race=" not in url, timeout=20_000)
    assert errors == []
    page.context.close()


LESSON_MARKS = """() => [...document.querySelectorAll('.st-key-lesson_panel [role="img"]')]
  .map((icon) => icon.textContent)
  .filter((name) => name === "check_circle" || name === "radio_button_unchecked")"""


def test_a_lesson_from_its_file_name_walks_its_do_it_buttons(chromium, server):  # noqa: F811
    page, errors = open_at(chromium, server, "/?lesson=02-nonlinear&presenter=1")
    panel = page.locator(".st-key-lesson_panel")
    panel.wait_for()
    assert "non-linear" in panel.inner_text().lower()
    assert "presenter=1" in page.url and "lesson=nonlinear" in page.url
    marks = page.evaluate(LESSON_MARKS)
    assert marks and all(m == "radio_button_unchecked" for m in marks)
    step1 = page.locator(".st-key-lesson_step_0")
    outcome = "the whole network computes z = w₁x₁ + w₂x₂ + b"
    assert outcome not in step1.inner_text()  # nothing told before the experiment
    step1.get_by_text("Only a straight line").click()  # the learner predicts first
    page.locator('[data-testid="pg-play"]').click()
    wait_until(lambda: page.evaluate(LESSON_MARKS)[0] == "check_circle", TIMEOUT,
               "the first step's check turned green")
    wait_until(lambda: outcome in step1.inner_text(), TIMEOUT, "the answer was revealed")
    assert "your prediction was right" in step1.inner_text()
    # "Do it" of step 2 (deeper, still linear), then of step 3 (tanh): its check follows
    page.locator(".st-key-lesson_step_1 button", has_text="Do it").first.click()
    page.wait_for_url(lambda url: "hidden=8%2C8%2C8" in url or "hidden=8,8,8" in url,
                      timeout=20_000)
    page.locator(".st-key-lesson_step_2 button", has_text="Do it").first.click()
    page.wait_for_url(lambda url: "activation=tanh" in url, timeout=20_000)
    page.locator('[data-testid="pg-play"]').click()
    wait_until(lambda: page.evaluate(LESSON_MARKS)[1] == "check_circle", TIMEOUT,
               "the tanh step's check turned green")
    assert not_wider_than_the_window(page)
    assert errors == []
    page.context.close()


def test_an_unknown_lesson_names_the_lessons(chromium, server):  # noqa: F811
    page, errors = open_at(chromium, server, "/?lesson=nonexistent")
    notice = page.locator(".st-key-unknown_lesson")
    notice.wait_for()
    assert "There is no lesson called" in notice.inner_text()
    assert "01-neuron" in page.locator(".st-key-intro a").get_attribute("href")
    assert errors == []
    page.context.close()


def test_a_race_lesson_opens_its_race(chromium, server):  # noqa: F811
    page, errors = open_at(chromium, server, "/?lesson=activations")
    cards = page.locator('[data-testid="pg-race-card"]')
    assert [cards.nth(i).inner_text().split()[0] for i in range(4)] == [
        "sigmoid", "tanh", "relu", "gelu"]
    page.locator(".st-key-lesson_panel").wait_for()
    assert errors == []
    page.context.close()
