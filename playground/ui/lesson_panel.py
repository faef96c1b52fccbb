"""The lessons panel: a lesson's text, its steps with "Do it" buttons, questions to
answer before running, live checks, the revealed answers, the closing challenge, the
menu of lessons, and the classical models' boundaries for the lesson that has them.

Steps are watched one at a time, in order: the first step whose checks are not all met
is the current one. A step that changes settings is watched only once its settings are
in effect (its "Do it" pressed, or set by hand when the page passes its Config), and
only on the epochs trained since then, so an earlier experiment's curve cannot tick it.
The runs as they were just before that (``before``) are what a comparison check
measures the step against. A step's checks are each ticked once met and stay ticked; a
check marked ``then`` waits for the one before it. The answer to a step's question and
its outcome sentence show once its checks are met, or when the learner asks ("Show me").
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
from playground.engine.teaching.lesson_checks import Check, Run, check_passed, reading, runs_since
from playground.engine.teaching.lessons import LESSONS, Lesson, Step
from playground.engine.train.trainer import DATA_FIELDS
from playground.server.render import classes_png, point_colours
from playground.ui.plots import plane_figure

PROGRESS_KEY = "lesson_progress"
# Streamlit's own icon font: it ships with the page (no emoji font needed on the machine)
REACHED, WAITING = ":green[:material/check_circle:]", ":gray[:material/radio_button_unchecked:]"
RIGHT, WRONG = ":green[:material/check:]", ":orange[:material/close:]"
CHECK_EVERY_S = 1.0
CHALLENGE = -1  # the closing challenge's place among the steps, in Progress


@dataclass
class Progress:
    """One run of one lesson: the steps whose checks were all met, each met check, and
    for each watched step the epoch its watch began and the runs just before it."""

    lesson_id: str
    reached: set[int] = field(default_factory=set)
    met: set[tuple[int, int]] = field(default_factory=set)  # (step, check)
    since: dict[int, int] = field(default_factory=dict)
    check_since: dict[tuple[int, int], int] = field(default_factory=dict)  # ``then`` checks
    before: dict[int, list[Run]] = field(default_factory=dict)
    done: set[int] = field(default_factory=set)  # steps whose "Do it" was pressed
    shown: set[int] = field(default_factory=set)  # steps whose answer was asked for
    skipped: set[int] = field(default_factory=set)  # left behind by a later step's "Do it"


def latest_epoch(runs: Sequence[Run]) -> int:
    return max(((history.last or {}).get("epoch", 0) for history, _ in runs), default=0)


def settings_in_effect(step_set: dict[str, str], config: Config) -> bool:
    """Whether applying the step's settings to ``config`` would change nothing."""
    applied, _ = Config.from_params({**config.to_params(), **step_set})
    return applied == config


def watch_checks(checks: Sequence[Check], index: int, progress: Progress,
                 runs: Sequence[Run]) -> bool:
    """Tick the step's checks that the runs now show; whether all of them are met. The
    step's watch must have begun (``progress.since[index]``)."""
    epoch = latest_epoch(runs)
    for k, check in enumerate(checks):
        key = (index, k)
        if key in progress.met:
            continue
        if check.then:
            if (index, k - 1) not in progress.met:
                break
            start = progress.check_since.setdefault(key, epoch)
        else:
            start = progress.since[index]
        before = progress.before.get(index if check.against is None else check.against)
        if check_passed(check, runs_since(runs, start), before):
            progress.met.add(key)
    return all((index, k) in progress.met for k in range(len(checks)))


def begin_watch(progress: Progress, index: int, runs: Sequence[Run]) -> None:
    """The step is due: the first one watches the lesson's whole run, a later one the
    epochs from now on; the runs now are its "before" (unless a "Do it" took them)."""
    progress.since.setdefault(index, latest_epoch(runs) if progress.reached else 0)
    progress.before.setdefault(index, list(runs))


def advance(lesson: Lesson, progress: Progress, runs: Sequence[Run],
            config: Config | None = None) -> None:
    """Tick every check that is now met, step by step, stopping at the first step whose
    checks are not all met; then the challenge's. Without runs (no trainer yet) nothing
    is watched: a step's "before" must be a run."""
    if not runs:
        return
    for index, step in enumerate(lesson.steps):
        if not step.checks or index in progress.reached or index in progress.skipped:
            continue
        if step.set:
            applied = (index in progress.done if config is None
                       else settings_in_effect(dict(step.set), config))
            if not applied:
                progress.since.pop(index, None)  # the watch starts when they are
                progress.before[index] = list(runs)  # the run the step is measured against
                return
        begin_watch(progress, index, runs)
        if not watch_checks(step.checks, index, progress, runs):
            return
        progress.reached.add(index)
    if lesson.challenge and lesson.challenge.checks and CHALLENGE not in progress.reached:
        begin_watch(progress, CHALLENGE, runs)
        progress.since[CHALLENGE] = 0  # an open target: any run counts
        if watch_checks(lesson.challenge.checks, CHALLENGE, progress, runs):
            progress.reached.add(CHALLENGE)


def _progress(lesson: Lesson) -> Progress:
    progress = st.session_state.get(PROGRESS_KEY)
    if not isinstance(progress, Progress) or progress.lesson_id != lesson.id:
        progress = Progress(lesson.id)
        st.session_state[PROGRESS_KEY] = progress
    return progress


def restarts_training(step: Step) -> bool:
    """Whether the step's settings give a new network or new data (a run from epoch 0)."""
    return any(field_restarts(name) for name in step.set if name in Config.__dataclass_fields__)


def press_do_it(progress: Progress, index: int, step: Step, runs: list[Run]) -> bool:
    """The bookkeeping of a step's "Do it": the runs now are what the step is measured
    against, and its watch begins now, or at epoch 0 when training starts again.
    Returns whether it does. Earlier steps not yet reached are left behind: the learner
    moved on, and a step done by hand (a weight typed in) must not hold up the rest."""
    progress.skipped |= {i for i in range(index) if i not in progress.reached}
    progress.skipped.discard(index)
    progress.done.add(index)
    restart = step.reset or restarts_training(step)
    progress.since[index] = 0 if restart else latest_epoch(runs)
    progress.before[index] = runs
    return restart


def _do_it(lesson: Lesson, index: int, hooks: Hooks) -> None:
    step = lesson.steps[index]
    press_do_it(_progress(lesson), index, step, hooks.runs())
    before = hooks.config() if hooks.config else None
    if step.set:
        hooks.apply(dict(step.set))
    # new data or a new network has started training again already: a second restart
    # right after it would only race the first one's frames
    restarted = before is not None and "restart" in before.effects(hooks.config())
    if step.reset and hooks.restart is not None and not restarted:
        hooks.restart()


def _show_me(lesson: Lesson, index: int) -> None:
    _progress(lesson).shown.add(index)


@dataclass(frozen=True)
class Hooks:
    """The page's side of a lesson: its live runs, and how a step changes them."""

    runs: Callable[[], list[Run]]
    apply: Callable[[dict], None]
    config: Callable[[], Config] | None
    restart: Callable[[], None] | None


def how_long(epochs: int, speed: float) -> str:
    """What a check may take, for the learner: epochs, and seconds at a narrating speed."""
    text = f"may take up to {epochs:,} epochs"
    if speed > 0:
        seconds = epochs / speed
        text += (f", about {seconds / 60:.0f} min at {speed:g} epochs/s" if seconds >= 90
                 else f", about {seconds:.0f} s at {speed:g} epochs/s")
    return text


def _reading_text(check: Check, runs: Sequence[Run], regression: bool) -> str:
    value = reading(check, runs)
    if value is None:
        return ""
    if check.kind == "weights_near_zero":
        return f" (now {value:.0%} of the weights)"
    if "metric" in check.kind or check.args.get("key", "").endswith("metric"):
        return f" (now R² {value:.2f})" if regression else f" (now {value:.0%})"
    return f" (now {value:.3g})"


def check_lines(checks: Sequence[Check], index: int, progress: Progress,
                runs: Sequence[Run], config: Config | None, current: bool) -> list[str]:
    speed = config.speed if config is not None else 0.0
    regression = config is not None and config.task == "regression"
    lines = []
    for k, check in enumerate(checks):
        met = (index, k) in progress.met
        line = f"{REACHED if met else WAITING} {check.text}"
        if current and not met:  # the one watched now: its reading and how long it may take
            line += (_reading_text(check, runs, regression)
                     + f" · {how_long(check.within, speed)}")
        elif not met:
            line += f" · :gray[up to {check.within:,} epochs]"
        lines.append(line)
    return lines


def _question(lesson: Lesson, index: int, step: Step, revealed: bool) -> None:
    question = step.question
    if question is None:
        return
    key = f"lesson_pick_{lesson.id}_{index}"
    st.markdown(f":material/psychology_alt: **Predict:** {question.prompt}")
    st.radio(question.prompt, list(range(len(question.choices))), label_visibility="collapsed",
             format_func=lambda i: question.choices[i], index=None, key=key)
    if revealed:
        picked = st.session_state.get(key)
        right = question.choices[question.answer]
        verdict = ("" if picked is None else
                   f"{RIGHT} your prediction was right. " if picked == question.answer
                   else f"{WRONG} not what you predicted. ")
        st.markdown(f"{verdict}**Answer:** {right}")


def _current(lesson: Lesson, progress: Progress) -> int | None:
    return next((i for i, step in enumerate(lesson.steps) if step.checks
                 and i not in progress.reached and i not in progress.skipped), None)


@st.fragment(run_every=CHECK_EVERY_S)
def _steps(lesson: Lesson, hooks: Hooks) -> None:
    progress = _progress(lesson)
    runs = hooks.runs()
    config = hooks.config() if hooks.config else None
    advance(lesson, progress, runs, config)
    current = _current(lesson, progress)
    for index, step in enumerate(lesson.steps):
        with st.container(key=f"lesson_step_{index}"):
            st.markdown(f"**{index + 1}.** {step.text}")
            met = bool(step.checks) and index in progress.reached
            revealed = met or index in progress.shown
            _question(lesson, index, step, revealed)
            lines = check_lines(step.checks, index, progress, runs, config, index == current)
            if lines:
                st.markdown("  \n".join(lines))
            if revealed and step.outcome:
                st.info(step.outcome, icon=":material/lightbulb:")
            buttons = st.container(horizontal=True, key=f"lesson_buttons_{index}")
            changes = ", ".join(f"{k}={v}" for k, v in step.set.items())
            if (step.set or step.reset) and buttons.button(
                    "Do it", key=f"lesson_do_{lesson.id}_{index}", on_click=_do_it,
                    args=(lesson, index, hooks),
                    help=changes + (", then start again" if step.reset else "")):
                st.rerun(scope="app")  # the new settings belong to the whole page
            if (step.question or step.outcome) and not revealed:
                buttons.button("Show me", key=f"lesson_show_{lesson.id}_{index}",
                                  on_click=_show_me, args=(lesson, index),
                                  help="reveal the answer without waiting for the check")
    if lesson.challenge:
        lines = check_lines(lesson.challenge.checks, CHALLENGE, progress, runs, config,
                            current is None)
        st.markdown("  \n".join([f"**Your turn.** {lesson.challenge.text}", *lines]))


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
