"""Races and sweeps on the page: the panel that starts one, and the view of one running.

A race or a sweep is a variation of the page's current Config; while it runs the
page shows only it (its members' settings are fixed), and clicking a member opens
that configuration on its own.
"""

from __future__ import annotations

import streamlit as st

from playground.engine.config.config import Config
from playground.engine.config.text import format_value
from playground.engine.teaching.study import SWEEP_SIZE, SWEEPS, StudyError, race, sweep
from playground.ui import components, visit
from playground.ui.expanders import expander
from playground.ui.text import plain

# the knobs a race offers, and the values it starts with
RACE_KNOBS: dict[str, str] = {
    "optimizer": "sgd, momentum, rmsprop, adagrad, adam",
    "activation": "sigmoid, tanh, relu, gelu",
    "learning_rate": "0.003, 0.03, 0.3, 3",
    "batch_size": "1, 10, 50",
    "init": "xavier, he, uniform",
    "regularization": "none, l1, l2",
    "hidden": "2; 4,2; 8,8",
    "init_seed": "0, 1, 2, 3",
}
def _race_values(knob: str) -> str:
    choices = Config.__dataclass_fields__[knob].metadata["choices"]
    default = RACE_KNOBS[knob]
    if choices:  # only what this server offers
        return ", ".join(v for v in default.replace(" ", "").split(",") if v in choices)
    return default


def study_builder() -> None:
    """An expander that starts a race or a sweep of the current experiment."""
    with expander("Race or sweep: compare settings side by side, from the same start",
                  "compare_open", keep=("study_kind", "race_", "sweep_")) as open_:
        if not open_:
            return
        kind = st.radio("Compare", ["Race", "Sweep"], horizontal=True, key="study_kind",
                        captions=["2-8 settings of one knob, side by side",
                                  "8-32 values of one knob over a range"])
        if kind == "Race":
            knob = st.selectbox("Knob", list(RACE_KNOBS), key="race_knob")
            values = st.text_input("Values (comma separated; network shapes by ;)",
                                   value=_race_values(knob), key=f"race_values_{knob}")
            if st.button("Start the race", key="start_race"):
                _start(lambda: race(f"{knob}:{values.replace(' ', '')}"))
            return
        knob = st.selectbox("Knob", list(SWEEPS), key="sweep_knob",
                            format_func=lambda k: SWEEPS[k].title)
        lo, hi = SWEEPS[knob].start
        cols = st.columns(4)
        low = cols[0].number_input("From", value=float(lo), key=f"sweep_lo_{knob}",
                                   format="%g")
        high = cols[1].number_input("To", value=float(hi), key=f"sweep_hi_{knob}", format="%g")
        count = cols[2].number_input("Values", SWEEP_SIZE[0], SWEEP_SIZE[1], 16,
                                     key="sweep_n")
        epochs = cols[3].number_input("Epochs each", 10, 5000, 300, step=50,
                                      key="sweep_epochs")
        if st.button("Start the sweep", key="start_sweep"):
            _start(lambda: sweep(f"{knob}:{format_value(low)}..{format_value(high)}",
                                 int(count), int(epochs)))


def _start(make) -> None:
    try:
        study = make()
    except StudyError as error:
        st.error(plain(str(error)))  # it quotes what the visitor typed
        return
    if visit.set_study(study):
        st.rerun()


def _on_open() -> None:
    """A click on a race's card or a sweep's point: that configuration, on its own."""
    index = components.trigger_value("study_view", "open")
    study = visit.study()
    if study is None or not isinstance(index, int) or not 0 <= index < len(study.values):
        return
    member = study.configs(visit.config())[index]
    visit.set_study(None)
    visit.commit(member)
    visit.note(f"Opened {study.labels()[index]} on its own.")


def _leave() -> None:
    visit.set_study(None)


def study_section() -> None:
    """The running race or sweep."""
    study = visit.study()
    config = visit.config()
    head = st.columns([4, 1.6], vertical_alignment="center")
    head[0].markdown(f"**{study.title}** — click a "
                     f"{'card' if study.kind == 'race' else 'point'} to open that configuration. "
                     f"Same data and, where the shapes allow, the same initial weights.")
    head[1].button("Back to one network", key="leave_study", on_click=_leave,
                   use_container_width=True)
    components.study_view(config, study, visit.live_token(), on_open=_on_open,
                          on_expired=visit.forget_session)
