"""One browser session's state: its Config, its runner, and notes for the visitor.

All of it lives in ``st.session_state``; nothing here is a module global, so
sessions never see each other's state.
"""

from __future__ import annotations

import streamlit as st

from playground.engine.config import Config, ConfigError
from playground.engine.limits import LIMITS, Limits
from playground.server.runner import Runner, ServerBusy, start_runner


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
    for warning in warnings:
        note(warning)


def runner() -> Runner | None:
    """This session's runner, started (or restarted after an idle timeout) as needed."""
    current: Runner | None = st.session_state.get("runner")
    if current is not None and not current.closed:
        return current
    try:
        fresh = start_runner(config(), limits=limits(), resume=st.session_state.pop("resume", None))
    except ServerBusy as busy:
        st.session_state["busy"] = str(busy)
        return None
    st.session_state.pop("busy", None)
    if current is not None:
        note("Training was paused after a long idle time; press play to go on.")
    st.session_state["runner"] = fresh
    return fresh


def restart_crashed() -> None:
    """Replace a failed session with a new one that continues from its last snapshot."""
    old: Runner | None = st.session_state.pop("runner", None)
    if old is not None:
        old.close()
        if old.last_state and old.last_state.get("config") == config().to_params():
            st.session_state["resume"] = old.last_state


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
    effects = old.effects(new)
    current: Runner | None = st.session_state.get("runner")
    if current is not None and current.alive:
        current.apply_config(new)
    if "restart" in effects:
        note("New data or a new network: training starts again at epoch 0.")
    # a control in a fragment (the top bar) reruns only its fragment; a change that
    # redraws the network, the data or the notes needs the whole page
    if "restart" in effects or "display" in effects:
        st.session_state["rerun_page"] = True
