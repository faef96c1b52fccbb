"""One browser session's state: its Config, its study, its session, notes for the visitor.

All of it lives in ``st.session_state``; nothing here is a module global, so
sessions never see each other's state.
"""

from __future__ import annotations

import dataclasses

import streamlit as st

from playground.engine.config.config import Config, ConfigError
from playground.engine.config.limits import LIMITS, Limits
from playground.engine.config.text import format_value, shorten
from playground.engine.data.points import link_params
from playground.engine.teaching.lessons import (
    LESSONS,
    Lesson,
    find_lesson,
    lesson_config,
    lesson_params,
    lessons_sentence,
)
from playground.engine.teaching.study import Study, split_params
from playground.server.session import ServerBusy, Session, start_session


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
        st.session_state["lessons_open"] = True  # the page's lessons menu, open below
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
    current: Session | None = st.session_state.get("session")
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
    st.session_state.pop("ended", None)  # something new: a session of its own
    old: Session | None = st.session_state.pop("session", None)
    if old is not None:
        old.close()  # a study has its own session in the pool
    st.session_state["rerun_page"] = True
    return True


def session() -> Session | None:
    """This session's session, started as needed; None while the server is full, or after
    the server ended the session (the page says why and offers to start it again)."""
    current: Session | None = st.session_state.get("session")
    if current is not None and not current.closed:
        return current
    if current is not None:
        _ended(current)
    if "ended" in st.session_state:
        return None
    resume = st.session_state.pop("resume", None)
    try:
        fresh = start_session(config(), limits(), resume, study())
    except ServerBusy as busy:
        st.session_state["busy"] = str(busy)
        if resume is not None:
            st.session_state["resume"] = resume  # "Try again" still goes on from it
        return None
    st.session_state.pop("busy", None)
    st.session_state["session"] = fresh
    return fresh


def live_token() -> str | None:
    """The token of this session's live stream; where there is none, the page says why
    and offers the way back."""
    current = session()
    ended = st.session_state.get("ended")
    if ended is not None:
        st.warning(ended["why"])
        st.button(_start_again_label(ended), key="start_again", on_click=start_again,
                  type="primary")
    elif current is None:
        st.error(st.session_state.get("busy", "The trainer is not available."))
        st.button("Try again", key="retry")
    elif current.error:
        st.error(f"{current.error} Your settings are kept.")
        st.button("Restart the trainer", key="restart_crashed", on_click=restart_crashed)
    return current.token if current is not None and current.alive else None


def forget_session() -> None:
    """The stream says the session is gone (the server ended it): the page says why."""
    current: Session | None = st.session_state.get("session")
    if current is not None:
        _ended(current)


def _ended(old: Session) -> None:
    """Remember why the server ended this session, and its last snapshot."""
    st.session_state.pop("session", None)
    old.close()  # ended already, or a stream the server no longer knows: free it
    st.session_state["ended"] = {"why": old.ended_why(limits()), "state": old.last_state,
                                 "epoch": old.resume_epoch()}


def _fits(state: list | None) -> bool:
    """Whether these snapshots (one per member) belong to the current settings."""
    if not state:
        return False
    current = study()
    try:
        configs = current.configs(config(), limits()) if current else [config()]
    except ValueError:
        return False
    return [s.get("config") for s in state] == [c.to_params() for c in configs]


def _start_again_label(ended: dict) -> str:
    if ended["state"] and ended["epoch"] and _fits(ended["state"]):
        return f"Start again from epoch {ended['epoch']:,}"
    return "Start again"


def start_again() -> None:
    """A new session for an ended one, from its last snapshot where it has one."""
    ended = st.session_state.pop("ended", None)
    if ended and _fits(ended["state"]):
        st.session_state["resume"] = ended["state"]


def restart_crashed() -> None:
    """Replace a failed session with a new one that continues from its last snapshot."""
    old: Session | None = st.session_state.pop("session", None)
    if old is not None:
        old.close()
        if _fits(old.last_state):
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
    current: Session | None = st.session_state.get("session")
    if study() is not None:
        set_study(None)  # a new setting leaves the comparison for one network
    elif current is not None and current.alive:
        current.apply_config(new)
    if old.restarts(new):
        note("New data or a new network: training starts again at epoch 0.")
    # a control in a fragment (the top bar) reruns only its fragment; a change that
    # redraws the network, the data or the notes needs the whole page
    if old.restarts(new) or "display" in effects:
        st.session_state["rerun_page"] = True
