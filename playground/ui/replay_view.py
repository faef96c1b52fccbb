"""The replay: scrub back through a run's epochs, play it, or take it home as a GIF.

The session keeps the snapshots (``server/replay.py``). The figure is built only when
the visitor loads the replay, from a copy taken at that moment, so the page's other
reruns stay cheap and training can go on meanwhile; the GIF is made only when its
download button is pressed.
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
import streamlit as st

from playground.server.render import point_colours
from playground.server.replay import Snapshot
from playground.server.replay_gif import FRAME_MS, replay_gif  # Play runs at the GIF's pace
from playground.server.session import Session
from playground.ui.expanders import expander
from playground.ui.plots import POINT_SPLITS, plane_figure, plane_image, point_trace

FIGURE_SIZE = (500, 560)  # width, height: the plane ~440 px square, at 1024x768 too
LOADED = "replay_loaded"  # session state: the copy the figure shows


def replay_figure(snapshots: Sequence[Snapshot], points: dict | None,
                  show_test: bool = False) -> go.Figure:
    """The output over the plane with the data points, one animation frame per snapshot,
    a slider over the epochs and Play / Pause buttons (Plotly's own animation)."""
    if not snapshots:
        raise ValueError("The replay has no snapshots yet: train for a moment first.")
    traces = []
    for split, outline in POINT_SPLITS:
        rows = (points or {}).get(split) or []
        traces.append(point_trace(split, outline, [r[0] for r in rows], [r[1] for r in rows],
                                  _colours(rows, points), visible=split == "train" or show_test))
    fig = plane_figure(snapshots[0].boundary, traces)
    # frames are named by index: unique whatever the epochs
    fig.frames = [go.Frame(name=str(i), layout=dict(images=[plane_image(s.boundary)]))
                  for i, s in enumerate(snapshots)]
    still = dict(mode="immediate", frame=dict(duration=0, redraw=True),
                 transition=dict(duration=0))
    steps = [dict(method="animate", label=f"{s.epoch:,}", args=[[str(i)], still])
             for i, s in enumerate(snapshots)]
    width, height = FIGURE_SIZE
    fig.update_layout(
        width=width, height=height, showlegend=False, plot_bgcolor="white",
        paper_bgcolor="rgba(0,0,0,0)", margin=dict(l=30, r=10, t=10, b=110),
        font=dict(family="Helvetica, Arial, sans-serif", size=12),
        sliders=[dict(
            active=0, steps=steps, x=0.25, len=0.75, y=0, yanchor="top", pad=dict(t=36),
            # one label per step would be 200 labels on top of each other: the current
            # epoch is written above the slider instead
            font=dict(color="rgba(0,0,0,0)"), ticklen=0, minorticklen=0,
            currentvalue=dict(prefix="epoch ", font=dict(size=15, color="#222"),
                              xanchor="left"))],
        updatemenus=[dict(
            type="buttons", direction="left", x=0, y=0, xanchor="left", yanchor="top",
            pad=dict(t=58), showactive=False,
            buttons=[dict(label="Play", method="animate", args=[None, dict(
                          mode="immediate", fromcurrent=True, transition=dict(duration=0),
                          frame=dict(duration=FRAME_MS, redraw=True))]),
                     dict(label="Pause", method="animate", args=[[None], still])])])
    return fig


def _colours(rows: list, points: dict | None) -> list[str]:
    regression = (points or {}).get("task") == "regression"
    return point_colours([r[2] for r in rows], regression)


NOTHING_YET = "replay_nothing_yet"  # "Load" found no snapshots: say so once


def _load(session: Session) -> None:
    snapshots = session.replay_snapshots()
    if snapshots:
        st.session_state[LOADED] = {"snapshots": snapshots, "points": session.view().points}
    else:
        st.session_state[NOTHING_YET] = True


def _close() -> None:
    st.session_state.pop(LOADED, None)


@st.fragment
def replay_section(session: Session | None, show_test: bool = False) -> None:
    """The "Replay" expander; its buttons rerun only this section."""
    with st.container(key="replay"), expander("Replay: scrub back through the training",
                                              "replay_open") as open_:
        if open_:
            _replay_body(session, show_test)


def _replay_body(session: Session | None, show_test: bool) -> None:
    view = session.view() if session is not None else None
    points = view.points if view is not None else None
    if points is not None and "train" not in points:
        st.caption("A replay shows the output over the plane; this data set has none.")
        return
    # every rerun of the page passes here: the epochs only, no snapshot is decoded
    epochs = view.replay_epochs if view is not None else []
    loaded = st.session_state.get(LOADED)
    # the page does not rerun while training streams: what was kept is read on "Load"
    if not epochs and loaded is None:
        nothing = st.session_state.pop(NOTHING_YET, False)
        st.caption("Nothing to replay yet: press play first." if nothing else
                   "Train a while, then load the replay to watch the run again.")
    if epochs:
        st.caption(f"{len(epochs)} snapshots kept, epoch {epochs[0]:,} to {epochs[-1]:,} "
                   "(a long run keeps fewer, spread over all of it).")
    buttons = st.columns([1, 1, 1, 2])
    with buttons[0]:
        st.button("Load the latest" if loaded else "Load the replay", key="replay_load",
                  disabled=session is None, on_click=_load, args=(session,))
    loaded = st.session_state.get(LOADED)
    if loaded is None:
        return
    shown: list[Snapshot] = loaded["snapshots"]
    with buttons[1]:
        st.download_button(
            "Download as GIF", key="replay_gif", file_name="replay.gif", mime="image/gif",
            # made only when pressed (on another thread): ~3 ms a frame
            data=lambda: replay_gif(shown, loaded["points"], show_test=show_test),
            on_click="ignore")
    with buttons[2]:
        st.button("Close the replay", key="replay_close", on_click=_close)
    if loaded.get("show_test") != show_test:  # built once per Load, not on every rerun
        loaded["figure"] = replay_figure(shown, loaded["points"], show_test)
        loaded["show_test"] = show_test
    st.plotly_chart(loaded["figure"], key="replay_figure",
                    theme=None, width=FIGURE_SIZE[0], config={"displayModeBar": False})
