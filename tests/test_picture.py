"""The picture in a real browser: what is drawn is what the model holds, a paused edit
redraws at once, nothing is cut or overlaps at projector sizes, presenter mode is
readable from the back of a room, and ``hide=`` hides what a lesson does not need.

Shares the app server and Chromium of ``test_browser.py`` (its fixtures)."""

from __future__ import annotations

import re
import urllib.parse

import numpy as np
import pytest
from browser import open_playground, shown_epoch, transport
from test_browser import chromium, screenshot, server, wait_until  # noqa: F401  (fixtures)

from playground.engine.train.inference import RESOLUTION
from playground.server.render import picture_rgb

pytestmark = pytest.mark.browser

# the big plot's canvas and the live view, for a condition on what it shows
SHOWN_OUTPUT = """() => { const view = Object.values(window.__pgViews)[0];
  const canvas = document.querySelector('.pg-boundary-img')"""

# every drawn link: its layer, its ends and the weight it shows, and the input node it
# starts from (for the first layer); every hidden neuron's picture
DRAWING = """() => {
  const links = [...document.querySelectorAll('path.pg-link')].map((p) => {
    const [layer, to, from] = p.getAttribute('data-link').split(',').map(Number);
    const start = p.getAttribute('d').match(/^M([-\\d.]+),([-\\d.]+)/);
    return { layer, to, from, weight: Number(p.getAttribute('data-weight')),
             width: Number(p.getAttribute('stroke-width')), y: Number(start[2]) };
  });
  const inputs = [...document.querySelectorAll('g.pg-input.on')].map((g) => {
    const rect = g.querySelector('rect');
    return { name: g.getAttribute('data-name'), column: Number(g.getAttribute('data-column')),
             y: Number(rect.getAttribute('y')) + Number(rect.getAttribute('height')) / 2 };
  });
  const neurons = [...document.querySelectorAll('g.pg-hidden canvas.pg-thumb')]
    .map((canvas) => canvas.pgPicture && canvas.pgPicture.data);
  const view = Object.values(window.__pgViews)[0];
  if (view.pictureDirty) return null; // a newer picture is waiting for its frame
  return { links, inputs, neurons, picture: view.picture,
           features: (view.data.network.features || []).filter((f) => f.on) };
}"""


def open_at(chromium, server, path: str, width: int = 1366, height: int = 768):  # noqa: F811
    context = chromium.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    open_playground(page, server.url + path)
    return page, errors


def drawn(page) -> dict:
    """The drawing and the picture it was drawn from (once the newest one is drawn)."""
    state = None
    while state is None:  # drawn and read in one task, so they belong together
        page.wait_for_function("() => !Object.values(window.__pgViews)[0].pictureDirty")
        state = page.evaluate(DRAWING)
    return state


def check_drawing_matches_picture(state: dict, features: list[str]) -> None:
    """Each link shows its own weight, starts at the input it belongs to, and every
    hidden neuron shows its own picture."""
    weights = state["picture"]["weights"]
    assert state["links"], "no links drawn"
    for link in state["links"]:
        assert link["weight"] == pytest.approx(weights[link["layer"]][link["to"]][link["from"]],
                                               abs=1e-9)
    inputs = {node["column"]: node for node in state["inputs"]}
    assert [inputs[c]["name"] for c in sorted(inputs)] == features  # the Config's order
    for link in (k for k in state["links"] if k["layer"] == 0):
        assert link["y"] == pytest.approx(inputs[link["from"]]["y"], abs=0.5)
    pictures = [thumb["data"] for layer in state["picture"]["neurons"] for thumb in layer]
    assert state["neurons"] == pictures


@pytest.mark.parametrize("path, features", [
    ("/?features=x1sq,x2sq,x1,x2&hidden=", ["x1sq", "x2sq", "x1", "x2"]),
    ("/?dataset=xor&features=x2,x1x2,x1&hidden=3,2", ["x2", "x1x2", "x1"]),
    ("/?dataset=spiral3&features=sinx1,x1,x2,x2sq&hidden=5", ["sinx1", "x1", "x2", "x2sq"]),
])
def test_every_drawn_link_and_picture_is_the_models(chromium, server, path,  # noqa: F811
                                                    features):
    page, errors = open_at(chromium, server, path)
    transport(page, "play").click()
    wait_until(lambda: shown_epoch(page) > 300, 20, "300 epochs")
    transport(page, "play").click()
    page.wait_for_function("() => Object.values(window.__pgViews)[0].summary.playing === false")
    check_drawing_matches_picture(drawn(page), features)
    if path.startswith("/?features=x1sq"):
        # the circle is solved by the squares: their links are the thick ones
        width = {f: max(k["width"] for k in drawn(page)["links"] if k["from"] == i)
                 for i, f in enumerate(features)}
        assert min(width["x1sq"], width["x2sq"]) > max(width["x1"], width["x2"])
    assert errors == []
    page.context.close()


@pytest.mark.parametrize("edit", ["feature", "remove layer", "remove neuron", "add layer"])
def test_a_paused_edit_redraws_at_once(chromium, server, edit):  # noqa: F811
    page, errors = open_at(chromium, server, "/?dataset=xor")
    transport(page, "step").click()
    wait_until(lambda: shown_epoch(page) == 1, 10, "one step")
    before = len(drawn(page)["links"])
    if edit == "feature":
        page.locator('g.pg-input[data-name="x1sq"]').click()
    elif edit == "remove layer":
        page.locator(".pg-net-head .pg-btn").nth(1).click()
    elif edit == "remove neuron":
        page.locator(".pg-layer-ctl").first.locator(".pg-btn").nth(1).click()
    else:
        page.locator(".pg-net-head .pg-btn").first.click()
    # the new network's first frame: every link coloured, every neuron pictured
    page.wait_for_function("""(before) => {
      const links = [...document.querySelectorAll('path.pg-link')];
      const images = [...document.querySelectorAll('g.pg-hidden canvas.pg-thumb')];
      return links.length !== before && links.every((p) => p.hasAttribute('data-weight'))
        && images.every((canvas) => canvas.pgPicture);
    }""", arg=before, timeout=10_000)
    state = drawn(page)
    features = [f["name"] for f in sorted(state["features"], key=lambda f: f["column"])]
    check_drawing_matches_picture(state, features)
    assert shown_epoch(page) == 0 and errors == []
    page.context.close()


# what must never be cut or overlap: the widgets, the transport, the network's controls
CONTROLS = ('[data-testid="stSelectbox"], [data-testid="stSlider"], '
            '[data-testid="stButton"], .pg-pick, .pg-tbtn, .pg-net-head .pg-btn, '
            '.pg-layer-ctl, .pg-boundary-wrap, g.pg-input')
LAYOUT = """(selector) => {
  // a closed expander keeps its content laid out, but not shown
  const visible = (el) => { const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && el.checkVisibility({ visibilityProperty: true }); };
  const cut = [];
  for (const el of document.querySelectorAll(
      '[data-testid="stSelectbox"] input, .pg-tbtn, [data-testid="stWidgetLabel"] p, '
      + '[data-testid="stButton"] button p, .pg-act, .pg-count')) {
    if (!visible(el)) continue;
    const text = el.value !== undefined && el.tagName === 'INPUT' ? el.value : el.textContent;
    if (el.scrollWidth > el.clientWidth + 1) cut.push(text.trim());
  }
  const boxes = [...document.querySelectorAll(selector)].filter(visible);
  const overlaps = [];
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
    const a = boxes[i], b = boxes[j];
    if (a.contains(b) || b.contains(a)) continue;
    const r = a.getBoundingClientRect(), s = b.getBoundingClientRect();
    const x = Math.min(r.right, s.right) - Math.max(r.left, s.left);
    const y = Math.min(r.bottom, s.bottom) - Math.max(r.top, s.top);
    if (x > 1 && y > 1) overlaps.push([a.className.baseVal ?? a.className,
                                       b.className.baseVal ?? b.className]);
  }
  const wide = document.documentElement.scrollWidth > window.innerWidth + 1;
  return { cut, overlaps, wide };
}"""


@pytest.mark.parametrize("size", [(1024, 768), (1280, 720)])
@pytest.mark.parametrize("path", ["/", "/?dataset=digits", "/?dataset=plane&hidden=8,8,8,8,8,8",
                                  "/?presenter=1"])
def test_nothing_is_cut_or_overlaps_at_projector_sizes(chromium, server, size,  # noqa: F811
                                                        path):
    page, errors = open_at(chromium, server, path, *size)
    page.wait_for_function("() => document.querySelectorAll('path.pg-link').length > 0")
    layout = page.evaluate(LAYOUT, CONTROLS)
    assert layout["cut"] == [], f"cut labels at {size}: {layout['cut']}"
    assert layout["overlaps"] == [], f"overlapping controls at {size}: {layout['overlaps']}"
    assert not layout["wide"], "the page scrolls sideways"
    assert errors == []
    page.context.close()


def test_a_narrow_window_stays_usable(chromium, server):  # noqa: F811
    """640 px (a phone held sideways, half a laptop screen): the columns stack, nothing
    is cut or overlaps, and the transport still works."""
    page, errors = open_at(chromium, server, "/", 640, 900)
    page.wait_for_function("() => document.querySelectorAll('path.pg-link').length > 0")
    layout = page.evaluate(LAYOUT, CONTROLS)
    assert layout["cut"] == [] and layout["overlaps"] == [] and not layout["wide"], layout
    transport(page, "play").click()
    wait_until(lambda: shown_epoch(page) > 20, 20, "training at 640 px")
    assert errors == []
    page.context.close()


# what a class must read from the back of the room: every label and tick, and the parts
# that must all be on the first screen of a 1024x768 projector
PRESENTER_TEXT = ('[data-testid="stWidgetLabel"] p, [data-testid="stSelectbox"] input, .pg-tbtn, '
                  '.pg-node text, .pg-numbers span, .pg-toggles label, .pg-net-title, .pg-act, '
                  '.pg-draw-mode, .pg-count, .pg-legend span, .pg-boundary .xtick text, '
                  '.pg-boundary .ytick text, .pg-curves .xtick text, .pg-curves .ytick text, '
                  '.pg-curves .legendtext')
FIRST_SCREEN = (".pg-epoch", ".pg-transport", ".pg-network svg", ".pg-boundary-wrap",
                ".pg-legend", ".pg-toggles", ".pg-numbers", ".pg-curves")


def test_presenter_mode_is_readable_on_a_projector(chromium, server):  # noqa: F811
    page, errors = open_at(chromium, server, "/?presenter=1", 1024, 768)
    page.wait_for_function("() => document.querySelectorAll('path.pg-link').length > 0")
    page.wait_for_function("() => document.querySelectorAll('.pg-curves .xtick').length > 0")
    sizes = page.evaluate("""(selector) => [...document.querySelectorAll(selector)]
      .filter((el) => el.getBoundingClientRect().width > 0)
      .map((el) => [el.textContent || el.value, parseFloat(getComputedStyle(el).fontSize)])""",
                          PRESENTER_TEXT)
    small = [(text, px) for text, px in sizes if px < 16]
    assert sizes and small == [], f"labels under 16 px: {small}"
    for selector in FIRST_SCREEN:  # all of it in view, none of it cut at the bottom
        box = page.locator(selector).first.bounding_box()
        assert box and box["y"] >= 0 and box["y"] + box["height"] <= 768, (selector, box)
    # the output plot's tick labels stay clear of the colour legend under it
    legend_top = page.locator(".pg-legend").bounding_box()["y"]
    ticks = page.evaluate("""() => [...document.querySelectorAll('.pg-boundary .xtick text')]
      .map((t) => t.getBoundingClientRect().bottom)""")
    assert ticks and max(ticks) <= legend_top, (ticks, legend_top)
    boundary = page.locator(".pg-boundary-wrap").bounding_box()
    assert boundary["width"] >= 400  # the key plot, bigger than the usual 320
    # the neurons' pictures are larger than the usual 34 px
    nodes = page.evaluate("() => [...document.querySelectorAll('g.pg-hidden canvas')]"
                          ".map((c) => c.getBoundingClientRect().width)")
    assert nodes and min(nodes) > 34, nodes
    screenshot(page, "presenter-1024x768.png")  # for a person to look at (a scratch folder)
    assert errors == []
    page.context.close()


def test_hide_leaves_out_what_a_lesson_does_not_need(chromium, server):  # noqa: F811
    page, errors = open_at(chromium, server, "/?hide=optimizer,loss,histograms,norms,settings,"
                                              "data,layers")
    page.wait_for_function("() => document.querySelectorAll('path.pg-link').length > 0")
    for selector in (".st-key-cfg_optimizer", ".st-key-cfg_loss", ".pg-hist-w", ".pg-norms",
                     ".st-key-settings", ".st-key-data_column", ".pg-net-head .pg-btn"):
        assert not page.locator(selector).first.is_visible(), selector
    for selector in (".st-key-cfg_learning_rate", ".pg-curves", '[data-testid="pg-play"]'):
        assert page.locator(selector).first.is_visible(), selector
    assert re.search(r"hide=", page.url)
    assert errors == []
    page.context.close()


def test_hovering_a_neuron_shows_its_picture_and_the_legend_explains_colours(
        chromium, server):  # noqa: F811
    page, errors = open_at(chromium, server, "/?dataset=xor&hidden=3")
    transport(page, "step").click()
    wait_until(lambda: shown_epoch(page) == 1, 10, "one step")
    page.wait_for_function(SHOWN_OUTPUT + "; return canvas.pgPicture === view.picture.boundary; }")
    # the page paints the output's palette indices as the server's colour table says
    shown = page.evaluate(SHOWN_OUTPUT + """;
      const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
      return { picture: canvas.pgPicture, rgba: Array.from(pixels.data) }; }""")
    rgb = np.array(shown["rgba"], dtype=np.uint8).reshape(RESOLUTION, RESOLUTION, 4)[..., :3]
    painted = {**shown["picture"], "data": bytes(shown["picture"]["data"])}  # a Uint8Array
    np.testing.assert_array_equal(rgb, picture_rgb(painted))
    assert len(np.unique(rgb.reshape(-1, 3), axis=0)) > 20  # a picture, not a blank
    page.locator("g.pg-hidden").nth(1).hover()
    page.wait_for_function(SHOWN_OUTPUT
                           + "; return canvas.pgPicture === view.picture.neurons[0][1]; }")
    assert page.locator('[data-testid="pg-hover-label"]').inner_text() == "layer 1, neuron 2"
    page.mouse.move(5, 700)
    page.wait_for_function(SHOWN_OUTPUT + "; return canvas.pgPicture === view.picture.boundary; }")
    assert "probability of blue" in page.locator('[data-testid="pg-legend"]').inner_text()
    biases = page.evaluate("() => [...document.querySelectorAll('rect.pg-bias')]"
                           ".map((r) => r.getAttribute('data-bias'))")
    assert len(biases) == 4 and all(b is not None for b in biases)  # 3 hidden + 1 output
    assert errors == []
    page.context.close()


def test_the_digits_show_their_weights_their_labels_and_their_predictions(
        chromium, server):  # noqa: F811
    page, errors = open_at(chromium, server, "/?dataset=digits")
    transport(page, "play").click()
    wait_until(lambda: shown_epoch(page) > 30, 30, "30 epochs")
    transport(page, "play").click()
    page.wait_for_function("() => Object.values(window.__pgViews)[0].summary.playing === false")
    # 40 test digits, each captioned with the prediction; a mistake is marked
    captions = page.locator(".pg-digits figcaption").all_inner_texts()
    assert len(captions) == 40 and all(c.split()[0].isdigit() for c in captions)
    misses = page.locator(".pg-digits figcaption.pg-miss").count()
    assert misses == sum("✗" in c for c in captions)
    accuracy = float(page.locator(".pg-test-metric").inner_text().rstrip("%")) / 100
    assert accuracy >= 0.85  # the digits' own defaults: 32 ReLU and Adam
    # the outputs are labelled 0-9, the pixels' node has a link to every first neuron
    labels = page.evaluate("() => [...document.querySelectorAll('g.pg-out text')]"
                           ".map((t) => t.textContent)")
    assert labels == [str(d) for d in range(10)]
    state = drawn(page)
    assert sum(k["layer"] == 0 for k in state["links"]) == 32
    # a first-layer neuron's picture is its 64 weights as an 8x8 image, shown on hover
    page.locator("g.pg-hidden").nth(3).hover()
    page.wait_for_function("""() => {
      const view = Object.values(window.__pgViews)[0];
      const img = document.querySelector('.pg-boundary-img');
      return img.pgPicture === view.picture.neurons[0][3]
        && img.getBoundingClientRect().width > 100;
    }""")
    size = page.evaluate("() => [document.querySelector('.pg-boundary-img').width,"
                         " document.querySelector('.pg-boundary-img').height]")
    assert size == [8, 8]
    assert errors == []
    page.context.close()


def test_a_tensorflow_playground_link_opens_its_experiment(chromium, server):  # noqa: F811
    link = ("/#activation=relu&batchSize=10&dataset=xor&regDataset=reg-plane&learningRate=0.1"
            "&regularizationRate=0&noise=5&networkShape=3,2&seed=0.80260&showTestData=false"
            "&discretize=false&percTrainData=50&x=true&y=true&xTimesY=false&xSquared=false"
            "&ySquared=false&cosX=true&sinX=false&cosY=false&sinY=false&problem=classification")
    page, errors = open_at(chromium, server, link)
    page.wait_for_url(re.compile(r"dataset=xor"), timeout=15_000)
    url = urllib.parse.unquote(page.url)
    for part in ("hidden=3,2", "activation=relu", "learning_rate=0.1", "noise=5", "tf_math=1"):
        assert part in url, part
    assert "#" not in page.url  # applied once: a reload keeps the page's own settings
    toast = page.locator('[data-testid="stToast"]').first
    toast.wait_for(timeout=10_000)
    assert "TensorFlow Playground link" in toast.inner_text() and "cosX" in toast.inner_text()
    transport(page, "play").click()
    wait_until(lambda: shown_epoch(page) > 20, 20, "training with TF math")
    assert errors == []
    page.context.close()


def test_a_weight_and_a_bias_can_be_typed_in_while_paused(chromium, server):  # noqa: F811
    page, errors = open_at(chromium, server, "/?dataset=xor&hidden=3")
    transport(page, "step").click()
    wait_until(lambda: shown_epoch(page) == 1, 10, "one step")
    page.locator('path.pg-link[data-link="1,0,2"]').click(force=True)
    box = page.locator('[data-testid="pg-param-edit"] input')
    box.fill("1.5")
    box.press("Enter")
    page.wait_for_function("""() => Object.values(window.__pgViews)[0]
                                    .picture.weights[1][0][2] === 1.5""")
    page.locator("g.pg-hidden").first.click()
    box = page.locator('[data-testid="pg-param-edit"] input')
    box.fill("-2")
    box.press("Enter")
    page.wait_for_function("() => Object.values(window.__pgViews)[0].picture.biases[0][0] === -2")
    width = page.locator('path.pg-link[data-link="1,0,2"]').get_attribute("stroke-width")
    assert float(width) > 2  # drawn as the strong weight it now is
    assert shown_epoch(page) == 1 and errors == []
    page.context.close()


def test_the_live_views_modules_are_served_and_nothing_else(server):  # noqa: F811
    import urllib.error
    import urllib.request

    def status(path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(server.url + path, timeout=5) as reply:
                return reply.status, reply.headers.get("content-type", "")
        except urllib.error.HTTPError as error:
            return error.code, ""

    for name in ("live_view.js", "charts.js", "network_drawing.js", "dom.js"):
        code, kind = status(f"/playground-assets/js/{name}")
        assert code == 200 and "javascript" in kind, name
    for path in ("/playground-assets/js/missing.js", "/playground-assets/js/..%2Fpage.py",
                 "/playground-assets/js/%2E%2E%2F%2E%2E%2Fapp.py"):
        assert status(path)[0] in (400, 404), path  # refused, by us or by Streamlit
