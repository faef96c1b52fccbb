"""The playground page: top bar, data column, live view, more settings.

Streamlit reruns handle the controls; the moving picture is the live view's
stream. The page talks to training only through the session's Runner.
"""

from __future__ import annotations

import shlex

import streamlit as st

from playground.datasets import DATASETS
from playground.edits import apply_edit
from playground.ui import components, controls, session

TASK_TITLES = {"classification": "Classification", "regression": "Regression"}
COMPACT_CSS = """<style>
header[data-testid="stHeader"] { display: none; }
.block-container { padding: 0.6rem 1rem 1rem 1rem !important; max-width: 100% !important; }
div[data-testid="stVerticalBlock"] { gap: 0.45rem; }
div[data-testid="stWidgetLabel"] p { font-size: 0.72rem; text-transform: uppercase; color: #555; }
</style>"""


# -- transport (callbacks run before the script, so they act at once) ---------------------
def _toggle_play() -> None:
    runner = session.runner()
    if runner is None:
        return
    playing = not st.session_state["playing"]
    if playing:
        runner.play()
    else:
        runner.pause()
    st.session_state["playing"] = playing


def _step() -> None:
    runner = session.runner()
    if runner is not None:
        runner.step(1)
        st.session_state["playing"] = False


def _reset_new_weights() -> None:
    config = session.config()
    session.commit(config.replace(init_seed=(config.init_seed + 1) % 2**31))


def _restart_same_weights() -> None:
    runner = session.runner()
    if runner is not None:
        runner.reset(keep_init=True)


def _set_speed() -> None:
    runner = session.runner()
    if runner is not None:
        runner.set_speed(session.SPEEDS[st.session_state["speed"]])


def _set_task() -> None:
    task = st.session_state["task"]
    config = session.config()
    if config.task != task:
        first = next(name for name, spec in DATASETS.items() if spec.task == task)
        _apply(config, {"op": "dataset", "value": first})


# -- clicks in the components (callbacks too: the next run already shows the change) -------
def _on_pick() -> None:
    picked = components.trigger_value("dataset_picker", "pick")
    if picked and picked != session.config().dataset:
        _apply(session.config(), {"op": "dataset", "value": picked})


def _on_live_edit() -> None:
    edit = components.trigger_value("live_view", "edit")
    if not isinstance(edit, dict):
        return
    _apply(session.config(), edit)
    runner = session.runner()
    if edit.get("op") == "lower_learning_rate" and runner is not None:
        runner.reset(keep_init=True)  # a clean retry from the same start


def _on_expired() -> None:
    st.session_state.pop("runner", None)  # the next run starts a fresh trainer


def _apply(config, edit: dict) -> None:
    edited, refusal = apply_edit(config, edit)
    if refusal:
        session.note(refusal)
    else:
        session.commit(edited)


@st.fragment
def top_bar() -> None:
    """The transport and training controls: a click reruns only this bar (a full
    page rerun would delay the live view's drawing right when pause is clicked)."""
    cols = st.columns([0.9, 0.65, 0.7, 0.95, 1, 1, 1, 0.9, 1.1, 1.1, 1.1, 0.9],
                      vertical_alignment="bottom")
    playing = st.session_state["playing"]
    cols[0].button(":material/pause: Pause" if playing else ":material/play_arrow: Play",
                   key="play", on_click=_toggle_play,
                   type="primary", use_container_width=True, help="start or stop training")
    cols[1].button("Step", key="step", on_click=_step, use_container_width=True,
                   help="train one epoch")
    cols[2].button("Reset", key="reset", on_click=_reset_new_weights,
                   use_container_width=True, help="back to epoch 0 with new initial weights")
    cols[3].button("Same start", key="restart", on_click=_restart_same_weights,
                   use_container_width=True,
                   help="back to epoch 0 with the same initial weights (a fair comparison)")
    with cols[4]:
        controls.choice("learning_rate", "Learning rate", controls.LEARNING_RATES)
    with cols[5]:
        controls.choice("activation", "Activation")
    with cols[6]:
        controls.choice("regularization", "Regularization")
    with cols[7]:
        controls.choice("reg_rate", "Reg. rate", controls.REG_RATES)
    with cols[8]:
        st.session_state["task"] = session.config().task
        st.selectbox("Problem type", list(TASK_TITLES), key="task", on_change=_set_task,
                     format_func=TASK_TITLES.get)
    with cols[9]:
        controls.choice("optimizer", "Optimizer")
    with cols[10]:
        if session.config().task == "regression":
            st.selectbox("Loss", ["Mean squared error"], key="loss_regression", disabled=True,
                         help="regression always uses mean squared error")
        else:
            controls.choice("loss", "Loss")
    with cols[11]:
        st.selectbox("Speed", list(session.SPEEDS), key="speed", on_change=_set_speed,
                     help="epochs per second: slow it down to narrate")
    show_notes()
    if st.session_state.pop("rerun_page", False):
        st.rerun(scope="app")
    _sync_url()


def data_column() -> None:
    config = session.config()
    st.caption("DATA · which data set?")
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
              on_click=lambda: session.commit(session.config().replace(
                  data_seed=(session.config().data_seed + 1) % 2**31)))


def live_column() -> None:
    runner = session.runner()
    config = session.config()
    if runner is None:
        st.error(st.session_state.get("busy", "The trainer is not available."))
        st.button("Try again", key="retry")
    elif runner.crashed:
        st.error(f"{runner.crashed} Your settings are kept.")
        st.button("Restart the trainer", key="restart_crashed", on_click=session.restart_crashed)
    else:
        snap = runner.snapshot()
        if snap.get("stopped") and not snap.get("playing"):
            st.session_state["playing"] = False
    components.live_view(config, runner.token if runner and runner.alive else None,
                         on_edit=_on_live_edit, on_expired=_on_expired)


def share_section() -> None:
    params = session.config().to_params()
    with st.expander("Share and reproduce"):
        query = "&".join(f"{k}={v}" for k, v in params.items())
        st.caption("This page's address holds every setting; copy it to share the experiment. "
                   "Settings that differ from the defaults:")
        # st.text, not st.code: the code block's highlighter is a 1.5 MB download
        st.text("?" + query if query else "(all defaults)")
        st.caption("The same experiment from the command line:")
        options = " ".join(f"--{k.replace('_', '-')} {shlex.quote(v)}" for k, v in params.items())
        st.text(f"python -m playground train {options} --epochs 500".replace("  ", " "))


def show_notes() -> None:
    for text in st.session_state.pop("notes", []):
        st.toast(text)


def main() -> None:
    st.set_page_config(page_title="Neural network playground", layout="wide",
                       initial_sidebar_state="collapsed")
    st.html(COMPACT_CSS)
    if "config" not in st.session_state:
        session.start(st.query_params.to_dict())
    # this run draws the whole page: the top bar need not ask for another one
    st.session_state.pop("rerun_page", None)
    top_bar()
    data_col, live_col = st.columns([1, 5.2], gap="small")
    with data_col:
        data_column()
    with live_col:
        live_column()
    with st.expander("More settings: initialization, schedule, dropout, early stopping, seeds"):
        controls.advanced_settings()
    share_section()
    show_notes()
    _sync_url()


def _sync_url() -> None:
    params = session.config().to_params()
    if params != st.query_params.to_dict():
        st.query_params.from_dict(params)


if __name__ == "__main__":  # streamlit runs this file as its main script
    main()
