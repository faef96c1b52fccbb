"""One browser session's state: its Config, its study, its runner, notes for the visitor.

All of it lives in ``st.session_state``; nothing here is a module global, so
sessions never see each other's state.
"""

from __future__ import annotations

import dataclasses

import streamlit as st

from playground.engine.config import Config, ConfigError
from playground.engine.config_text import format_value, shorten
from playground.engine.lessons import (
    LESSONS,
    Lesson,
    find_lesson,
    lesson_config,
    lesson_params,
    lessons_sentence,
)
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
    found = find_lesson(lesson_id)  # its id or its file's name (01-neuron)
    if found is not None:
        st.session_state["lesson"] = found.id
        params = {**_lesson_start(found), **params}
    elif lesson_id:
        st.session_state["unknown_lesson"] = (f"There is no lesson called "
                                              f"“{shorten(lesson_id)}”. {lessons_sentence()}")
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
    """Start a lesson from its own settings (None: leave the lesson, keep the settings
    but show every part of the page again)."""
    st.session_state["lesson"] = lesson_id
    st.session_state.pop("unknown_lesson", None)
    presenter = config().presenter  # a projector stays a projector
    if lesson_id not in LESSONS:
        st.session_state["config"] = config().replace(hide=())
        st.session_state["rerun_page"] = True
        return
    config_params, study_params = split_params(_lesson_start(LESSONS[lesson_id]))
    start_config = Config.from_params(config_params, limits())[0].replace(presenter=presenter)
    set_study(Study.from_params(study_params)[0], base=start_config)


def apply_changes(changes: dict[str, str]) -> None:
    """A lesson step's settings on top of the current ones; a race runs on with them."""
    new, warnings = Config.from_params({**config().to_params(), **changes}, limits())
    for warning in warnings:
        note(warning)
    current = study()
    if current is None:
        commit(new)
    elif new != config():
        set_study(current, base=new)  # the same race from the new settings


def runs() -> list:
    """The live runs a lesson checks: one, or one per race member (none while the
    session has no trainer: checking must not start one)."""
    current: Runner | None = st.session_state.get("runner")
    return current.runs() if current is not None and not current.closed else []


def url_params() -> dict[str, str]:
    """What the page's address holds: the Config's params, the study's, the lesson. In
    a lesson the link is read over the lesson's own start, so it also names every
    setting put back from the lesson's value to the default, and a race that was left."""
    current, lesson_ = study(), lesson()
    params = link_params(config())
    if lesson_ is not None:
        start = lesson_config(lesson_)
        for f in dataclasses.fields(Config):
            value = getattr(config(), f.name)
            if f.name not in params and f.name != "data" and value != getattr(start, f.name):
                params[f.name] = format_value(value)
        params = {"lesson": lesson_.id, **params}
        if lesson_.race and current is None:
            params["race"] = ""
    return {**params, **(current.to_params() if current else {})}


def set_study(new: Study | None, base: Config | None = None) -> bool:
    """Show a race or a sweep of ``base`` (the current Config unless given; None: back
    to one network); its members must be valid here, or nothing changes and the
    visitor is told why."""
    base = base or config()
    if new is not None:
        try:
            new.configs(base, limits())
        except ValueError as error:
            note(str(error))
            return False
    st.session_state["config"] = base
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


def live_token() -> str | None:
    """The token of this session's live stream; where there is none, the page says why
    and offers the way back."""
    current = runner()
    if current is None:
        st.error(st.session_state.get("busy", "The trainer is not available."))
        st.button("Try again", key="retry")
    elif current.error:
        st.error(f"{current.error} Your settings are kept.")
        st.button("Restart the trainer", key="restart_crashed", on_click=restart_crashed)
    return current.token if current is not None and current.alive else None


def forget_runner() -> None:
    """The stream says the session is gone: the next run starts a fresh one."""
    st.session_state.pop("runner", None)


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
