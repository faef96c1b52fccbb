"""The "Your own data" panel: upload a CSV, download the points, undo the last edit, go
back to the generated data.

Clicks on the data plot add and erase points through ``edits.py`` (the live view);
the page calls ``remember_data`` before it commits one, so "Undo" can step back.
Every action is a callback, so the run that follows already shows its result.
"""

from __future__ import annotations

from functools import partial
from pathlib import PurePath

import streamlit as st

from playground.engine.config.config import Config
from playground.engine.data.datasets import DATASETS
from playground.engine.data.own_csv import parse_csv
from playground.engine.data.own_points import URL_MAX_POINTS, DataProblem, count_points
from playground.engine.data.points import fits_in_link, points_csv
from playground.ui import visit
from playground.ui.expanders import expander
from playground.ui.text import plain

UNDO_KEY = "own_data_undo"  # (data set, data) before each edit, newest last
UNDO_DEPTH = 20
UPLOAD_KEY = "own_data_file"
RESULT_KEY = "own_data_upload"  # the last upload's preview, scaling or error
NAME_KEY = "own_data_name"  # the uploaded file's name: the download carries it back
HELP = ("Click the data plot to add a point of the chosen class (for regression, of the "
        "chosen value); drag a box to erase points. Points you draw are training points, "
        "always shown, unless you tick \"as test points\"; every other point keeps its set. "
        "Training goes on with the new points.")


def remember_data(old_config: Config) -> None:
    """Keep the points before an edit, so "Undo the last edit" can bring them back."""
    stack = st.session_state.setdefault(UNDO_KEY, [])
    stack.append((old_config.dataset, old_config.data))
    del stack[:-UNDO_DEPTH]


def _undo_stack(config: Config) -> list[tuple[str, str]]:
    """The remembered points of this data set that differ from the current ones (points
    of another data set cannot come back on this one)."""
    stack = [entry for entry in st.session_state.get(UNDO_KEY, [])
             if entry[0] == config.dataset]
    while stack and stack[-1][1] == config.data:
        stack.pop()
    st.session_state[UNDO_KEY] = stack
    return stack


def _commit_data(data: str) -> None:
    config = visit.config()
    remember_data(config)
    visit.commit(config.replace(data=data))


def _undo() -> None:
    config = visit.config()
    stack = _undo_stack(config)
    if not stack:
        visit.note("There is no edit of the data to undo.")
        return
    _, data = stack.pop()
    visit.commit(config.replace(data=data))


def _back_to_generated() -> None:
    st.session_state.pop(NAME_KEY, None)
    _commit_data("")
    visit.note("Back to the data set's generated points.")


def download_name(config: Config, uploaded: str | None) -> str:
    """The CSV download's file name: the uploaded file's (its points, perhaps edited, go
    back under the name they came with), else the data set's, "-drawn" once edited."""
    if not config.data:
        return f"{config.dataset}.csv"
    stem = PurePath(uploaded or "").stem.strip()
    return f"{stem}.csv" if stem else f"{config.dataset}-drawn.csv"


def apply_upload(data: bytes, name: str | None = None) -> None:
    """Use an uploaded file's points, or keep everything as it is and say why not."""
    try:
        own = parse_csv(data, visit.config(), visit.limits())
    except DataProblem as problem:
        st.session_state[RESULT_KEY] = {"error": str(problem)}
        return
    _commit_data(own.text)
    st.session_state[NAME_KEY] = name
    st.session_state[RESULT_KEY] = {"preview": own.preview, "scaling": own.scaling,
                                    "header": own.header, "points": len(own.x)}


def _on_upload() -> None:
    uploaded = st.session_state.get(UPLOAD_KEY)
    if uploaded is None:  # the file was removed from the uploader: nothing to undo there
        st.session_state.pop(RESULT_KEY, None)
        return
    apply_upload(uploaded.getvalue(), uploaded.name)


def _show_upload_result() -> None:
    result = st.session_state.get(RESULT_KEY)
    if not result:
        return
    if "error" in result:
        st.error(plain(result["error"]))  # it may quote a cell of the visitor's file
        return
    # the header is the visitor's text: shown as written, never as markdown (the preview
    # below is a table, whose cells are not markdown)
    header = (plain(", ".join(result["header"])) if result["header"]
              else "none (every row is a point)")
    st.caption(f"Read {result['points']:,} points; header: {header}. They train as float32 "
               "numbers, as the file has them (to about 7 digits). The first ones, as used:")
    st.table(result["preview"])
    if result["scaling"]:
        st.info(result["scaling"])


def _status(config: Config) -> str:
    if not config.data:
        return f"The points are {DATASETS[config.dataset].title}'s generated ones."
    return f"Your own {count_points(config.data):,} points."


def own_data_section() -> None:
    """The expander "Your own data"."""
    config = visit.config()
    with expander("Your own data", "own_data_open") as open_:
        if not open_:
            return
        st.caption(_status(config) + " " + HELP)
        st.file_uploader("Upload a CSV: x1, x2 and a label (header optional; commas, "
                         "semicolons or tabs; UTF-8 or UTF-16)",
                         type=["csv", "tsv", "txt"], key=UPLOAD_KEY, on_change=_on_upload)
        _show_upload_result()
        if DATASETS[config.dataset].n_inputs == 2:
            st.download_button("Download the data (CSV)", data=partial(points_csv, config),
                               file_name=download_name(config, st.session_state.get(NAME_KEY)),
                               mime="text/csv",
                               on_click="ignore", key="own_data_download")
        undo, back = st.columns(2)
        undo.button("Undo the last edit", key="own_data_undo_button", on_click=_undo,
                    disabled=not _undo_stack(config))
        back.button("Back to the generated data", key="own_data_generated",
                    on_click=_back_to_generated, disabled=not config.data)
        if not fits_in_link(config):
            st.caption(f"These {count_points(config.data):,} points are more than the "
                       f"{URL_MAX_POINTS} a link can carry, so the page's address leaves them "
                       "out; download the CSV to share them.")
