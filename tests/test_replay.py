"""The replay: bounded over a long run yet spread over all of it, cleared on a restart,
fed by the session, and exported as a GIF and a Plotly animation that show what was kept."""

import base64
import io
import tracemalloc

import imageio.v3 as iio
import numpy as np
import pytest
from PIL import Image

from playground.engine.config.config import Config
from playground.server import pool as pool_module
from playground.server.render import CLASS_COLOURS, NEGATIVE, POSITIVE, diverging_png
from playground.server.replay import MAX_BYTES, MAX_SNAPSHOTS, Replay, Snapshot
from playground.server.replay_gif import GIF_SIZE, replay_gif
from playground.server.session import Session
from playground.ui.replay_view import replay_figure

AXIS = np.linspace(-1.0, 1.0, 100)


def smooth_png(angle: float) -> str:
    """An output like a trained network's: a smooth ramp across the plane."""
    x1, x2 = np.meshgrid(AXIS, AXIS)
    return diverging_png(np.tanh(3 * (np.cos(angle) * x1 + np.sin(angle) * x2)))


PNGS = [smooth_png(a) for a in np.linspace(0, 2 * np.pi, 12)]


def picture(epoch: int, boundary: str | None = None) -> dict:
    rng = np.random.default_rng(epoch)
    return {"boundary": boundary or PNGS[epoch % len(PNGS)],
            "weights": [rng.normal(size=(4, 2)).round(3).tolist(),
                        rng.normal(size=(1, 4)).round(3).tolist()],
            "biases": [[0.1] * 4, [0.2]]}


def uniform_png(rgb: tuple[int, int, int]) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (100, 100), rgb).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def test_a_100000_epoch_run_keeps_at_most_200_spread_over_it_in_bounded_memory():
    # a frame every 10 epochs, 30 frames a second: 300 epochs/s for 5.5 minutes
    epochs = range(0, 100_001, 10)
    tracemalloc.start()
    replay = Replay()
    before = tracemalloc.get_traced_memory()[0]
    most = 0
    for epoch in epochs:
        replay.add(epoch, picture(epoch), now=epoch / 300)
        if epoch % 5000 == 0:
            most = max(most, len(replay.snapshots()))
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    kept = [s.epoch for s in replay.snapshots()]
    assert most <= MAX_SNAPSHOTS and len(kept) <= MAX_SNAPSHOTS
    assert len(kept) >= MAX_SNAPSHOTS // 2  # thinning halves, never more
    assert kept[0] == 0 and kept[-1] == 100_000  # the first and the newest
    assert kept == sorted(set(kept))
    # spread over the whole run: no gap much wider than the average one
    gaps = np.diff(kept)
    assert gaps.max() <= 4 * 100_000 / (len(kept) - 1)
    assert replay.nbytes <= MAX_BYTES
    # what Python really holds (objects included), against a count of its own
    assert held <= 1.25 * MAX_BYTES
    assert held <= len(kept) * (len(PNGS[0]) + 4000)


def test_a_busy_output_thins_by_bytes_before_by_count():
    noise = np.random.default_rng(0).uniform(-1, 1, size=(100, 100))
    heavy = diverging_png(noise)  # incompressible: ~4x a real output
    replay = Replay(min_interval_s=0)
    for epoch in range(1000):
        replay.add(epoch, picture(epoch, boundary=heavy))
        assert replay.nbytes <= MAX_BYTES
    kept = replay.snapshots()
    png_bytes = len(base64.b64decode(heavy.split(",", 1)[1]))
    assert len(kept) <= MAX_BYTES // png_bytes + 1 < MAX_SNAPSHOTS * 3 // 4
    assert kept[0].epoch == 0 and kept[-1].epoch == 999


def test_snapshots_hold_the_picture_they_were_given():
    replay = Replay(min_interval_s=0)
    given = picture(7)
    replay.add(7, given)
    (snapshot,) = replay.snapshots()
    assert snapshot.boundary == given["boundary"]
    assert Image.open(io.BytesIO(snapshot.png)).size == (100, 100)
    for held, sent in zip((*snapshot.weights, *snapshot.biases),
                          (*given["weights"], *given["biases"]), strict=True):
        np.testing.assert_allclose(held, sent, rtol=1e-6)


def test_a_few_snapshots_a_second_but_always_the_newest_picture():
    replay = Replay(min_interval_s=0.25, clock=lambda: 0.0)
    for epoch in range(0, 100, 10):  # all within one instant
        replay.add(epoch, picture(epoch))
    assert [s.epoch for s in replay.snapshots()] == [0, 90]
    replay.add(100, picture(100), now=1.0)
    replay.add(110, picture(110), now=1.1)
    assert [s.epoch for s in replay.snapshots()] == [0, 100, 110]


def test_an_edit_while_paused_replaces_the_snapshot_at_that_epoch():
    replay = Replay(min_interval_s=0)
    replay.add(5, picture(5))
    replay.add(5, picture(6))  # the visitor typed in a weight: same epoch, new output
    (snapshot,) = replay.snapshots()
    assert snapshot.epoch == 5 and snapshot.boundary == picture(6)["boundary"]


def test_going_back_to_an_earlier_epoch_forgets_what_came_after():
    replay = Replay(min_interval_s=0)
    for epoch in range(0, 1000, 10):
        replay.add(epoch, picture(epoch))
    replay.add(500, picture(500))  # a restarted worker resumed from epoch 500
    assert [s.epoch for s in replay.snapshots()][-1] == 500
    assert all(s.epoch <= 500 for s in replay.snapshots())


def test_pictures_without_a_plane_are_not_kept():
    replay = Replay(min_interval_s=0)
    replay.add(3, {"boundary": None, "weights": [], "biases": []})
    assert replay.snapshots() == [] and len(replay) == 0


class FakeLink:
    def send(self, sid, name, args):
        return True

    def remove(self, sid):
        pass


class FakePool:
    def place(self, session):
        return FakeLink()


@pytest.fixture
def session(monkeypatch):
    monkeypatch.setattr(pool_module, "_pool", FakePool())
    return Session(Config(dataset="xor"))


def frame(epoch: int, generation: int = 0, with_picture: bool = True) -> dict:
    message = {"epoch": epoch, "generation": generation, "playing": True, "stopped": None,
               "metric": "accuracy", "config": {}, "last": None,
               "history": {"epoch": [], "train_loss": [], "test_loss": [], "train_metric": [],
                           "test_metric": [], "weight_norms": [], "grad_norms": []}}
    if with_picture:
        message["picture"] = {"sizes": [2, 4, 1], **picture(epoch)}
    return message


def test_the_runner_feeds_its_replay_and_a_restart_clears_it(session):
    session.replay.min_interval_s = 0  # frames here come faster than any clock would tick
    for epoch in range(0, 3000, 5):
        session.merge(frame(epoch, with_picture=epoch % 10 == 0))
    kept = session.replay.snapshots()
    assert len(kept) <= MAX_SNAPSHOTS and kept[0].epoch == 0 and kept[-1].epoch == 2990
    session.merge(frame(0, generation=1))  # training restarted
    assert [s.epoch for s in session.replay.snapshots()] == [0]
    session.merge(frame(4, generation=1))
    assert [s.epoch for s in session.replay.snapshots()] == [0, 4]


# -- exports -------------------------------------------------------------------------------
POINTS = {"task": "classification", "n_classes": 3,
          "train": [[3.0, -3.0, 2], [-3.0, 3.0, 1]], "test": [[3.0, 3.0, 0]]}


def coloured_snapshots() -> list[Snapshot]:
    return [Snapshot.from_picture(epoch, picture(epoch, uniform_png(rgb)))
            for epoch, rgb in ((0, NEGATIVE), (1500, POSITIVE), (123456, NEGATIVE))]


def near(pixel: np.ndarray, rgb) -> bool:
    return bool(np.abs(pixel.astype(int) - np.asarray(rgb, dtype=int)).max() <= 12)


def test_the_gif_has_a_frame_per_snapshot_with_the_output_the_points_and_the_epoch():
    snapshots = coloured_snapshots()
    frames = iio.imread(replay_gif(snapshots, POINTS), index=None)
    assert frames.shape == (3, GIF_SIZE, GIF_SIZE, 3)
    for image, rgb in zip(frames, (NEGATIVE, POSITIVE, NEGATIVE)):
        assert near(image[150, 150], rgb)  # the output where no point is
        # the class-2 point at (3, -3): 3/4 across, 3/4 down
        assert near(image[225, 225], CLASS_COLOURS[2])
        assert near(image[75, 75], CLASS_COLOURS[1])
        assert near(image[75, 225], rgb)  # the test point is hidden by default
        corner = image[:12, :40]  # the epoch label: dark text on white
        assert (corner.min(axis=2) < 80).any() and (corner.min(axis=2) > 240).any()
    assert not np.array_equal(frames[0][:14, :60], frames[2][:14, :60])  # epochs differ
    shown = iio.imread(replay_gif(snapshots, POINTS, size=120, show_test=True), index=None)
    assert shown.shape == (3, 120, 120, 3)
    assert near(shown[0][30, 90], CLASS_COLOURS[0]) and not near(shown[1][30, 90], POSITIVE)


def test_the_gif_refuses_an_empty_replay_in_words():
    with pytest.raises(ValueError, match="no snapshots yet"):
        replay_gif([], POINTS)


def test_the_figure_has_a_frame_and_a_slider_step_per_snapshot():
    snapshots = coloured_snapshots()
    fig = replay_figure(snapshots, POINTS)
    assert len(fig.frames) == len(snapshots)
    assert [f.layout.images[0].source for f in fig.frames] == [s.boundary for s in snapshots]
    assert fig.layout.images[0].source == snapshots[0].boundary
    (slider,) = fig.layout.sliders
    assert [step.label for step in slider.steps] == ["0", "1,500", "123,456"]
    assert [list(step.args[0]) for step in slider.steps] == [[f.name] for f in fig.frames]
    assert [b.label for b in fig.layout.updatemenus[0].buttons] == ["Play", "Pause"]
    train, test = fig.data
    assert list(train.x) == [3.0, -3.0] and list(train.y) == [-3.0, 3.0]
    assert test.visible is False
    assert replay_figure(snapshots, POINTS, show_test=True).data[1].visible is True


# -- the page's section --------------------------------------------------------------------
def replay_page() -> None:
    """A page with only the replay section, over a session-like object with 5 snapshots."""
    from types import SimpleNamespace

    import numpy as np

    from playground.server.render import diverging_png
    from playground.server.replay import Replay
    from playground.ui.replay_view import replay_section

    replay = Replay(min_interval_s=0)
    for epoch in range(0, 50, 10):
        replay.add(epoch, {"boundary": diverging_png(np.full((100, 100), epoch / 50 - 0.5)),
                           "weights": [[[0.5, -0.5]]], "biases": [[0.0]]})
    points = {"task": "classification", "n_classes": 2, "train": [[1.0, 1.0, 1]], "test": []}
    view = SimpleNamespace(points=points, replay_epochs=replay.epochs())
    replay_section(SimpleNamespace(view=lambda: view, replay_snapshots=replay.snapshots))


def test_the_section_builds_the_figure_only_when_loaded():
    import json

    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(replay_page, default_timeout=30)
    at.session_state["replay_open"] = True  # the expander draws its body only when open
    at.run()
    assert not at.exception
    assert "5 snapshots kept, epoch 0 to 40" in at.caption[0].value
    assert not at.get("plotly_chart") and not at.get("download_button")
    at.button(key="replay_load").click().run()
    assert not at.exception
    (chart,) = at.get("plotly_chart")
    spec = json.loads(chart.proto.spec)
    assert len(spec["frames"]) == 5 and len(spec["layout"]["sliders"][0]["steps"]) == 5
    assert len(at.get("download_button")) == 1
    at.button(key="replay_close").click().run()
    assert not at.get("plotly_chart")


def test_a_live_picture_of_palette_indices_is_kept_as_the_same_pixels():
    """A live frame's boundary (``render.GridPicture``) becomes a PNG of the same
    colours, row 0 at the top as the page paints it."""
    from playground.server.render import grid_picture, picture_rgb, quantize
    rng = np.random.default_rng(3)
    values = np.tanh(rng.normal(size=(100, 100)))
    live = grid_picture(quantize(values), "diverging")
    snapshot = Snapshot.from_picture(7, {"boundary": live, "weights": [], "biases": []})
    decoded = np.asarray(Image.open(io.BytesIO(snapshot.png)).convert("RGB"))
    np.testing.assert_array_equal(decoded, picture_rgb(live))
    np.testing.assert_array_equal(decoded, pixels_of(diverging_png(values)))


def pixels_of(url: str) -> np.ndarray:
    data = base64.b64decode(url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
