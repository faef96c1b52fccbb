"""Own data, replay and exports in a real browser at 1024x768: draw and erase points,
undo, upload a CSV (and a bad one), scrub the replay, download every export.

Shares the app server and Chromium of ``test_browser.py`` (its fixtures)."""

from __future__ import annotations

import json
import struct

import pytest
from browser import open_playground, wait_label
from test_browser import chromium, server, wait_until  # noqa: F401  (pytest fixtures)

pytestmark = pytest.mark.browser
TIMEOUT = 30.0
COUNT = """() => { const v = Object.values(window.__pgViews).find((v) => v.drawTool);
  return v.points ? v.points.train.length + v.points.test.length : 0; }"""


@pytest.fixture
def page(chromium, server):  # noqa: F811
    context = chromium.new_context(viewport={"width": 1024, "height": 768},
                                   accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    open_playground(page, server.url + "/?n_points=50")
    yield page
    assert errors == []
    context.close()


def expander(page, title: str) -> None:
    page.get_by_text(title, exact=False).first.click()


def download(page, selector: str):
    with page.expect_download() as info:
        page.locator(selector).first.click()
    return info.value.path().read_bytes()


def test_draw_erase_undo_and_upload(page, tmp_path):
    wait_until(lambda: page.evaluate(COUNT) == 50, TIMEOUT, "the generated points")
    page.select_option('[data-testid="pg-draw-mode"]', label="add blue")
    area = page.locator(".pg-boundary .nsewdrag").bounding_box()
    for fx, fy in ((0.1, 0.1), (0.9, 0.12)):
        page.mouse.click(area["x"] + area["width"] * fx, area["y"] + area["height"] * fy)
        count = page.evaluate(COUNT)
        wait_until(lambda c=count: page.evaluate(COUNT) == c + 1 or page.evaluate(COUNT) > 50,
                   TIMEOUT, "a point added")
    wait_until(lambda: page.evaluate(COUNT) == 52, TIMEOUT, "two points added")
    assert "data=" in page.url, "a small drawn data set travels in the link"
    # erase the top-left quarter by dragging a box
    page.select_option('[data-testid="pg-draw-mode"]', label="erase (drag a box)")
    page.mouse.move(area["x"] + 2, area["y"] + 2)
    page.mouse.down()
    page.mouse.move(area["x"] + area["width"] / 2, area["y"] + area["height"] / 2, steps=6)
    page.mouse.up()
    wait_until(lambda: page.evaluate(COUNT) < 52, TIMEOUT, "points erased")
    erased = page.evaluate(COUNT)
    # the last edit can be undone
    expander(page, "Your own data")
    page.locator(".st-key-own_data_undo_button button").click()
    wait_until(lambda: page.evaluate(COUNT) == 52, TIMEOUT, "the erase undone")
    assert erased < 52
    # a CSV upload: a preview, and its points are trained on
    good = tmp_path / "mine.csv"
    good.write_text("x1,x2,label\n" + "".join(
        f"{x},{y},{int(x * y > 0)}\n" for x in (-3, -1, 1, 3) for y in (-2, 2, 4)))
    page.locator(".st-key-own_data input[type=file]").set_input_files(str(good))
    page.get_by_text("Read 12 points").wait_for()
    wait_until(lambda: page.evaluate(COUNT) == 12, TIMEOUT, "the uploaded points")
    # a bad file: one sentence, nothing changes
    bad = tmp_path / "bad.csv"
    bad.write_text("x1,x2,label\n1,2,0\n3,oops,1\n" + "2,2,1\n" * 6)
    page.locator(".st-key-own_data input[type=file]").set_input_files(str(bad))
    page.locator(".st-key-own_data [data-testid=stAlert]").wait_for()
    alert = page.locator(".st-key-own_data [data-testid=stAlert]").inner_text()
    assert "oops" in alert or "number" in alert
    assert page.evaluate(COUNT) == 12
    # and the data comes back as CSV
    csv = download(page, ".st-key-own_data_download button").decode()
    assert len(csv.strip().splitlines()) == 13


# the output plot's own tick labels: where Plotly drew each value (paper pixels), an
# oracle for the click conversion that shares no code with it
TICKS = r"""() => { const plot = document.querySelector('.pg-boundary');
  const ticks = (axis) => [...plot.querySelectorAll(`.${axis}tick text`)].map((t) => [
    Number(t.getAttribute('data-unformatted').replace('\u2212', '-')),
    Number(/translate\(([-\d.]+),([-\d.]+)\)/.exec(t.getAttribute('transform'))[
      axis === 'x' ? 1 : 2])]);
  const box = plot.getBoundingClientRect();
  return { x: ticks('x'), y: ticks('y'), left: box.left, top: box.top,
           radius: plot.data[0].marker.size / 2 }; }"""
POINTS = """() => { const v = Object.values(window.__pgViews).find((v) => v.drawTool);
  const plot = document.querySelector('.pg-boundary');
  return { train: v.points.train, test: v.points.test, testShown: plot.data[1].visible };
}"""


def pixel_map(page):
    """Data to page pixels, fitted through the drawn tick labels."""
    import numpy as np

    ticks = page.evaluate(TICKS)
    fits = {axis: np.polyfit(*np.array(ticks[axis]).T, 1) for axis in ("x", "y")}
    assert len(ticks["x"]) >= 3 and len(ticks["y"]) >= 3

    def to_page(x: float, y: float) -> tuple[float, float]:
        return (ticks["left"] + np.polyval(fits["x"], x), ticks["top"] + np.polyval(fits["y"], y))

    scale = (abs(fits["x"][0]), abs(fits["y"][0]))  # pixels per unit
    return to_page, scale, ticks["radius"]


def test_drawn_points_land_under_the_click_train_and_stay_visible(page):
    wait_until(lambda: page.evaluate(COUNT) == 50, TIMEOUT, "the generated points")
    before = page.evaluate(POINTS)
    old_train = {tuple(p[:2]) for p in before["train"]}
    old_test = {tuple(p[:2]) for p in before["test"]}
    page.select_option('[data-testid="pg-draw-mode"]', label="add blue")
    to_page, scale, radius = pixel_map(page)
    # near every edge and corner, where a wrong x range was off by up to 8 px
    targets = [(5.5, 0.0), (-5.5, 5.5), (0.0, -5.5), (5.7, -5.7), (-2.25, 3.3), (1.0, 1.0)]
    for n, (x, y) in enumerate(targets, start=1):
        page.mouse.click(*to_page(x, y))
        wait_until(lambda n=n: page.evaluate(COUNT) == 50 + n, TIMEOUT, f"point {n} drawn")
    after = page.evaluate(POINTS)
    assert after["testShown"] is False  # "Show test data" is still off ...
    train = {tuple(p[:2]) for p in after["train"]}
    drawn = train - old_train
    assert len(drawn) == len(targets)  # ... and every drawn point is a training point, shown
    assert {tuple(p[:2]) for p in after["test"]} == old_test  # no point changed its set
    assert old_train <= train
    for x, y in targets:
        near = min(drawn, key=lambda p: (p[0] - x) ** 2 + (p[1] - y) ** 2)
        off = ((near[0] - x) * scale[0]) ** 2 + ((near[1] - y) * scale[1]) ** 2
        assert off ** 0.5 <= radius / 2, f"clicked ({x}, {y}), the point is at {near}"


@pytest.mark.parametrize("gap_ms", [100, 1200])
def test_ten_quick_clicks_make_ten_points(page, server, gap_ms):  # noqa: F811
    open_playground(page, server.url + "/")  # the default page, as a visitor finds it
    start = wait_until(lambda: page.evaluate(COUNT), TIMEOUT, "the generated points")
    page.select_option('[data-testid="pg-draw-mode"]', label="add orange")
    to_page, _, _ = pixel_map(page)
    for i in range(10):  # as fast as the page applies them, and faster
        page.mouse.click(*to_page(-4.5 + i, 2.0 + (i % 3)))
        page.wait_for_timeout(gap_ms)
    wait_until(lambda: page.evaluate(COUNT) == start + 10, TIMEOUT, "ten points, ten clicks")
    page.wait_for_timeout(1500)  # and no click applied twice
    assert page.evaluate(COUNT) == start + 10
    # what the clicks have to say is under the plot, where no click goes (a toast
    # over the plot's top took the clicks meant for it)
    assert "a link carries" in page.locator('[data-testid="pg-draw-note"]').inner_text()


def test_replay_scrubs_and_every_export_downloads(page):
    page.locator('[data-testid="pg-play"]').click()
    wait_until(lambda: int(page.locator('[data-testid="pg-epoch"]').inner_text()
                           .split()[1].replace(",", "")) > 300, TIMEOUT, "training")
    page.locator('[data-testid="pg-play"]').click()
    expander(page, "Replay: scrub back")
    page.locator(".st-key-replay_load button").click()
    figure = page.locator(".st-key-replay_figure .js-plotly-plot")
    figure.wait_for()
    frames = figure.evaluate("(el) => el._transitionData._frames.length")
    assert frames >= 3
    # scrub: a click late on the slider's rail shows a later epoch's output
    figure.locator(".slider-rail-rect").scroll_into_view_if_needed()
    rail = figure.locator(".slider-rail-rect").bounding_box()
    assert figure.evaluate("(el) => el._fullLayout.sliders[0].active") == 0
    first = figure.evaluate("(el) => el.layout.images[0].source")
    page.mouse.click(rail["x"] + rail["width"] * 0.9, rail["y"] + rail["height"] / 2)
    wait_until(lambda: figure.evaluate("(el) => el._fullLayout.sliders[0].active") > frames / 2,
               TIMEOUT, "the slider at a late snapshot")
    wait_until(lambda: figure.evaluate("(el) => el.layout.images[0].source") != first,
               TIMEOUT, "a later output shown")
    gif = download(page, ".st-key-replay_gif button")
    assert gif[:6] in (b"GIF87a", b"GIF89a")
    # every export of the run
    expander(page, "Export and import")
    config = json.loads(download(page, ".st-key-export_config button"))
    assert config["config"]["n_points"] == "50"
    weights = download(page, ".st-key-export_weights button")
    header = json.loads(weights[8:8 + struct.unpack("<Q", weights[:8])[0]])
    assert {"layers.0.weight", "layers.0.bias"} <= set(header)
    script = download(page, ".st-key-export_script button").decode()
    assert "import torch" in script and "final" in script
    history = download(page, ".st-key-export_history button").decode().splitlines()
    assert history[0].startswith("epoch,train_loss,test_loss") and len(history) > 100


def test_every_chart_downloads_as_png_and_svg(page):
    page.locator('[data-testid="pg-step"]').click()
    for chart, name in ((".pg-curves", "curves"), (".pg-boundary", "boundary")):
        page.locator(chart).hover()
        with page.expect_download() as info:
            page.locator(f"{chart} .modebar-btn[data-title='Download as PNG']").click()
        png = info.value
        assert png.suggested_filename == f"playground-{name}.png"
        assert png.path().read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        page.locator(chart).hover()
        with page.expect_download() as info:
            page.locator(f"{chart} .modebar-btn[data-title='Download as SVG']").click()
        svg = info.value.path().read_text()
        assert svg.startswith("<svg") and "</svg>" in svg
        if name == "boundary":  # the output over the plane is in the file, not only the points
            assert "<image" in svg and "data:image/png" in svg
    # and the figure is as it was: the output is the <img> under it again
    assert page.evaluate("() => document.querySelector('.pg-boundary').layout.images.length") == 0


def test_exported_weights_import_back_into_the_session(page, tmp_path):
    test_loss = """() => Number(document.querySelector('.pg-test-loss').textContent)"""
    page.locator('[data-testid="pg-play"]').click()
    wait_until(lambda: page.evaluate(test_loss) < 0.4, TIMEOUT, "a trained network")
    page.locator('[data-testid="pg-play"]').click()
    # paused: the frame that says so carries the exact snapshot the download reads
    wait_label(page, "Play")
    trained = page.evaluate(test_loss)
    expander(page, "Export and import")
    with page.expect_download() as info:
        page.locator(".st-key-export_weights button").first.click()
    weights = tmp_path / "trained.safetensors"
    info.value.save_as(weights)
    page.locator('[data-testid="pg-reset"]').click()  # new initial weights, epoch 0
    wait_until(lambda: page.evaluate(test_loss) > trained + 0.05, TIMEOUT, "an untrained net")
    page.locator(".st-key-import_weights input[type=file]").set_input_files(str(weights))
    page.get_by_text("Loaded the weights").wait_for()
    wait_until(lambda: abs(page.evaluate(test_loss) - trained) < 0.02, TIMEOUT,
               "the trained weights back, at epoch 0")
