"""Figure builders: arrays in, Plotly figures out, no I/O.

The live view creates each figure once from these builders and then updates
it in place (swap the boundary image, extend the loss curves), so the layouts
here fix their axis ranges and set ``uirevision`` to keep zoom across updates.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from playground.engine.train.inference import EXTENT
from playground.server.render import MIDDLE, NEGATIVE, POSITIVE, hex_colour

FONT = dict(family="Helvetica, Arial, sans-serif", size=11)
BLANK_PNG = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42m"
             "P8/5+hHgAHggJ/PchI7wAAAABJRU5ErkJggg==")


def _base_layout(**overrides: object) -> dict:
    return {**dict(margin=dict(l=36, r=8, t=24, b=28), font=FONT, uirevision="keep",
                   paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="white"), **overrides}


POINT_SPLITS = (("train", "white"), ("test", "black"))  # each split's outline colour
# regression values are painted by this scale over -1..1; class colours come as strings,
# which Plotly uses as they are
POINT_SCALE = [[0, hex_colour(NEGATIVE)], [0.5, hex_colour(MIDDLE)], [1, hex_colour(POSITIVE)]]


def plane_image(source: str) -> dict:
    """A layout image (a PNG data URL) stretched over the whole plane, under the points."""
    side = 2 * EXTENT
    return dict(source=source, xref="x", yref="y", x=-EXTENT, y=EXTENT, sizex=side,
                sizey=side, sizing="stretch", layer="below")


def plane_figure(image_source: str, traces: Sequence[go.Scatter] = (), dtick: float = 2,
                 ticks: str = "outside") -> go.Figure:
    """An image over the plane with ``traces`` (points) on top, on fixed square axes
    over [-EXTENT, EXTENT]: the picture the live view, the replay and the classical
    models share. Callers add their own layout (size, margins)."""
    fig = go.Figure(list(traces))
    fig.add_layout_image(plane_image(image_source))
    axis = dict(range=[-EXTENT, EXTENT], fixedrange=True, showgrid=False, zeroline=False,
                dtick=dtick, **({"ticks": ticks} if ticks else {}))  # "": Plotly's default
    fig.update_xaxes(**axis)
    fig.update_yaxes(**axis, scaleanchor="x", scaleratio=1)
    return fig


def point_trace(split: str, outline: str, x: Sequence[float] = (), y: Sequence[float] = (),
                colours: Sequence | None = None, visible: bool = True) -> go.Scatter:
    """One split's data points: class colours as strings, or regression values as
    numbers for ``POINT_SCALE``."""
    marker = dict(size=6, line=dict(width=1, color=outline), cmin=-1, cmax=1,
                  colorscale=POINT_SCALE)
    if colours is not None:
        marker["color"] = list(colours)
    return go.Scatter(x=list(x), y=list(y), mode="markers", name=split, marker=marker,
                      hoverinfo="skip", visible=visible)


def boundary_figure() -> go.Figure:
    """The frame for the output over the plane: fixed axes, and two empty point traces
    (train with white outlines, test with black ones) that the live view fills and
    colours itself; the output is an image it swaps in under them."""
    fig = plane_figure(BLANK_PNG, [point_trace(split, outline, visible=split == "train")
                                   for split, outline in POINT_SPLITS])
    fig.update_layout(**_base_layout(showlegend=False, margin=dict(l=24, r=4, t=4, b=20)))
    return fig


def curves_figure(metric: str, validation: bool = False) -> go.Figure:
    """Train and test loss (left axis) and accuracy or R² (right axis) over epochs, and
    with a validation share the validation loss (early stopping's curve) as a fifth."""
    fig = go.Figure()
    styles = (("train loss", "#555555", "solid", "y"), ("test loss", "#111111", "dot", "y"),
              (f"train {metric}", hex_colour(POSITIVE), "solid", "y2"),
              (f"test {metric}", hex_colour(POSITIVE), "dot", "y2"))
    if validation:
        styles += (("validation loss", "#9467bd", "dash", "y"),)
    for name, colour, dash, axis in styles:
        fig.add_trace(go.Scatter(x=[], y=[], name=name, mode="lines", yaxis=axis,
                                 line=dict(color=colour, dash=dash, width=1.5)))
    metric_range = [0, 1.02] if metric == "accuracy" else [-0.5, 1.02]
    # round ticks: 0/25/50/75/100 %, or -0.5/0/0.5/1 for R²
    metric_ticks = [0, 0.25, 0.5, 0.75, 1] if metric == "accuracy" else [-0.5, 0, 0.5, 1]
    fig.update_layout(**_base_layout(
        height=190, margin=dict(l=36, r=30, t=44, b=24),
        legend=dict(orientation="h", y=1.02, yanchor="bottom", x=0, font=dict(size=10)),
        xaxis=dict(title=None, rangemode="tozero"),
        yaxis=dict(title="loss", rangemode="tozero"),
        yaxis2=dict(overlaying="y", side="right", range=metric_range, showgrid=False,
                    zeroline=False, tickvals=metric_ticks,
                    tickformat=".0%" if metric == "accuracy" else None)))
    return fig


LAYER_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"]


def histograms_figure(n_layers: int, kind: str) -> go.Figure:
    """One bar trace per layer: the distribution of its weights or gradients."""
    fig = go.Figure()
    for layer in range(n_layers):
        fig.add_trace(go.Bar(x=[], y=[], name=f"layer {layer + 1}", opacity=0.55,
                             marker_color=LAYER_COLOURS[layer % len(LAYER_COLOURS)]))
    fig.update_layout(**_base_layout(height=200, barmode="overlay", bargap=0,
                                     title=dict(text=f"{kind} per layer", x=0.02, y=0.97),
                                     legend=dict(font=dict(size=9))))
    return fig


def norms_figure(n_layers: int) -> go.Figure:
    """Each layer's weight norm (solid) and gradient norm (dotted) over epochs, log scale."""
    fig = go.Figure()
    for kind, dash in (("weights", "solid"), ("gradient", "dot")):
        for layer in range(n_layers):
            fig.add_trace(go.Scatter(x=[], y=[], mode="lines", name=f"{kind} {layer + 1}",
                                     line=dict(dash=dash, width=1.3,
                                               color=LAYER_COLOURS[layer % len(LAYER_COLOURS)])))
    fig.update_layout(**_base_layout(height=200, yaxis=dict(type="log"),
                                     title=dict(text="norms over epochs", x=0.02, y=0.97),
                                     legend=dict(font=dict(size=9))))
    return fig


# each cell a hair larger than its place, so neighbours overlap: no pale seams between them
CELL_OVERLAP = 0.02


def confusion_cells(counts: np.ndarray) -> dict:
    """A confusion matrix's cells as the bar trace draws them, row by row (true class 0
    first): colour and label per cell. The live view restyles the same two fields."""
    flat = np.asarray(counts).ravel()
    return {"marker.color": flat.tolist(), "text": [str(int(c)) for c in flat]}


def confusion_figure(n_classes: int, counts: Sequence[Sequence[int]] | None = None
                     ) -> go.Figure:
    """Test-set confusion matrix: rows are true classes, columns predicted ones, the
    count in each cell and its shade of blue. Drawn as one horizontal bar per cell (a
    unit long, a row high): the page's Plotly bundle has bars but no heatmap."""
    side = 1 + CELL_OVERLAP
    z = np.zeros((n_classes, n_classes), dtype=int) if counts is None else np.asarray(counts)
    labels = [str(k) for k in range(n_classes)]
    rows, cols = np.divmod(np.arange(n_classes * n_classes), n_classes)
    cells = confusion_cells(z)
    fig = go.Figure(go.Bar(
        orientation="h", y=[labels[r] for r in rows], x=[side] * len(rows),
        base=(cols - side / 2).tolist(), width=side, customdata=[labels[c] for c in cols],
        text=cells["text"], textposition="inside", insidetextanchor="middle", textangle=0,
        marker=dict(color=cells["marker.color"], colorscale="Blues", showscale=False,
                    line=dict(width=0)),
        hovertemplate="true %{y}, predicted %{customdata}: %{text}<extra></extra>"))
    fig.update_layout(**_base_layout(
        height=200, title=dict(text="confusion (test)", x=0.02), barmode="overlay",
        # the axes as Plotly draws a heatmap's: a tick at each class, no grid
        xaxis=dict(title="predicted", range=[-0.5, n_classes - 0.5], tickvals=list(
            range(n_classes)), ticktext=labels, ticks="outside", showgrid=False,
                   zeroline=False),
        yaxis=dict(title="true", autorange="reversed", type="category", dtick=1,
                   categoryorder="array", categoryarray=labels, ticks="outside",
                   showgrid=False)))
    return fig
