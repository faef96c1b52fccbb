"""A class room on the page: opening one, joining it, the teacher's view, the student's.

The address says who the page is for: ``?room=new`` opens a room (any experiment params
may follow); ``?room=CODE`` is the join link (``&name=Ada`` optional); after joining a
student's address holds their seat (``&seat=...``, so a reload keeps their place) and a
teacher's holds the teacher key (``&teacher=...``), which the page never shows as the
join link. Everything the room does goes through ``server/rooms.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

import segno
import streamlit as st

from playground.engine.config.config import HIDEABLE, Config
from playground.server import room_actions, rooms
from playground.server.challenges import CHALLENGES
from playground.server.room_actions import CHOICES
from playground.server.rooms import Room, RoomError
from playground.ui import components, visit
from playground.ui.text import plain

ROOM_PARAMS = ("room", "teacher", "seat", "name", "open")
HERE = components.HERE
# a new page load at data.url (replace: the way back skips the page that only passed on)
_room_go = st.components.v2.component(
    "playground_room_go", js="export default function (component) {\n"
    "  window.location.replace(component.data.url);\n}\n", isolate_styles=False)
_room_view = st.components.v2.component(
    "playground_room_view", js=components.ENTRY_JS,
    css=components.LIVE_VIEW_CSS + (HERE / "room_view.css").read_text(), isolate_styles=False)


def requested() -> bool:
    """Whether this page belongs to a room (or asks to open or join one)."""
    return "room_role" in st.session_state or "room" in st.query_params


def _first(value: object) -> str:
    return str(value[-1] if isinstance(value, list) and value else value or "")


def _address() -> str:
    return st.context.ip_address or "local"


def main(experiment: Callable[[Config], None]) -> None:
    """The room's page: resolve who this is on the first run, then draw their view."""
    if "room_role" not in st.session_state and "room_go" not in st.session_state:
        _resolve(st.query_params.to_dict())
    if "room_go" in st.session_state:
        st.text("Opening the room…")
        _room_go(key="room_go", data={"url": st.session_state["room_go"]})
        return
    role = st.session_state.get("room_role")
    if role == "teacher":
        teacher_view(experiment)
    elif role == "student":
        student_view(experiment)
    elif role == "alone":  # the room is gone: the page is the student's own again
        experiment(visit.config())
    else:
        join_form()


def _resolve(params: dict) -> None:
    raw = _first(params.get("room", ""))
    if raw.lower() == "new":
        # The room opens where the load balancer sends its code, not here: this page picks
        # the code and reloads on it (one replica: the same server, one cheap reload).
        _go({**params, "room": rooms.fresh_code(), "open": "1"})
        return
    code = rooms.normal_code(raw)
    if code != raw and rooms.is_room_code(code):
        _go({**params, "room": code})  # the balancer routes by the code as it is spelt
        return
    params.pop("room", None)
    key, seat = _first(params.pop("teacher", "")), _first(params.pop("seat", ""))
    name = params.pop("name", None)
    if params.pop("open", None) is not None:
        _open(code, params)
        return
    if key:
        room = rooms.find_teacher(key)
        if room is None or room.code != code:
            _leave_room("This teacher link's room is closed; open a new room to go on.")
            return
        visit.start(room.params)
        _become_teacher(room)
        return
    try:
        room = _find(code)
    except RoomError as error:
        st.session_state["room_problem"] = str(error)
        st.session_state["room_code"] = code
        return
    member = room.member(seat) if seat else None
    if member is None and name is not None:
        try:
            member = room.join(_first(name))
        except RoomError as error:
            st.session_state["room_problem"] = str(error)
            st.session_state["room_code"] = room.code
            return
    if member is None:
        st.session_state["room_code"] = room.code
        return
    _become_student(room, member.seat)


def _open(code: str, params: dict) -> None:
    """Open the room under the code this page came with (see ?room=new)."""
    visit.start(params)
    try:
        room = rooms.open_room(visit.config(), visit.limits(), code)
    except rooms.CodeTaken:  # an old opening link, or a very unlikely draw: a fresh code
        _go({**params, "room": rooms.fresh_code(), "open": "1"})
        return
    except RoomError as error:
        _leave_room(str(error))
        return
    _become_teacher(room)


def _go(params: dict) -> None:
    """Load the page again at ?params: a new request, which the load balancer routes by its
    room code (a rerun would stay on this replica's WebSocket)."""
    st.session_state["room_go"] = "?" + urlencode(
        {k: _first(v) for k, v in params.items()})


def _find(code: str) -> Room:
    try:
        return rooms.find_room(code, _address(), visit.limits())
    except RoomError:
        time.sleep(rooms.WRONG_CODE_PAUSE_S)  # a wrong guess costs its guesser time
        raise


def _become_teacher(room: Room) -> None:
    st.session_state.update(room_role="teacher", room_code=room.code,
                            room_key=room.teacher_key,
                            room_url={"room": room.code, "teacher": room.teacher_key})


def _become_student(room: Room, seat: str) -> None:
    view = room.student_view(seat)
    member = room.member(seat)
    if "config" not in st.session_state:
        visit.start(view["experiment"])
    # a reload keeps the seat and, where it trained the same experiment, the run
    old = member.session
    if old is not None and old.last_state and old.params == visit.config().to_params():
        st.session_state["resume"] = old.last_state
    st.session_state.update(room_role="student", room_code=room.code, room_seat=seat,
                            room_name=view["name"],
                            room_seen=view["experiment_version"],
                            room_url={"room": room.code, "seat": seat})


def _leave_room(sentence: str) -> None:
    """Back to a page of one's own: the room is gone (closed, removed, full)."""
    for key in ("room_role", "room_key", "room_seat", "room_seen", "room_problem"):
        st.session_state.pop(key, None)
    st.session_state["room_role"] = "alone"
    if "config" not in st.session_state:
        visit.start({})
    st.session_state["room_url"] = None  # the page's own address again
    visit.note(sentence)


# -- joining -----------------------------------------------------------------------------
def join_form() -> None:
    """A name for the room (or another code), with what went wrong last time."""
    st.markdown("### Join a class room")
    problem = st.session_state.get("room_problem")
    if problem:
        st.error(plain(problem))
    with st.form("join_room"):
        code = st.text_input("Room code", value=st.session_state.get("room_code", ""),
                             max_chars=12, key="join_code")
        name = st.text_input("Your name (the class sees it)", max_chars=rooms.NAME_MAX,
                             key="join_name")
        if st.form_submit_button("Join", type="primary"):
            _join(code, name)
            st.rerun()


def _join(code: str, name: str) -> None:
    """Join on a new page load at the room's own link: the room may live on another
    replica than this form's page (the balancer routes by the code in the address)."""
    st.session_state.pop("room_problem", None)
    _go({"room": rooms.normal_code(code)[:12], "name": name})


# -- the student's view ------------------------------------------------------------------
def _room_of_student() -> tuple[Room | None, dict | None]:
    try:
        room = rooms.find_room(st.session_state["room_code"], _address(), visit.limits())
    except RoomError:
        return None, None
    return room, room.student_view(st.session_state["room_seat"])


def sync_student() -> None:
    """Take over the room's news (called on every run and when the stream says the room
    changed): its experiment and locked controls, or that the student left it."""
    room, view = _room_of_student()
    seat = st.session_state.get("room_seat")
    if view is None and room is not None and seat not in room.removed:
        # the page stayed but its seat was freed (its session was gone a while): the
        # student sits down again under their name
        try:
            member = room.join(st.session_state.get("room_name", "student"))
        except RoomError:
            member = None
        if member is not None:
            st.session_state.update(room_seat=member.seat,
                                    room_url={"room": room.code, "seat": member.seat})
            view = room.student_view(member.seat)
    if view is None:
        closed = room is None
        code = st.session_state.get("room_code", "")
        _leave_room(f"Room {code} was closed by the teacher; your experiment stays yours."
                    if closed else f"You were removed from room {code}; your experiment "
                    "stays yours.")
        return
    if view["experiment_version"] != st.session_state.get("room_seen"):
        st.session_state["room_seen"] = view["experiment_version"]
        config, _ = Config.from_params(view["experiment"], visit.limits())
        st.session_state["config"] = config
        session = st.session_state.get("session")
        if session is not None and session.params != config.to_params():
            session.apply_config(config)  # the room reached it already, unless it reloaded
        st.session_state["rerun_page"] = True


def student_view(experiment: Callable[[Config], None]) -> None:
    sync_student()
    if st.session_state.get("room_role") != "student":
        experiment(visit.config())
        return
    room, view = _room_of_student()
    room.bind(st.session_state["room_seat"], visit.session())  # the tile is theirs now
    with st.container(key="room_banner"):
        cols = st.columns([2.2, 3.5], vertical_alignment="center")
        # plain text: a name is never markup
        cols[0].text(f"Room {view['code']} · you are {view['name']}")
        if view["challenge"]:
            cols[1].text(f"Challenge: {view['challenge']}")
            cols[1].text(view["rank"])
        question = view["question"]
        if question is not None:
            _question_for_student(room, question)
    experiment(visit.config())


def _question_for_student(room: Room, question: dict) -> None:
    with st.container(key="room_question"):
        st.text(f"Question: {question['text']}")
        cols = st.columns(len(question["choices"]))
        for index, (col, choice) in enumerate(zip(cols, question["choices"])):
            mark = ""
            if question["revealed"] and question["correct"] == index:
                mark = "✓ "
            elif question["mine"] == index:
                mark = "● "
            col.button(mark + choice, key=f"room_answer_{index}", use_container_width=True,
                       disabled=question["revealed"], on_click=room.answer,
                       args=(st.session_state["room_seat"], index))


# -- the teacher's view ------------------------------------------------------------------
def join_link(code: str) -> str:
    url = urlsplit(st.context.url or "http://localhost:8501/")
    return f"{url.scheme}://{url.netloc}{url.path}?room={code}"


def qr_svg(link: str) -> str:
    return segno.make(link, error="m").svg_inline(scale=5, border=2)


def _teacher_room() -> Room | None:
    room = rooms.find_teacher(st.session_state.get("room_key"))
    if room is None:
        _leave_room(f"Room {st.session_state.get('room_code', '')} is closed.")
    return room


def _act(action: str, **fields) -> None:
    why = room_actions.teacher_command(st.session_state.get("room_key"), action, fields)
    if why:
        visit.note(why)


def _on_open_tile() -> None:
    """A click on "open as mine" in the big tile: that student's experiment, as the
    teacher's own (to discuss it)."""
    tile = components.trigger_value("room_view", "open")
    room = rooms.find_teacher(st.session_state.get("room_key"))
    member = next((m for m in (room.members.values() if room else ()) if m.tile == tile), None)
    if member is None or member.session is None:
        visit.note("That student has left.")
        return
    config, _ = Config.from_params(member.session.params, visit.limits())
    visit.commit(config.replace(hide=()))
    visit.note(f"Opened {member.name}'s experiment as yours.")


def teacher_view(experiment: Callable[[Config], None]) -> None:
    room = _teacher_room()
    if room is None:
        experiment(visit.config())
        return
    link = join_link(room.code)
    head = st.columns([1.6, 3.2, 1], vertical_alignment="center")
    with head[0], st.container(key="room_code_box"):
        st.html(f'<div class="room-code-label">Room code</div>'
                f'<div class="room-code" data-testid="room-code">{room.code}</div>')
    with head[1]:
        st.caption("Students open this link (or scan the code):")
        st.text(link)
        _teacher_controls(room)
    with head[2], st.container(key="room_qr"):
        st.image(qr_svg(link), width=150)
    data = {**components._stream_data(room.teacher_key), "key": room.teacher_key,
            "code": room.code, "presenter": True, "js_path": components._js_path("room_view.js")}
    _room_view(key="room_view", data=data, on_open_change=_on_open_tile)
    # below the grid, which fills the first screen (a projector shows the class first)
    with st.container(key="room_mine"):
        st.markdown("#### Your experiment — change it here, then *Send my experiment* "
                    "in the room")
        experiment(visit.config())
    room.teacher_session = visit.session()


def _teacher_controls(room: Room) -> None:
    cols = st.columns(3)
    with cols[0].popover("Lock controls", use_container_width=True):
        st.multiselect("Hide on the students' pages", list(HIDEABLE),
                       default=list(room.locked), key="room_lock",
                       format_func=lambda n: n.replace("_", " "),
                       on_change=lambda: _act("lock", names=st.session_state["room_lock"]))
    with cols[1].popover("Challenge", use_container_width=True):
        names = [None, *CHALLENGES]
        st.selectbox("Goal", names, key="room_challenge",
                     index=names.index(room.challenge),
                     format_func=lambda n: "No challenge" if n is None else CHALLENGES[n].title,
                     on_change=lambda: _act("challenge", name=st.session_state["room_challenge"]))
    with cols[2].popover("Ask a question", use_container_width=True):
        _lesson_question_picker()
        _question_form()


def _lesson_question_picker() -> None:
    """One of the lessons' questions fills the form below (the teacher may edit it)."""
    asked = room_actions.lesson_questions()
    if not asked:
        st.caption("No lesson has a question with choices yet: type one below.")
        return
    st.selectbox("From a lesson", [None, *range(len(asked))], key="room_q_lesson",
                 format_func=lambda i: "Type my own question" if i is None else asked[i].label,
                 on_change=_fill_question, args=(asked,))


def _fill_question(asked: list) -> None:
    index = st.session_state.get("room_q_lesson")
    question = asked[index] if index is not None else None
    st.session_state["room_q_text"] = question.text if question else ""
    for k in range(CHOICES[1]):
        choices = question.choices if question else ()
        st.session_state[f"room_q_choice_{k}"] = choices[k] if k < len(choices) else ""
    correct = question.correct if question else None
    st.session_state["room_q_correct"] = None if correct is None else correct + 1


def _question_form() -> None:
    with st.form("room_question_form", clear_on_submit=False):
        text = st.text_input("Question", max_chars=room_actions.QUESTION_MAX, key="room_q_text")
        choices = [st.text_input(f"Choice {k + 1}", max_chars=room_actions.CHOICE_MAX,
                                 key=f"room_q_choice_{k}") for k in range(CHOICES[1])]
        correct = st.selectbox("Right answer", [None, 1, 2, 3, 4], key="room_q_correct",
                               format_func=lambda n: "none (a poll)" if n is None
                               else f"choice {n}")
        if st.form_submit_button("Ask the class"):
            given = [c for c in choices if c.strip()]
            _act("question", text=text, choices=given,
                 correct=None if correct is None else correct - 1)
