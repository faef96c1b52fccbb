"""Class rooms without a browser: codes, names, limits, the key check, the challenges.

Students' sessions are stand-ins with the Session's public surface (the room only
reads their summaries and pictures and calls play, pause, apply_config, restart)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from playground.engine.config.config import Config
from playground.engine.config.limits import Limits
from playground.server import protocol as p
from playground.server import room_actions, room_stream, rooms
from playground.server.render import grid_picture
from playground.server.rooms import CODE_ALPHABET, RoomError, clean_name


class FakeSession:
    def __init__(self, params: dict | None = None) -> None:
        self.params = params or {}
        self.summary = {"epoch": 0, "playing": False, "generation": 0, "stopped": None,
                        "metric": "accuracy", "config": dict(self.params), "last": None}
        self.picture = {"boundary": grid_picture(np.zeros((4, 4), np.uint8), "diverging")}
        self.closed = False
        self.room_version = 0
        self.calls: list[tuple] = []
        self.notices: list[str] = []

    def snapshot(self) -> dict:
        return {**self.summary, "crashed": None}

    def play(self) -> None:
        self.calls.append(("play",))
        self.summary["playing"] = True

    def pause(self) -> None:
        self.calls.append(("pause",))
        self.summary["playing"] = False

    def restart(self) -> None:
        self.calls.append(("restart",))

    def apply_config(self, config: Config) -> None:
        self.params = config.to_params()
        self.calls.append(("config", self.params))

    def tell(self, text: str) -> None:
        self.notices.append(text)

    def boundary(self) -> str | None:
        return self.picture["boundary"]

    def runs(self):
        return [(_History(), None)]


class _History:
    epoch: list = []
    test_metric: list = []
    test_loss: list = []


@pytest.fixture(autouse=True)
def fresh_registry():
    rooms.close_all_rooms()
    rooms._closed_codes.clear()
    rooms._wrong_codes.clear()
    yield
    rooms.close_all_rooms()


def room_with(n: int, limits: Limits | None = None) -> tuple[rooms.Room, list[FakeSession]]:
    room = rooms.open_room(Config(dataset="xor"), limits or Limits())
    sessions = []
    for k in range(n):
        member = room.join(f"student {k}")
        session = FakeSession(Config(dataset="xor").to_params())
        room.bind(member.seat, session)
        sessions.append(session)
    return room, sessions


def state_of(room: rooms.Room, sessions: list[FakeSession]) -> str:
    """Everything a teacher command could change, as one comparable text."""
    members = sorted((m.name, m.tile, m.answer) for m in room.members.values())
    question = room.question and (room.question.text, room.question.revealed,
                                  dict(room.question.answers))
    return json.dumps([room.closed, room.locked, room.challenge, question, room.params,
                       room.experiment_version, members,
                       [(r.calls, r.notices, r.room_version) for r in sessions]], default=str)


def test_codes_use_no_look_alikes():
    assert not set("0O1Il") & set(CODE_ALPHABET)
    room = rooms.open_room(Config())
    assert 4 <= len(room.code) <= 6 and set(room.code) <= set(CODE_ALPHABET)
    assert room.teacher_key not in room.code and len(room.teacher_key) >= 24


@pytest.mark.parametrize("raw, expected", [
    ("Ada", "Ada"),
    ("<b>Bo</b>", "<b>Bo</b>"),  # kept as text: pages set it as text, never as markup
    ("  Ada \t\n Lovelace ", "Ada Lovelace"),
    ("A\x00d\x1ba\u202e", "A d a"),  # control and bidi-override characters become spaces
    ("x" * 10_000, "x" * rooms.NAME_MAX),
    ("", ""), ("   ", ""), ("\x00\x01", ""), (None, ""),
])
def test_names_are_one_short_plain_line(raw, expected):
    assert clean_name(raw) == expected


def test_a_name_clash_gets_a_suffix_and_an_empty_name_a_sentence():
    room = rooms.open_room(Config())
    names = [room.join(n).name for n in ("Ada", "ada", "Ada", "x" * 30, "x" * 24)]
    assert names == ["Ada", "ada 2", "Ada 3", "x" * 24, "x" * 22 + " 2"]
    with pytest.raises(RoomError, match="at least one letter"):
        room.join("\x00 \n")


def test_a_room_holds_its_limit_and_a_server_its_rooms():
    limits = Limits(room_max_students=2, max_rooms=2)
    room = rooms.open_room(Config(), limits)
    room.join("a"), room.join("b")
    with pytest.raises(RoomError, match="is full"):
        room.join("c")
    rooms.open_room(Config(), limits)
    with pytest.raises(RoomError, match="already holds 2 rooms"):
        rooms.open_room(Config(), limits)


def test_wrong_codes_get_a_sentence_and_are_limited_per_address():
    limits = Limits(room_wrong_codes_per_minute=3)
    room = rooms.open_room(Config(), limits)
    assert rooms.find_room(room.code.lower(), "1.2.3.4", limits) is room  # case is free
    for _ in range(3):
        with pytest.raises(RoomError, match="There is no room ZZZZZ; check the code"):
            rooms.find_room("zzzzz", "1.2.3.4", limits)
    with pytest.raises(RoomError, match="Too many wrong room codes"):
        rooms.find_room(room.code, "1.2.3.4", limits)  # even the right one, for a minute
    assert rooms.find_room(room.code, "5.6.7.8", limits) is room  # another address is fine


def test_a_closed_room_says_so():
    room = rooms.open_room(Config())
    assert room_actions.teacher_command(room.teacher_key, "close", {}) is None
    with pytest.raises(RoomError, match=f"Room {room.code} was closed"):
        rooms.find_room(room.code, "1.2.3.4")
    assert rooms.find_teacher(room.teacher_key) is None


@pytest.mark.parametrize("action", p.ROOM_ACTIONS)
def test_every_teacher_command_without_the_key_is_refused_and_changes_nothing(action):
    room, sessions = room_with(3)
    tile = next(iter(room.members.values())).tile
    fields = {"names": ["learning_rate"], "name": "fastest_90", "text": "Why?",
              "choices": ["a", "b"], "correct": 0, "tile": tile}
    room_actions.teacher_command(room.teacher_key, "question",
                                 {"text": "Before?", "choices": ["x", "y"]})
    before = state_of(room, sessions)
    seat = next(iter(room.members))
    near_miss = room.teacher_key[:-1] + ("y" if room.teacher_key.endswith("x") else "x")
    for key in ("", room.code, seat, tile, near_miss, None, 7):
        assert room_actions.teacher_command(key, action, dict(fields)) == \
            "Only the room's teacher can do that."
        # the same command as a student's stream sends it
        text = json.dumps({"cmd": p.ROOM_COMMAND, "action": action, "key": key, **fields})
        parsed = p.parse_room_command(text)
        if parsed is not None:
            room_actions.teacher_command(*parsed)
    assert state_of(room, sessions) == before
    # ... and with the key it does something (the test above can fail)
    assert room_actions.teacher_command(room.teacher_key, action, dict(fields)) is None
    assert state_of(room, sessions) != before


def test_pause_play_and_push_reach_every_student_with_a_notice():
    room, sessions = room_with(3)
    room_actions.teacher_command(room.teacher_key, "play_all", {})
    assert all(r.summary["playing"] for r in sessions)
    room_actions.teacher_command(room.teacher_key, "pause_all", {})
    assert all(r.calls[-1] == ("pause",) and "paused everyone" in r.notices[-1]
               for r in sessions)
    mine = FakeSession(Config(dataset="spiral", hidden=(4, 4)).to_params())
    room.teacher_session = mine
    room_actions.teacher_command(room.teacher_key, "push", {})
    for session in sessions:
        assert session.params == mine.params and ("restart",) in session.calls
        assert "new experiment" in session.notices[-1] and session.room_version >= 3
    assert room.params["dataset"] == "spiral"


def test_lock_hides_the_chosen_controls_and_keeps_unknown_names_out():
    room, sessions = room_with(1)
    room_actions.teacher_command(room.teacher_key, "lock", {"names": ["learning_rate", "bogus"]})
    assert room.locked == ("learning_rate",)
    assert sessions[0].params["hide"] == "learning_rate"
    seat = next(iter(room.members))
    assert room.student_view(seat)["experiment"]["hide"] == "learning_rate"
    assert room_actions.teacher_command(room.teacher_key, "lock", {"names": "x"}) is not None


def test_a_question_tallies_answers_and_refuses_bad_ones():
    room, _ = room_with(3)
    key = room.teacher_key
    assert "2 to 4 choices" in room_actions.teacher_command(key, "question",
                                                     {"text": "?", "choices": ["one"]})
    room_actions.teacher_command(key, "question", {"text": "Which?", "choices": ["a", "b", "c"],
                                            "correct": 2})
    seats = list(room.members)
    room.answer(seats[0], 2), room.answer(seats[1], 0), room.answer(seats[2], 9)
    room.answer("not a seat", 1)
    assert room.teacher_state()["question"]["tally"] == [1, 0, 1]
    assert room.student_view(seats[0])["question"]["correct"] is None  # not yet revealed
    room_actions.teacher_command(key, "reveal", {})
    assert room.student_view(seats[0])["question"]["correct"] == 2
    room.answer(seats[2], 1)  # too late
    assert room.teacher_state()["question"]["tally"] == [1, 0, 1]


def test_the_leaderboard_ranks_real_runs_and_each_student_sees_their_rank():
    room, sessions = room_with(3)
    room_actions.teacher_command(room.teacher_key, "challenge", {"name": "lowest_loss_300"})
    sessions[0].summary["metric"] = "r2"  # the loss goal holds for regressions too
    for session, loss in zip(sessions, (0.3, 0.1, None)):
        session.summary.update(epoch=320 if loss else 100, playing=True,
                              last={"epoch": 320, "test_loss": loss, "test_metric": 0.9})
    room.observe()
    board = room.leaderboard()
    assert [row["name"] for row in board] == ["student 1", "student 0"]
    seats = list(room.members)
    assert room.student_view(seats[1])["rank"].startswith("You are 1st of 2")
    assert room.student_view(seats[2])["rank"].startswith("Not in the ranking yet")
    # the ranked students were told at once (their pages rerun to show it), once
    assert sessions[1].notices[-1] == "You are 1st of 2 in the challenge."
    told = len(sessions[1].notices)
    room.observe()
    assert len(sessions[1].notices) == told and sessions[2].notices[-1].startswith("Challenge")


def test_a_student_who_leaves_frees_their_tile_after_the_grace_and_a_reload_keeps_it():
    room, sessions = room_with(2, Limits(room_leave_grace_s=5))
    seats = list(room.members)
    sessions[0].closed = True  # the tab closed
    room.sweep(now=rooms.time.monotonic() + 1)
    room.bind(seats[0], FakeSession())  # ... and came back (a reload): same seat
    sessions[1].closed = True
    room.sweep(now=rooms.time.monotonic() + 1)
    room.sweep(now=rooms.time.monotonic() + 10)
    assert list(room.members) == [seats[0]]


def test_the_teacher_stream_sends_only_changed_tiles_and_new_pictures():
    room, sessions = room_with(2)
    sent = room_stream.TeacherSent()
    first = room_stream.teacher_message(room, sent)
    assert len(first["tiles"]) == 2 and all("picture" in t for t in first["tiles"])
    assert room_stream.teacher_message(room, sent) is None  # nothing new
    sessions[0].summary["epoch"] = 5
    second = room_stream.teacher_message(room, sent)
    assert [("picture" in t) for t in second["tiles"]] == [False]  # same picture object
    sessions[0].picture = {"boundary": grid_picture(np.ones((4, 4), np.uint8), "diverging")}
    sent_picture = room_stream.teacher_message(room, sent)["tiles"][0]["picture"]
    assert (sent_picture["w"], sent_picture["h"]) == (2, 2)  # a tile is a thumbnail
    # the seats (a student's secret) never reach the teacher view
    sent_text = p.stream_json(p.encode_stream(first)).decode()  # the pictures' bytes aside
    assert not any(seat in sent_text for seat in room.members)


def test_a_room_opens_under_the_code_its_page_picked_and_only_a_free_one():
    """?room=new picks a code and reloads on it (the balancer routes by the code): the
    replica it reaches opens the room under exactly that code, if it is free there."""
    code = rooms.fresh_code()
    assert rooms.is_room_code(code)
    room = rooms.open_room(Config(), Limits(), code)
    assert room.code == code and rooms.find_room(code, "t") is room
    with pytest.raises(rooms.CodeTaken):
        rooms.open_room(Config(), Limits(), code)  # an old opening link: not the room's key
    for wrong in ("abcde", "ABC0E", "AB;CD", "ABCDEF"):
        with pytest.raises(rooms.CodeTaken):
            rooms.open_room(Config(), Limits(), wrong)
    room_actions.teacher_command(room.teacher_key, "close", {})
    with pytest.raises(rooms.CodeTaken):
        rooms.open_room(Config(), Limits(), code)  # a closed room's code stays closed


def test_lesson_questions_offer_steps_with_a_question_and_choices_read_defensively():
    from types import SimpleNamespace as Step

    lesson = Step(title="Nonlinear", steps=(
        Step(text="no question here"),
        Step(question="One line?", choices=["50 %", "100 %", "75 %"], answer=2),
        Step(question="Which is right?", choices=["a", "b"], answer="b"),
        Step(question="Index from 0?", choices=["a", "b"], answer=0),
        Step(question="No answer named", choices=["a", "b", "c", "d"]),
        Step(question="Five choices", choices=list("abcde"), answer=1),  # a room asks 2-4
        Step(question="One choice", choices=["a"], answer=1),
        Step(question="Choices as text", choices="a,b", answer=1),
        Step(question="An empty choice", choices=["a", " "], answer=1),
        Step(question="Out of range", choices=["a", "b"], answer=7),
        Step(question="", choices=["a", "b"], answer=1),
    ))
    asked = room_actions.lesson_questions({"nonlinear": lesson, "broken": Step(title="No steps")})
    assert [(q.text, q.choices, q.correct) for q in asked] == [
        ("One line?", ("50 %", "100 %", "75 %"), 1),
        ("Which is right?", ("a", "b"), 1),
        ("Index from 0?", ("a", "b"), 0),
        ("No answer named", ("a", "b", "c", "d"), None),
        ("Out of range", ("a", "b"), None),
    ]
    assert asked[0].label == "Nonlinear: One line?"
    # the lessons as shipped read without error, and each offered one fits a room's form
    for question in room_actions.lesson_questions():
        assert 2 <= len(question.choices) <= 4 and question.text

