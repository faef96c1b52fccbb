"""The lessons panel: a lesson's text, its steps with "Do it" buttons, live checks, the
menu of lessons, and the classical models' boundaries for the lesson that has them.

Checks are watched one at a time, in order: the first step whose check is not yet
reached is the current one. A step that changes settings is watched only once its
settings are in effect (its "Do it" pressed, or set by hand when the page passes its
Config), and only on the epochs trained since then, so an earlier experiment's curve
cannot tick it. Once reached, a check stays ticked for this run of the lesson.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from playground.engine.config.config import Config, field_restarts
from playground.engine.data.points import points_dataset
from playground.engine.teaching.classical import ClassicalError, ClassicalFit, fit_classical
from playground.engine.teaching.lesson_checks import Run, check_passed, runs_since
from playground.engine.teaching.lessons import LESSONS, Lesson, Step
from playground.engine.train.trainer import DATA_FIELDS
from playground.server.render import classes_png, point_colours
from playground.ui.plots import plane_figure

PROGRESS_KEY = "lesson_progress"
# Streamlit's own icon font: it ships with the page (no emoji font needed on the machine)
REACHED, WAITING = ":green[:material/check_circle:]", ":gray[:material/radio_button_unchecked:]"
CHECK_EVERY_S = 1.0


@dataclass
class Progress:
    """One run of one lesson: the steps whose check was reached, and for each watched
    step the epoch its watch began."""

    lesson_id: str
    reached: set[int] = field(default_factory=set)
    since: dict[int, int] = field(default_factory=dict)
    done: set[int] = field(default_factory=set)  # steps whose "Do it" was pressed


def latest_epoch(runs: Sequence[Run]) -> int:
    return max(((history.last or {}).get("epoch", 0) for history, _ in runs), default=0)


def settings_in_effect(step_set: dict[str, str], config: Config) -> bool:
    """Whether applying the step's settings to ``config`` would change nothing."""
    applied, _ = Config.from_params({**config.to_params(), **step_set})
    return applied == config


def advance(lesson: Lesson, progress: Progress, runs: Sequence[Run],
            config: Config | None = None) -> None:
    """Tick every check that is now reached, in order, stopping at the first that is not."""
    epoch = latest_epoch(runs)
    for index, step in enumerate(lesson.steps):
        if step.check is None or index in progress.reached:
            continue
        if step.set:
            applied = (index in progress.done if config is None
                       else settings_in_effect(dict(step.set), config))
            if not applied:
                progress.since.pop(index, None)  # the watch starts when they are
                return
        # the first check watches the lesson's whole run; a later one from when it is due
        since = progress.since.setdefault(index, epoch if progress.reached else 0)
        if not check_passed(step.check, runs_since(runs, since)):
            return
        progress.reached.add(index)


def _progress(lesson: Lesson) -> Progress:
    progress = st.session_state.get(PROGRESS_KEY)
    if not isinstance(progress, Progress) or progress.lesson_id != lesson.id:
        progress = Progress(lesson.id)
        st.session_state[PROGRESS_KEY] = progress
    return progress


def restarts_training(step: Step) -> bool:
    """Whether the step's settings give a new network or new data (a run from epoch 0)."""
    return any(field_restarts(name) for name in step.set if name in Config.__dataclass_fields__)


def _do_it(lesson: Lesson, index: int, hooks: Hooks) -> None:
    progress = _progress(lesson)
    progress.done.add(index)
    step = lesson.steps[index]
    reset = step.reset and hooks.restart is not None
    # a new run counts from its start; a change to a running one from now on
    progress.since[index] = 0 if reset or restarts_training(step) else latest_epoch(hooks.runs())
    if step.set:
        hooks.apply(dict(step.set))
    if reset:
        hooks.restart()


@dataclass(frozen=True)
class Hooks:
    """The page's side of a lesson: its live runs, and how a step changes them."""

    runs: Callable[[], list[Run]]
    apply: Callable[[dict], None]
    config: Callable[[], Config] | None
    restart: Callable[[], None] | None


@st.fragment(run_every=CHECK_EVERY_S)
def _steps(lesson: Lesson, hooks: Hooks) -> None:
    progress = _progress(lesson)
    advance(lesson, progress, hooks.runs(), hooks.config() if hooks.config else None)
    for index, step in enumerate(lesson.steps):
        lines = [f"**{index + 1}.** {step.text}"]
        if step.check is not None:
            mark = REACHED if index in progress.reached else WAITING
            lines.append(f"{mark} {step.check.text}")
        st.markdown("  \n".join(lines))
        changes = ", ".join(f"{k}={v}" for k, v in step.set.items())
        if (step.set or step.reset) and st.button(
                "Do it", key=f"lesson_do_{lesson.id}_{index}", on_click=_do_it,
                args=(lesson, index, hooks),
                help=changes + (", then start again" if step.reset else "")):
            st.rerun(scope="app")  # the new settings belong to the whole page


def lesson_panel(lesson: Lesson, runs: Callable[[], list[Run]],
                 apply: Callable[[dict], None],
                 config: Callable[[], Config] | None = None,
                 restart: Callable[[], None] | None = None) -> None:
    """The lesson's title, paragraphs and steps. ``runs`` gives the live runs (one per
    race member), ``apply`` applies a step's params; optionally ``config`` gives the
    page's Config (a step set by hand then counts as done) and ``restart`` starts
    training again from the same initial weights (for steps with ``reset``)."""
    with st.container(key="lesson_panel", border=True):
        st.markdown(f"#### {lesson.number}. {lesson.title}")
        for paragraph in lesson.paragraphs:
            st.markdown(paragraph)
        _steps(lesson, Hooks(runs, apply, config, restart))


def _open_picked(open_lesson: Callable[[str], None]) -> None:
    picked = st.session_state.get("lesson_menu")
    if picked in LESSONS:
        st.session_state.pop(PROGRESS_KEY, None)  # a lesson opened again starts afresh
        open_lesson(picked)


def lessons_menu(current_id: str | None, open_lesson: Callable[[str], None]) -> None:
    """A menu of every lesson; picking one calls ``open_lesson(id)``."""
    st.session_state["lesson_menu"] = current_id if current_id in LESSONS else None
    st.selectbox("Lessons", list(LESSONS), key="lesson_menu", placeholder="Choose a lesson",
                 format_func=lambda i: f"{LESSONS[i].number}. {LESSONS[i].title}",
                 on_change=_open_picked, args=(open_lesson,))


# -- the classical comparison ------------------------------------------------------------------
def classical_figure(fit: ClassicalFit, x: np.ndarray, y: np.ndarray) -> go.Figure:
    """One model's class probabilities over the plane (as the live view's PNG), with the
    training points on top."""
    points = go.Scatter(
        x=x[:, 0], y=x[:, 1], mode="markers", hoverinfo="skip",
        marker=dict(size=5, line=dict(width=1, color="white"),
                    color=point_colours(y)))
    # a small figure: fewer ticks, and none drawn outside the plane
    fig = plane_figure(classes_png(fit.probabilities), [points], dtick=3, ticks="")
    fig.update_layout(height=260, margin=dict(l=24, r=4, t=4, b=20), showlegend=False,
                      paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="white")
    return fig


@st.cache_data(max_entries=16, show_spinner=False)
def _fits(data_config: Config) -> tuple[list[ClassicalFit], np.ndarray, np.ndarray]:
    data = points_dataset(data_config)
    return fit_classical(data_config), data.x_train, data.y_train


def classical_section(config: Config) -> None:
    """The two logistic regressions' boundaries side by side, with their test accuracy."""
    # only the fields that make the points matter: other changes reuse the fits
    data_config = Config.defaults_for(config.dataset).replace(
        **{name: getattr(config, name) for name in DATA_FIELDS if name != "features"})
    try:
        fits, x, y = _fits(data_config)
    except ClassicalError as error:
        st.info(str(error))
        return
    st.markdown("**Classical models** on the same training points (scikit-learn)")
    for column, fit in zip(st.columns(len(fits)), fits):
        with column:
            st.plotly_chart(classical_figure(fit, x, y), key=f"classical_{fit.name}",
                            config={"displayModeBar": False, "staticPlot": True})
            st.markdown(f"{fit.title}: test accuracy **{fit.test_accuracy:.0%}**")
