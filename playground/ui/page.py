"""The playground page: top bar, data column, live view, more settings.

Streamlit reruns handle the controls; the moving picture is the live view's
stream. The page talks to training only through the session's Session.
"""

from __future__ import annotations

import shlex

import streamlit as st

from playground.engine.data.datasets import DATASETS
from playground.engine.data.edits import apply_edit
from playground.engine.data.own_points import URL_MAX_POINTS, count_points
from playground.engine.data.points import fits_in_link
from playground.engine.formats.tfplayground import config_from_hash
from playground.engine.teaching.lessons import LESSONS
from playground.engine.train.trainer import pack
from playground.ui import components, controls, room_page, study_page, visit
from playground.ui.expanders import expander
from playground.ui.exports_panel import exports_section, share_link
from playground.ui.lesson_panel import classical_section, lesson_panel, lessons_menu
from playground.ui.own_data import own_data_section, remember_data
from playground.ui.page_style import COMPACT_CSS, PRESENTER_CSS, hidden_parts_css
from playground.ui.replay_view import replay_section
from playground.ui.slow_motion_view import slow_motion_section
from playground.ui.text import plain

POINT_EDITS = ("add_point", "erase_points")  # clicks on the output plot (draw_points.js)
EDIT_SEQ_KEY = "live_edit_seq"  # the number of the live view's last applied edit
DRAW_NOTE_KEY = "draw_note"  # what the last click on the output plot has to say
TASK_TITLES = {"classification": "Classification", "regression": "Regression"}


# -- controls (callbacks run before the script, so they act at once) ----------------------
def _set_task() -> None:
    task = st.session_state["task"]
    config = visit.config()
    if config.task != task:
        first = next(name for name, spec in DATASETS.items() if spec.task == task)
        _apply(config, {"op": "dataset", "value": first})


# -- clicks in the components (callbacks too: the next run already shows the change) -------
def _on_pick() -> None:
    picked = components.trigger_value("dataset_picker", "pick")
    if picked and picked != visit.config().dataset:
        _apply(visit.config(), {"op": "dataset", "value": picked})


def _on_live_edit() -> None:
    edit = components.trigger_value("live_view", "edit")
    if not isinstance(edit, dict):
        return
    # the live view numbers its edits and sends the next one when this number comes back
    # (live_view.js); one sent again because its answer was slow is applied once
    seq = edit.get("seq")
    if isinstance(seq, int) and not isinstance(seq, bool):
        if seq <= st.session_state.get(EDIT_SEQ_KEY, 0):
            return
        st.session_state[EDIT_SEQ_KEY] = seq
    before = visit.config()
    if edit.get("op") not in POINT_EDITS:
        _apply(before, edit)
    else:
        _apply_point_edit(before, edit)
    session = visit.session()
    if edit.get("op") == "lower_learning_rate" and session is not None:
        session.restart()  # a clean retry from the same start


def _apply_point_edit(before, edit: dict) -> None:
    """A click on the output plot. What it has to say goes under the plot (the live
    view's draw note), not in a toast: at 1024x768 the toast covers the plot's top, and
    the next clicks there would land on it."""
    after, refusal = apply_edit(before, edit)
    st.session_state[DRAW_NOTE_KEY] = refusal or ""
    if refusal:
        return
    visit.commit(after)
    after = visit.config()
    if after == before:
        return
    remember_data(before)  # the points before: "Undo" steps back to them
    if not fits_in_link(after):  # a status line, so it stays while it holds
        st.session_state[DRAW_NOTE_KEY] = (
            f"Your {count_points(after.data):,} points are more than the {URL_MAX_POINTS} a "
            "link carries: erase some (or start from fewer points) to share them by link, "
            "or download them as CSV (Your own data).")


def _on_tf_link() -> None:
    """A TensorFlow Playground link: its experiment, and what could not be carried over."""
    fragment = components.trigger_value("live_view", "tf_link")
    if not isinstance(fragment, str):
        return
    config, ignored = config_from_hash(fragment, visit.limits())
    visit.note("Opened a TensorFlow Playground link with its own math (TF math in More "
                 "settings).")
    for sentence in ignored:
        visit.note(sentence)
    visit.commit(config)


def _use_tiny_network() -> None:
    """The slow-motion view's suggestion: a 2-2-1 network on a 2-D data set."""
    config = visit.config()
    if DATASETS[config.dataset].n_inputs != 2:
        config = config.with_dataset("circle")
    visit.commit(config.with_hidden((2,)).replace(features=("x1", "x2")))


def _apply(config, edit: dict) -> None:
    edited, refusal = apply_edit(config, edit)
    if refusal:
        visit.note(refusal)
    else:
        visit.commit(edited)


def _activation(config) -> None:
    if config.hidden:
        controls.choice("activation", "Activation")
    else:  # nothing to choose: the inputs go straight to the output
        st.selectbox("Activation", ["No hidden layer"], key="activation_none", disabled=True)


def _loss(config) -> None:
    if config.task == "regression":
        st.selectbox("Loss", ["Squared error"], key="loss_regression", disabled=True,
                     help="regression always uses the mean squared error")
    else:
        controls.choice("loss", "Loss")


# the top bar's controls: (the name ``hide=`` knows them by, relative width, how to draw);
# hidden ones take no room, so a lesson's few controls get the whole bar
TOP_BAR = (
    ("learning_rate", 0.9,
     lambda c: controls.choice("learning_rate", "Learning rate", controls.LEARNING_RATES)),
    ("activation", 1.0, _activation),
    ("regularization", 1.1, lambda c: controls.choice("regularization", "Regularization")),
    ("regularization", 0.8, lambda c: controls.choice("reg_rate", "Reg. rate",
                                                      controls.REG_RATES)),
    ("optimizer", 1.1, lambda c: controls.choice("optimizer", "Optimizer")),
    ("loss", 1.2, _loss),
    ("speed", 0.9, lambda c: controls.choice("speed", "Speed", controls.SPEEDS,
                                             help="epochs per second: slow it down to narrate")),
)


@st.fragment
def top_bar() -> None:
    """The training controls: a click reruns only this bar. (Play, step and the
    resets live in the live view: they go down its stream and act within a frame.)"""
    _sync_url()  # a change made by this bar's callbacks, before anything is drawn
    config = visit.config()
    shown = [(width, draw) for name, width, draw in TOP_BAR if name not in config.hide]
    columns = st.columns([width for width, _ in shown] or [1], vertical_alignment="bottom")
    for column, (_, draw) in zip(columns, shown):
        with column:
            draw(config)
    show_notes()
    if st.session_state.pop("rerun_page", False):
        st.rerun(scope="app")
    _sync_url()


def data_column() -> None:
    config = visit.config()
    st.session_state["task"] = config.task
    st.selectbox("Problem type", list(TASK_TITLES), key="task", on_change=_set_task,
                 format_func=TASK_TITLES.get)
    st.caption("DATA · which data set do you want to use?")
    names = [name for name, spec in DATASETS.items() if spec.task == config.task]
    components.dataset_picker(config, names, on_pick=_on_pick)
    st.caption(DATASETS[config.dataset].title)
    controls.bind(st.slider, "train_ratio", "Training data (%)", min_value=10, max_value=90,
                  step=10)
    controls.bind(st.slider, "noise", "Noise (%)", min_value=0, max_value=50, step=5)
    controls.bind(st.slider, "batch_size", "Batch size", min_value=1,
                  max_value=max(64, config.batch_size))
    st.button("Regenerate", key="regenerate", use_container_width=True,
              help="new random data (next data seed)",
              on_click=lambda: visit.commit(visit.config().replace(
                  data_seed=visit.config().next_seed("data_seed"))))


def live_column() -> None:
    components.live_view(visit.config(), visit.live_token(), on_edit=_on_live_edit,
                         on_expired=visit.forget_session, on_tf_link=_on_tf_link,
                         on_room=_on_room_news,
                         edit_seq=st.session_state.get(EDIT_SEQ_KEY, 0),
                         draw_note=st.session_state.get(DRAW_NOTE_KEY, ""))


def _on_room_news() -> None:
    """Room hook: the stream says this student's room changed (a push, a lock, a
    question, removal): the run that follows shows it."""
    if st.session_state.get("room_role") == "student":
        room_page.sync_student()


def share_section() -> None:
    config = visit.config()
    params = {k: v for k, v in config.to_params().items() if k != "data"}
    with expander("Share and reproduce", "share_open") as open_:
        if not open_:
            return
        st.caption("This page's address holds every setting; copy it to share the experiment:")
        # st.text, not st.code: the code block's highlighter is a 1.5 MB download
        st.text(share_link(config))
        st.caption("The same experiment from the command line"
                   + (" (with your points saved as my.csv):" if config.data else ":"))
        options = " ".join(f"--{k.replace('_', '-')} {shlex.quote(v)}" for k, v in params.items())
        data = " --data my.csv" if config.data else ""
        st.text(f"python -m playground train {options}{data} --epochs 500".replace("  ", " "))


def _import_weights(params) -> None:
    session = visit.session()
    if session is not None:
        session.load_weights(pack(params))


def show_notes() -> None:
    """The notes of this run, in one toast however many there are."""
    notes = st.session_state.pop("notes", [])
    if notes:
        st.toast(plain(" ".join(notes)))


def lesson_column(lesson) -> None:
    """The open lesson: its text, its steps with live checks, and the other lessons."""
    lessons_menu(lesson.id, visit.open_lesson)
    lesson_panel(lesson, visit.runs, visit.apply_changes, config=visit.config,
                 restart=lambda: visit.session() and visit.session().restart())
    st.button("Leave the lesson", key="leave_lesson", on_click=visit.open_lesson,
              args=(None,))


def experiment(config) -> None:
    """The experiment: one network (controls, data, the live view, the panels below it)
    or a race or sweep."""
    if visit.study() is not None:
        study_page.study_section()
        return
    top_bar()
    data_col, live_col = st.columns([1, 5.2], gap="small")
    with data_col, st.container(key="data_column"):
        data_column()
    with live_col:
        live_column()
    lesson = visit.lesson()
    if lesson is not None and lesson.classical:
        classical_section(config)
    with st.container(key="settings"), expander(
            "More settings: initialization, schedule, dropout, early stopping, seeds",
            "settings_open") as open_:
        if open_:
            controls.advanced_settings()
    session = visit.session()
    replay_section(session, show_test=config.show_test)
    with st.container(key="own_data"):
        own_data_section()
    with st.container(key="compare"):
        study_page.study_builder()
    with st.container(key="slow_motion"):
        slow_motion_section(config, session.view().state if session else None, _use_tiny_network)
    if lesson is None:
        with st.container(key="lessons"), expander(
                f"Lessons: {len(LESSONS)} guided experiments", "lessons_open") as open_:
            if open_:
                lessons_menu(None, visit.open_lesson)
    with st.container(key="share"):
        share_section()
        exports_section(config, session, on_config=visit.commit, on_weights=_import_weights)


FIRST_LESSON = "01-neuron"


def intro_line() -> None:
    """What this page is, in one line, and where a newcomer starts."""
    with st.container(key="intro"):
        st.markdown(f"**Neural network playground**: tinker with a real neural network, "
                    f"trained live by PyTorch. New here? [Start with the lessons]"
                    f"(?lesson={FIRST_LESSON}), or pick data and press ▶.")


def unknown_lesson_notice() -> None:
    """A link named a lesson that does not exist: say so, and name the lessons."""
    sentence = st.session_state.get("unknown_lesson")
    if sentence:
        with st.container(key="unknown_lesson"):
            st.warning(sentence + " Open one from “Lessons” at the foot of the page.",
                       icon=":material/school:")


def main() -> None:
    st.set_page_config(page_title="Neural network playground", layout="wide",
                       initial_sidebar_state="collapsed")
    st.html(COMPACT_CSS)
    if room_page.requested():  # room hook: a class room decides what this page shows
        room_page.main(experiment_page)
    else:
        if "config" not in st.session_state:
            visit.start(st.query_params.to_dict())
        # The address first: a click's callback has already changed the Config, and the
        # browser applies this message before it draws anything of this run (a run that
        # another click interrupts never reaches the end of the script)
        _sync_url()
        experiment_page(visit.config())
    show_notes()
    _sync_url()


def experiment_page(config) -> None:
    """The experiment with its lesson, if one is open, in the page's style."""
    if config.presenter:
        st.html(PRESENTER_CSS)
    if config.hide:
        st.html(hidden_parts_css(config))
    # this run draws the whole page: the top bar need not ask for another one
    st.session_state.pop("rerun_page", None)
    lesson = visit.lesson()
    if lesson is None:
        unknown_lesson_notice()
        if not config.presenter and not config.hide:
            intro_line()
        experiment(config)
    else:  # the lesson beside the experiment, always in view
        side, body = st.columns([1.25, 4], gap="medium")
        with side:
            lesson_column(lesson)
        with body:
            experiment(config)


def _sync_url() -> None:
    """The address bar holds the session's settings (called at the start of every run,
    and again at its end for what the run itself changed)."""
    if "config" not in st.session_state:
        return  # a room's join form: its address stays as it came
    # room hook: a room's page keeps its own address (its code and seat or teacher key)
    room_url = st.session_state.get("room_url")
    params = room_url if room_url is not None else visit.url_params()
    if params != st.query_params.to_dict():
        st.query_params.from_dict(params)


if __name__ == "__main__":  # streamlit runs this file as its main script
    main()
