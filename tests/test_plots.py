"""Figure builders: the traces and layout the live view relies on, and JSON that the
page can send as it is (numpy arrays turned into lists)."""

import json

import numpy as np
import pytest

from playground.engine.inference import EXTENT
from playground.server.render import CLASS_COLOURS, NEGATIVE, POSITIVE, hex_colour
from playground.ui import plots


def to_json(fig) -> str:
    return json.dumps(fig.to_plotly_json(), default=lambda o: o.tolist())


def classification_points(n_classes: int) -> dict:
    rng = np.random.default_rng(0)
    train = np.column_stack([rng.uniform(-6, 6, (12, 2)), np.arange(12) % n_classes])
    test = np.column_stack([rng.uniform(-6, 6, (5, 2)), np.arange(5) % n_classes])
    return {"train": train.tolist(), "test": test.tolist(), "task": "classification",
            "n_classes": n_classes}


def regression_points() -> dict:
    return {"train": [[0.0, 1.0, 0.5], [2.0, -3.0, -0.25]], "test": [[1.0, 1.0, 0.9]],
            "task": "regression", "n_classes": 0}


def assert_fixed_axes(fig):
    for axis in (fig.layout.xaxis, fig.layout.yaxis):
        assert tuple(axis.range) == (-EXTENT, EXTENT) == (-6, 6)
        assert axis.fixedrange is True
    assert fig.layout.yaxis.scaleanchor == "x"


@pytest.mark.parametrize("points", [None, classification_points(2), classification_points(3),
                                    regression_points()])
def test_boundary_layout(points):
    fig = plots.boundary_figure(points)
    assert_fixed_axes(fig)
    assert len(fig.layout.images) == 1
    image = fig.layout.images[0]
    assert image.source.startswith("data:image/png;base64,")
    assert (image.x, image.y, image.sizex, image.sizey) == (-6, 6, 12, 12)
    assert (image.xref, image.yref, image.layer) == ("x", "y", "below")
    assert fig.layout.uirevision == "keep"
    assert [t.name for t in fig.data] == ["train", "test"]
    assert [t.marker.line.color for t in fig.data] == ["white", "black"]
    json.loads(to_json(fig))


def test_boundary_traces_hold_the_points():
    points = classification_points(2)
    fig = plots.boundary_figure(points)
    for trace, split in zip(fig.data, ("train", "test")):
        rows = np.asarray(points[split])
        assert np.array_equal(trace.x, rows[:, 0])
        assert np.array_equal(trace.y, rows[:, 1])


@pytest.mark.parametrize("show_test", [False, True])
def test_test_points_hidden_unless_shown(show_test):
    fig = plots.boundary_figure(classification_points(2), show_test=show_test)
    assert fig.data[0].visible is True
    assert fig.data[1].visible is show_test


def test_binary_classes_use_the_two_colours():
    points = classification_points(2)
    fig = plots.boundary_figure(points, show_test=True)
    colour = {0: hex_colour(NEGATIVE), 1: hex_colour(POSITIVE)}
    for trace, split in zip(fig.data, ("train", "test")):
        labels = [int(row[2]) for row in points[split]]
        assert list(trace.marker.color) == [colour[y] for y in labels]


def test_multiclass_colours_one_per_class():
    points = classification_points(3)
    fig = plots.boundary_figure(points)
    labels = [int(row[2]) for row in points["train"]]
    expected = [hex_colour(CLASS_COLOURS[y]) for y in labels]
    assert list(fig.data[0].marker.color) == expected
    assert len(set(expected)) == 3


def test_regression_uses_a_colour_scale_over_the_targets():
    points = regression_points()
    fig = plots.boundary_figure(points)
    marker = fig.data[0].marker
    assert np.allclose(marker.color, [0.5, -0.25])
    assert (marker.cmin, marker.cmax) == (-1, 1)
    scale = [tuple(step) for step in marker.colorscale]
    assert scale[0] == (0, hex_colour(NEGATIVE)) and scale[-1] == (1, hex_colour(POSITIVE))
    assert np.allclose(fig.data[1].marker.color, [0.9])


def test_empty_boundary_has_empty_traces():
    fig = plots.boundary_figure(None, show_test=True)
    assert all(len(t.x) == 0 and len(t.y) == 0 for t in fig.data)
    assert fig.data[1].visible is True


@pytest.mark.parametrize("metric, lo", [("accuracy", 0), ("r2", -0.5)])
def test_curves(metric, lo):
    fig = plots.curves_figure(metric)
    assert [t.name for t in fig.data] == ["train loss", "test loss", f"train {metric}",
                                          f"test {metric}"]
    assert [t.yaxis for t in fig.data] == ["y", "y", "y2", "y2"]
    assert all(len(t.x) == 0 for t in fig.data)
    y2 = fig.layout.yaxis2
    assert y2.overlaying == "y" and y2.side == "right"
    assert tuple(y2.range) == (lo, 1.02)
    assert y2.tickformat == (".0%" if metric == "accuracy" else None)
    assert fig.data[2].line.dash == "solid" and fig.data[3].line.dash == "dot"
    json.loads(to_json(fig))


@pytest.mark.parametrize("n_layers", [1, 3, 7])
def test_histograms(n_layers):
    fig = plots.histograms_figure(n_layers, "gradients")
    assert len(fig.data) == n_layers
    assert all(t.type == "bar" for t in fig.data)
    assert [t.name for t in fig.data] == [f"layer {i + 1}" for i in range(n_layers)]
    assert fig.layout.barmode == "overlay"
    assert "gradients" in fig.layout.title.text
    json.loads(to_json(fig))


@pytest.mark.parametrize("n_layers", [1, 3, 9])
def test_norms(n_layers):
    fig = plots.norms_figure(n_layers)
    assert len(fig.data) == 2 * n_layers
    assert fig.layout.yaxis.type == "log"
    weights, grads = fig.data[:n_layers], fig.data[n_layers:]
    assert [t.name for t in weights] == [f"weights {i + 1}" for i in range(n_layers)]
    assert [t.name for t in grads] == [f"gradient {i + 1}" for i in range(n_layers)]
    # a layer's two lines share a colour, and differ only in dash
    assert [t.line.color for t in weights] == [t.line.color for t in grads]
    assert {t.line.dash for t in weights} == {"solid"} and {t.line.dash for t in grads} == {"dot"}
    json.loads(to_json(fig))


@pytest.mark.parametrize("k", [2, 3, 10])
def test_empty_confusion_is_k_by_k_zeros(k):
    fig = plots.confusion_figure(k)
    z = np.asarray(fig.data[0].z)
    assert z.shape == (k, k) and not z.any()
    assert list(fig.data[0].x) == list(fig.data[0].y) == [str(i) for i in range(k)]
    assert fig.layout.yaxis.autorange == "reversed"  # true class 0 on top


def test_confusion_holds_the_counts():
    counts = [[5, 1, 0], [2, 7, 1], [0, 0, 9]]
    fig = plots.confusion_figure(3, counts)
    assert np.asarray(fig.data[0].z).tolist() == counts
    plain = json.loads(to_json(fig))
    assert plain["data"][0]["type"] == "heatmap"


def test_figures_survive_a_json_round_trip():
    figures = [plots.boundary_figure(classification_points(3), True),
               plots.boundary_figure(regression_points()), plots.curves_figure("accuracy"),
               plots.histograms_figure(2, "weights"), plots.norms_figure(2),
               plots.confusion_figure(2, [[3, 1], [0, 4]])]
    for fig in figures:
        text = to_json(fig)
        assert json.loads(text)["layout"]["font"]["family"].startswith("Helvetica")
