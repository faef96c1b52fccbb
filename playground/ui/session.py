"""One browser session's state: its Config, its runner, and notes for the visitor.

All of it lives in ``st.session_state``; nothing here is a module global, so
sessions never see each other's state.
"""

from __future__ import annotations

import os

import streamlit as st

from playground.config import Config, ConfigError
from playground.limits import LIMITS, Limits
from playground.runner import Runner, ServerBusy, start_runner

# Tests run the trainer in a thread of the page's process; the server uses processes.
USE_PROCESS = os.environ.get("PLAYGROUND_RUNNER", "process") != "thread"
# the speed menu: epochs per second (0: as fast as the trainer goes)
SPEEDS = {"1 epoch/s": 1.0, "10/s": 10.0, "100/s": 100.0, "max": 0.0}


def limits() -> Limits:
    return LIMITS


def config() -> Config:
    return st.session_state["config"]


def note(text: str) -> None:
    """A one-sentence message shown once at the top of the next run."""
    st.session_state.setdefault("notes", []).append(text)


def start(params: dict[str, str | list[str]]) -> None:
    """First run of a session: the Config from the URL, and no runner yet."""
    config_, warnings = Config.from_params(params, limits())
    st.session_state["config"] = config_
    st.session_state["playing"] = False
    st.session_state["speed"] = "max"
    for warning in warnings:
        note(warning)


def runner() -> Runner | None:
    """This session's runner, started (or restarted after an idle timeout) as needed."""
    current: Runner | None = st.session_state.get("runner")
    if current is not None and (current.alive or current.crashed):
        return current
    try:
        fresh = start_runner(config(), use_process=USE_PROCESS, limits=limits(),
                             resume=st.session_state.pop("resume", None))
    except ServerBusy as busy:
        st.session_state["busy"] = str(busy)
        return None
    st.session_state.pop("busy", None)
    if current is not None:
        note("Training was paused after a long idle time; press play to go on.")
    st.session_state["runner"] = fresh
    st.session_state["playing"] = False
    fresh.set_speed(_speed())
    return fresh


def restart_crashed() -> None:
    """Replace a crashed trainer with a new one that continues from its last snapshot."""
    old: Runner | None = st.session_state.pop("runner", None)
    if old is not None:
        old.close()
        if old.last_state and old.last_state.get("config") == config().to_params():
            st.session_state["resume"] = old.last_state
    st.session_state["playing"] = False


def _speed() -> float:
    return SPEEDS[st.session_state.get("speed", "max")]


def commit(new: Config) -> None:
    """Make ``new`` the session's Config and hand it to the trainer."""
    old = config()
    if new == old:
        return
    try:
        new.validate(limits())
    except ConfigError as error:
        note(f"Not applied: {error}.")
        return
    st.session_state["config"] = new
    effects = {Config.__dataclass_fields__[name].metadata["effect"]
               for name in old.changed_fields(new)}
    current: Runner | None = st.session_state.get("runner")
    if current is not None and current.alive:
        current.apply_config(new)
    if "restart" in effects:
        note("New data or a new network: training starts again at epoch 0.")
    # a control in a fragment (the top bar) reruns only its fragment; a change that
    # redraws the network, the data or the notes needs the whole page
    if "restart" in effects or "display" in effects:
        st.session_state["rerun_page"] = True
