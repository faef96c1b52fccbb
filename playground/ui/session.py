"""One browser session's state: its Config, its study, its runner, notes for the visitor.

All of it lives in ``st.session_state``; nothing here is a module global, so
sessions never see each other's state.
"""

from __future__ import annotations

import streamlit as st

from playground.engine.config import Config, ConfigError
from playground.engine.config_text import shorten
from playground.engine.lessons import LESSONS, Lesson, lesson_params
from playground.engine.limits import LIMITS, Limits
from playground.engine.own_data import link_params
from playground.engine.study import Study, split_params
from playground.server.runner import Runner, ServerBusy, start_runner
from playground.server.study_runner import start_study


def limits() -> Limits:
    return LIMITS


def config() -> Config:
    return st.session_state["config"]


def note(text: str) -> None:
    """A one-sentence message shown once at the top of the next run."""
    st.session_state.setdefault("notes", []).append(text)


def study() -> Study | None:
    """The race or sweep this page shows, or None: one network."""
    return st.session_state.get("study")


def lesson() -> Lesson | None:
    """The guided lesson this page follows, or None."""
    return LESSONS.get(st.session_state.get("lesson", ""))


def start(params: dict[str, str | list[str]]) -> None:
    """First run of a session: the Config (and any race or sweep) from the URL; a
    lesson's own settings come first, and the URL's (e.g. ``presenter=1``) on top."""
    params = dict(params)
    lesson_id = params.pop("lesson", None)
    lesson_id = lesson_id[-1] if isinstance(lesson_id, list) else lesson_id
    if lesson_id in LESSONS:
        st.session_state["lesson"] = lesson_id
        params = {**_lesson_start(LESSONS[lesson_id]), **params}
    elif lesson_id:
        note(f"Ignored lesson={shorten(lesson_id)}: there is no such lesson.")
    config_params, study_params = split_params(params)
    config_, warnings = Config.from_params(config_params, limits())
    st.session_state["config"] = config_
    for warning in warnings:
        note(warning)
    study_, why = Study.from_params(study_params)
    if why:
        note(why)
    if study_ is not None:
        set_study(study_)


def _lesson_start(lesson_: Lesson) -> dict[str, str]:
    return {**lesson_params(lesson_), **({"race": lesson_.race} if lesson_.race else {})}


def open_lesson(lesson_id: str | None) -> None:
    """Start a lesson from its own settings (None: leave the lesson, keep the settings)."""
    st.session_state["lesson"] = lesson_id
    if lesson_id in LESSONS:
        config_params, study_params = split_params(_lesson_start(LESSONS[lesson_id]))
        presenter = config().presenter  # a projector stays a projector
        st.session_state["config"] = Config.from_params(config_params, limits())[0].replace(
            presenter=presenter)
        set_study(Study.from_params(study_params)[0])


def apply_changes(changes: dict[str, str]) -> None:
    """A lesson step's settings on top of the current ones; a race runs on with them."""
    new, warnings = Config.from_params({**config().to_params(), **changes}, limits())
    for warning in warnings:
        note(warning)
    current = study()
    if current is None:
        commit(new)
    elif new != config():
        st.session_state["config"] = new
        set_study(current)  # the same race from the new settings


def runs() -> list:
    """The live runs a lesson checks: one, or one per race member."""
    current = runner()
    return current.runs() if current is not None else []


def url_params() -> dict[str, str]:
    """What the page's address holds: the Config's params, the study's, the lesson."""
    current = study()
    lesson_ = st.session_state.get("lesson")
    return {**({"lesson": lesson_} if lesson_ in LESSONS else {}), **link_params(config()),
            **(current.to_params() if current else {})}


def set_study(new: Study | None) -> bool:
    """Show a race or a sweep of the current Config (None: back to one network); its
    members must be valid here, or nothing changes and the visitor is told why."""
    if new is not None:
        try:
            new.configs(config(), limits())
        except ValueError as error:
            note(str(error))
            return False
    st.session_state["study"] = new
    old: Runner | None = st.session_state.pop("runner", None)
    if old is not None:
        old.close()  # a study has its own session in the pool
    st.session_state["rerun_page"] = True
    return True


def runner() -> Runner | None:
    """This session's runner, started (or restarted after an idle timeout) as needed."""
    current: Runner | None = st.session_state.get("runner")
    if current is not None and not current.closed:
        return current
    resume = st.session_state.pop("resume", None)
    try:
        current_study = study()
        if current_study is None:
            fresh = start_runner(config(), limits=limits(), resume=resume)
        else:
            fresh = start_study(config(), current_study, limits(), resume)
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
        state = old.last_state
        # a study's members each check their own snapshot when they resume
        if isinstance(state, list) or (state and state.get("config") == config().to_params()):
            st.session_state["resume"] = state


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
    if study() is not None:
        set_study(None)  # a new setting leaves the comparison for one network
    elif current is not None and current.alive:
        current.apply_config(new)
    if "restart" in effects:
        note("New data or a new network: training starts again at epoch 0.")
    # a control in a fragment (the top bar) reruns only its fragment; a change that
    # redraws the network, the data or the notes needs the whole page
    if "restart" in effects or "display" in effects:
        st.session_state["rerun_page"] = True
