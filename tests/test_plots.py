"""Figure builders: the traces and layout the live view relies on, and JSON that the
page can send as it is (numpy arrays turned into lists)."""

import json

import numpy as np
import pytest

from playground.engine.train.inference import EXTENT
from playground.server.render import NEGATIVE, POSITIVE, hex_colour
from playground.ui import plots


def to_json(fig) -> str:
    return json.dumps(fig.to_plotly_json(), default=lambda o: o.tolist())


def assert_fixed_axes(fig):
    for axis in (fig.layout.xaxis, fig.layout.yaxis):
        assert tuple(axis.range) == (-EXTENT, EXTENT) == (-6, 6)
        assert axis.fixedrange is True
    assert fig.layout.yaxis.scaleanchor == "x"


def test_boundary_layout():
    fig = plots.boundary_figure()
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


def test_boundary_traces_start_empty_with_the_test_points_hidden():
    fig = plots.boundary_figure()
    assert all(len(t.x) == 0 and len(t.y) == 0 for t in fig.data)
    assert [t.visible for t in fig.data] == [True, False]
    # regression values are painted by this scale, orange to blue over -1..1
    marker = fig.data[0].marker
    assert (marker.cmin, marker.cmax) == (-1, 1)
    scale = [tuple(step) for step in marker.colorscale]
    assert scale[0] == (0, hex_colour(NEGATIVE)) and scale[-1] == (1, hex_colour(POSITIVE))


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
    (cells,) = fig.data
    assert len(cells.y) == k * k and not np.asarray(cells.marker.color).any()
    labels = [str(i) for i in range(k)]
    # cell (true r, predicted c) is a bar in row r around c, from c - 0.5 to c + 0.5
    # and a hair beyond (it overlaps its neighbours)
    assert list(cells.y) == [r for r in labels for _ in labels]
    assert list(cells.customdata) == labels * k
    side = cells.width
    assert 1 <= side < 1.05 and set(cells.x) == {side} and cells.orientation == "h"
    assert list(cells.base) == pytest.approx([c - side / 2 for _ in labels for c in range(k)])
    assert list(fig.layout.xaxis.ticktext) == labels
    assert tuple(fig.layout.xaxis.range) == (-0.5, k - 0.5)
    assert fig.layout.yaxis.autorange == "reversed"  # true class 0 on top
    assert list(fig.layout.yaxis.categoryarray) == labels


def test_confusion_holds_the_counts():
    counts = [[5, 1, 0], [2, 7, 1], [0, 0, 9]]
    fig = plots.confusion_figure(3, counts)
    flat = [c for row in counts for c in row]
    assert list(fig.data[0].marker.color) == flat
    assert list(fig.data[0].text) == [str(c) for c in flat]
    assert plots.confusion_cells(np.array(counts)) == {"marker.color": flat,
                                                       "text": [str(c) for c in flat]}
    plain = json.loads(to_json(fig))
    assert plain["data"][0]["type"] == "bar"


def test_figures_survive_a_json_round_trip():
    figures = [plots.boundary_figure(), plots.curves_figure("accuracy"),
               plots.histograms_figure(2, "weights"), plots.norms_figure(2),
               plots.confusion_figure(2, [[3, 1], [0, 4]])]
    for fig in figures:
        text = to_json(fig)
        assert json.loads(text)["layout"]["font"]["family"].startswith("Helvetica")


def test_curves_with_a_validation_share_draw_the_validation_loss_too():
    fig = plots.curves_figure("accuracy", validation=True)
    assert [t.name for t in fig.data][-1] == "validation loss"
    assert fig.data[-1].yaxis == "y" and len(fig.data) == 5
