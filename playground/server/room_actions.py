"""The teacher's commands in a class room: push, pause and play everyone, lock
controls, a challenge, a question and its reveal, remove a student, close the room.

Every teacher command goes through ``teacher_command(key, action, fields)``, which
finds the room by its key: a command from anywhere else (a student's stream, a forged
message) names no room and changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from playground.engine.config.config import HIDEABLE, Config
from playground.server.challenges import CHALLENGES, Progress
from playground.server.rooms import (
    Question,
    Room,
    clean_text,
    close_room,
    find_teacher,
    room_params,
)
from playground.server.session import Session

QUESTION_MAX = 200  # characters of a question, and of each choice (a tenth of that)
CHOICE_MAX = 60
CHOICES = (2, 4)  # a question has this many choices, at least and at most


def teacher_command(key: object, action: str, fields: dict) -> str | None:
    """A teacher's command from anywhere: carried out only with the room's teacher key;
    returns the sentence to show (None: done)."""
    room = find_teacher(key)
    if room is None:
        return "Only the room's teacher can do that."
    if action not in ACTIONS:
        return "Unknown room command."
    return act(room, action, fields)


def act(room: Room, action: str, fields: dict) -> str | None:
    """Carry out a teacher's action; a sentence when it cannot be done."""
    if room.closed:
        return f"Room {room.code} is closed."
    handler = ACTIONS[action]
    why = handler(room, fields)
    room.last_activity = time.monotonic()
    room.changed()
    return why


# -- a lesson's questions, for the teacher to pose ------------------------------------------
@dataclass(frozen=True)
class LessonQuestion:
    """A question of a lesson's step, as a room asks it (the teacher may edit it first)."""

    lesson: str  # the lesson's title
    text: str
    choices: tuple[str, ...]
    correct: int | None  # the index of the right choice; None: the lesson names none

    @property
    def label(self) -> str:
        return f"{self.lesson}: {self.text}"


def lesson_questions(lessons: Mapping[str, object] | None = None) -> list[LessonQuestion]:
    """Every lesson step's question that a room can ask: a ``question`` with 2-4
    ``choices``. Read defensively (lessons gain these fields in their own time): a step
    without them, or with something else in them, is left out; ``answer`` may be the
    choice's number as the lesson files write it (1 = the first), its index from 0 when
    0, or the choice's text."""
    if lessons is None:
        from playground.engine.teaching.lessons import LESSONS as lessons  # noqa: N811
    found = []
    for lesson in lessons.values():
        title = clean_text(getattr(lesson, "title", ""), 60) or "A lesson"
        for step in getattr(lesson, "steps", ()):
            text = clean_text(getattr(step, "question", None), QUESTION_MAX)
            raw = getattr(step, "choices", None)
            if not text or not isinstance(raw, (list, tuple)):
                continue
            choices = tuple(c for c in (clean_text(c, CHOICE_MAX) for c in raw) if c)
            if len(choices) != len(raw) or not CHOICES[0] <= len(choices) <= CHOICES[1]:
                continue
            found.append(LessonQuestion(title, text, choices,
                                        _answer_index(getattr(step, "answer", None), raw)))
    return found


def _answer_index(answer: object, choices: list | tuple) -> int | None:
    if isinstance(answer, str):
        return next((i for i, c in enumerate(choices) if c == answer), None)
    if isinstance(answer, int) and not isinstance(answer, bool):
        index = answer - 1 if answer >= 1 else answer
        return index if 0 <= index < len(choices) else None
    return None


# -- the actions, by name (protocol.ROOM_ACTIONS) --------------------------------------------
def _push(room: Room, fields: dict) -> str | None:
    mine = room.teacher_session
    with room.lock:
        if mine is not None and not mine.closed:
            room.params = room_params(Config.from_params(mine.params, room.limits)[0])
        room.experiment_version += 1
        params = room.experiment_params()
    config, _ = Config.from_params(params, room.limits)

    def restart_on(session: Session) -> None:
        session.apply_config(config)
        session.restart()
        session.play()

    room.tell_all("Your teacher sent a new experiment: your run starts again on it.", restart_on)
    return None


def _pause_all(room: Room, fields: dict) -> str | None:
    room.tell_all("Your teacher paused everyone.", lambda session: session.pause())
    return None


def _play_all(room: Room, fields: dict) -> str | None:
    room.tell_all("Your teacher pressed play for everyone.", lambda session: session.play())
    return None


def _lock(room: Room, fields: dict) -> str | None:
    names = fields.get("names")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return "Lock needs a list of control names."
    locked = tuple(n for n in HIDEABLE if n in names)
    with room.lock:
        if locked == room.locked:
            return None
        room.locked = locked
        room.experiment_version += 1  # the students' pages pick up the hidden parts

    def relock(session: Session) -> None:
        config = Config.from_params({**session.params, "hide": ",".join(locked)})[0]
        session.apply_config(config)  # a display change: training goes on

    text = (f"Your teacher locked: {', '.join(n.replace('_', ' ') for n in locked)}."
            if locked else "Your teacher unlocked every control.")
    room.tell_all(text, relock)
    return None


def _challenge(room: Room, fields: dict) -> str | None:
    name = fields.get("name")
    if name is not None and name not in CHALLENGES:
        return "There is no such challenge."
    with room.lock:
        room.challenge = name
        for member in room.members.values():
            member.progress = Progress()  # the ranking starts from what comes next
    room.tell_all(f"Challenge: {CHALLENGES[name].title}." if name else "The challenge ended.")
    return None


def _question(room: Room, fields: dict) -> str | None:
    if fields.get("text") is None:  # no text: the question is taken down
        with room.lock:
            room.question = None
        return None
    text = clean_text(fields.get("text"), QUESTION_MAX)
    raw = fields.get("choices")
    choices = [clean_text(c, CHOICE_MAX) for c in raw] if isinstance(raw, list) else []
    choices = [c for c in choices if c]
    correct = fields.get("correct")
    if not text:
        return "A question needs some text."
    if not CHOICES[0] <= len(choices) <= CHOICES[1]:
        return f"A question needs {CHOICES[0]} to {CHOICES[1]} choices."
    if correct is not None and (not isinstance(correct, int) or isinstance(correct, bool)
                                or not 0 <= correct < len(choices)):
        return "The right answer must be one of the choices."
    with room.lock:
        room.question = Question(text, choices, correct)
    room.tell_all(f"Your teacher asks: {text}")
    return None


def _reveal(room: Room, fields: dict) -> str | None:
    with room.lock:
        question = room.question
        if question is None:
            return "There is no question to reveal."
        question.revealed = True
    answer = (f"the answer is “{question.choices[question.correct]}”."
              if question.correct is not None else "see the class's answers.")
    room.tell_all(f"Answers are in: {answer}")
    return None


def _remove(room: Room, fields: dict) -> str | None:
    with room.lock:
        member = next((m for m in room.members.values() if m.tile == fields.get("tile")), None)
        if member is None:
            return "That student has already left."
        del room.members[member.seat]
        room.removed.add(member.seat)
    if member.session is not None and not member.session.closed:
        member.session.room_version += 1
        member.session.tell(f"Your teacher removed you from room {room.code}; your "
                           "experiment stays yours.")
    return None


def _close(room: Room, fields: dict) -> str | None:
    close_room(room, f"Your teacher closed room {room.code}; your experiment stays yours.")
    return None


ACTIONS: dict[str, Callable[[Room, dict], str | None]] = {
    "push": _push, "pause_all": _pause_all, "play_all": _play_all, "lock": _lock,
    "challenge": _challenge, "question": _question, "reveal": _reveal, "remove": _remove,
    "close": _close,
}
