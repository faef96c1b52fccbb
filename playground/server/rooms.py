"""Class rooms: a teacher sees and steers every student's session.

A Room is a small object: a code students type, a teacher key that only the
teacher's page holds, the room's experiment (a Config's URL params), its members
(a name and the Session each student trains on) and what the teacher has set: locked
controls, a challenge, a question. Students train exactly as alone; the room only
reads what their sessions already compute (the latest summary and output picture)
and, on a teacher's command, calls their sessions' public methods.

Every teacher command goes through ``teacher_command(key, action, fields)``, which
finds the room by its key: a command from anywhere else (a student's stream, a forged
message) names no room and changes nothing. The registry is this process's: one
replica holds its rooms (the README says how replicas route a room to one of them).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
import unicodedata
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from playground.engine.config.config import HIDEABLE, Config
from playground.engine.config.limits import LIMITS, Limits
from playground.server.challenges import CHALLENGES, Progress, follow, ordinal
from playground.server.session import Session

# no 0/O, 1/I/l and no U/V pair read aloud alike: a code copied from a projector works
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTWXYZ23456789"
CODE_LENGTH = 5
NAME_MAX = 24  # characters of a student's name
NAME_READ_MAX = 200  # a longer name is cut here before anything else looks at it
QUESTION_MAX = 200  # characters of a question, and of each choice (a tenth of that)
CHOICE_MAX = 60
CHOICES = (2, 4)  # a question has this many choices, at least and at most
WRONG_CODE_PAUSE_S = 1.0  # a wrong code's answer waits this long (sweeping codes is slow)
CLOSED_KEPT_S = 6 * 3600.0  # a closed room's code still says "closed" this long
# settings a student may change without it counting as "differs" on their tile
DISPLAY_ONLY = {"hide", "presenter", "show_test", "discretize", "speed"}
SHORT_NAMES = {"learning_rate": "lr", "activation": "act", "regularization": "reg",
               "reg_rate": "reg rate", "optimizer": "opt", "batch_size": "batch",
               "hidden": "layers", "init_seed": "init seed", "data_seed": "data seed",
               "train_ratio": "train %", "features": "inputs"}


class RoomError(ValueError):
    """A sentence for the visitor: no such room, the room is full, too many tries."""


class CodeTaken(RoomError):
    """A room was to open under a code that is not free here."""


def clean_text(raw: object, limit: int) -> str:
    """Visitor text as one plain line: control characters out, spaces collapsed, at most
    limit characters ("" when nothing is left). Pages show it as text, never as markup."""
    text = str(raw or "")[:max(limit * 4, NAME_READ_MAX)]  # a 10 KB name stops here
    text = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in text)
    return " ".join(text.split())[:limit].strip()


def clean_name(raw: object) -> str:
    """A student's name: plain text, at most NAME_MAX characters."""
    return clean_text(raw, NAME_MAX)


# -- the room ---------------------------------------------------------------------------------
@dataclass
class Member:
    seat: str  # the student's secret: their page's URL holds it, so a reload keeps the seat
    tile: str  # the teacher view's name for the tile (not the seat: the view is no key)
    name: str
    session: Session | None = None
    away_since: float | None = None  # no live session since then (a reload, a closed tab)
    bound: bool = False  # has had a session (joined and loaded the page)
    rank: int | None = None  # their place on the challenge's board, as last told
    answer: int | None = None
    progress: Progress = field(default_factory=Progress)


@dataclass
class Question:
    text: str
    choices: list[str]
    correct: int | None = None  # the teacher may leave it open (a poll)
    revealed: bool = False
    answers: dict[str, int] = field(default_factory=dict)  # seat -> choice

    def tally(self) -> list[int]:
        counts = [0] * len(self.choices)
        for choice in self.answers.values():
            counts[choice] += 1
        return counts


def differences(params: dict[str, str], room_params: dict[str, str]) -> str:
    """Which settings of a student's run differ from the room's experiment, short."""
    keys = sorted((set(params) | set(room_params)) - DISPLAY_ONLY)
    changed = [k for k in keys if params.get(k) != room_params.get(k)]
    defaults = Config.defaults_for(params.get("dataset", Config().dataset)).to_params()
    return " · ".join(f"{SHORT_NAMES.get(k, k)} {params.get(k, defaults.get(k, 'default'))}"
                      for k in changed)


class Room:
    def __init__(self, code: str, config: Config, limits: Limits = LIMITS) -> None:
        self.code = code
        self.teacher_key = secrets.token_urlsafe(24)
        self.limits = limits
        self.lock = threading.RLock()
        self.params = _experiment_params(config)  # the room's experiment
        self.teacher_session: Session | None = None  # the teacher's own experiment ("push")
        self.experiment_version = 0
        self.locked: tuple[str, ...] = ()
        self.members: dict[str, Member] = {}
        self.removed: set[str] = set()  # seats the teacher removed (they may not come back)
        self.challenge: str | None = None
        self.question: Question | None = None
        self.closed = False
        self.version = 0  # bumps with every change the teacher view should show at once
        self.last_activity = time.monotonic()
        self.listeners: list[Callable[[], None]] = []

    # -- students --------------------------------------------------------------------------
    def join(self, raw_name: object) -> Member:
        name = clean_name(raw_name)
        if not name:
            raise RoomError("A name needs at least one letter or digit.")
        with self.lock:
            if self.closed:
                raise RoomError(f"Room {self.code} was closed by the teacher.")
            if len(self.members) >= self.limits.room_max_students:
                raise RoomError(f"Room {self.code} is full ({self.limits.room_max_students} "
                                "students); ask the teacher to open a second room.")
            member = Member(seat=secrets.token_urlsafe(12), tile=secrets.token_hex(6),
                            name=self._unique(name), away_since=time.monotonic())
            self.members[member.seat] = member
            self._changed()
        return member

    def _unique(self, name: str) -> str:
        taken = {m.name.casefold() for m in self.members.values()}
        if name.casefold() not in taken:
            return name
        for n in range(2, len(taken) + 3):
            suffix = f" {n}"
            candidate = name[:NAME_MAX - len(suffix)].rstrip() + suffix
            if candidate.casefold() not in taken:
                return candidate
        raise AssertionError("unreachable: one of len(taken) + 1 suffixes is free")

    def member(self, seat: object) -> Member | None:
        with self.lock:
            return self.members.get(seat) if isinstance(seat, str) else None

    def bind(self, seat: str, session: Session | None) -> None:
        """The session this student's page trains on now (a reload brings a new one)."""
        with self.lock:
            member = self.members.get(seat)
            if member is None or member.session is session:
                return
            member.session = session
            member.bound = member.bound or session is not None
            member.away_since = None if session is not None else time.monotonic()
            self._changed()

    def answer(self, seat: str, choice: object) -> None:
        with self.lock:
            question = self.question
            if (question is None or question.revealed or seat not in self.members
                    or not isinstance(choice, int) or not 0 <= choice < len(question.choices)):
                return
            question.answers[seat] = choice
            self._changed()

    def sweep(self, now: float | None = None) -> None:
        """Free the tiles of students who left (no live session for the grace time)."""
        now = time.monotonic() if now is None else now
        with self.lock:
            for seat, member in list(self.members.items()):
                session = member.session
                if session is not None and session.closed:
                    member.session, member.away_since = None, now
                    self._changed()
                # a student still on their first page load gets longer (a slow load)
                grace = self.limits.room_leave_grace_s * (1 if member.bound else 4)
                if member.away_since is not None and now - member.away_since > grace:
                    del self.members[seat]
                    if self.question is not None:
                        self.question.answers.pop(seat, None)
                    self._changed()

    # -- what the room reads of its students ---------------------------------------------
    def observe(self) -> None:
        """Follow each member's run (for the challenge); reads only their summaries."""
        with self.lock:
            members = list(self.members.values())
        busy = False
        for member in members:
            session = member.session
            if session is None or session.closed:
                continue
            snap = session.snapshot()
            busy = busy or snap["playing"]
            member.progress = follow(member.progress, session, snap)
        if busy:
            self.last_activity = time.monotonic()
        self._tell_new_ranks()

    def _tell_new_ranks(self) -> None:
        """A student whose place on the leaderboard changed hears it (and their page
        reruns to show it): the board moves while nobody touches the page."""
        board = self.leaderboard()
        ranks = {row["tile"]: row["rank"] for row in board}
        with self.lock:
            members = list(self.members.values())
        for member in members:
            rank = ranks.get(member.tile)
            session = member.session
            if rank == member.rank or session is None or session.closed:
                continue
            member.rank = rank
            if rank is not None:
                session.room_version += 1
                session.tell(f"You are {ordinal(rank)} of {len(board)} in the challenge.")

    def leaderboard(self) -> list[dict]:
        """The challenge's ranking: [{"tile", "name", "rank", "score"}], best first."""
        challenge = CHALLENGES.get(self.challenge or "")
        if challenge is None:
            return []
        with self.lock:
            scored = [(s, m) for m in self.members.values()
                      if (s := challenge.score(m.progress)) is not None]
        scored.sort(key=lambda pair: (pair[0], pair[1].name.casefold()))
        return [{"tile": m.tile, "name": m.name, "rank": rank,
                 "score": challenge.show(m.progress)}
                for rank, (_, m) in enumerate(scored, start=1)]

    def student_view(self, seat: str) -> dict | None:
        """What a student's page shows of the room (None: not a member any more)."""
        with self.lock:
            member = self.members.get(seat)
            if member is None:
                return None
            question = self.question
            view = {"code": self.code, "name": member.name, "closed": self.closed,
                    "locked": self.locked, "experiment": self.experiment_params(),
                    "experiment_version": self.experiment_version,
                    "challenge": CHALLENGES[self.challenge].title if self.challenge else None,
                    "rank": None, "question": None}
            if question is not None:
                view["question"] = {"text": question.text, "choices": list(question.choices),
                                    "mine": question.answers.get(seat),
                                    "correct": question.correct if question.revealed else None,
                                    "revealed": question.revealed}
        if view["challenge"]:
            board = self.leaderboard()
            mine = next((row for row in board if row["tile"] == member.tile), None)
            view["rank"] = (f"You are {ordinal(mine['rank'])} of {len(board)}: {mine['score']}."
                            if mine else "Not in the ranking yet: keep training.")
        return view

    def experiment_params(self) -> dict[str, str]:
        """The room's experiment with the locked controls hidden, as URL params."""
        params = dict(self.params)
        if self.locked:
            params["hide"] = ",".join(self.locked)
        return params

    def teacher_state(self) -> dict:
        """The room as the teacher view shows it (tiles go separately, see tiles())."""
        with self.lock:
            question = self.question
            members = list(self.members.values())
            state = {"code": self.code, "closed": self.closed, "locked": list(self.locked),
                     "joined": len(members),
                     "playing": sum(bool(m.session and not m.session.closed
                                         and m.session.summary.get("playing")) for m in members),
                     "challenge": CHALLENGES[self.challenge].title if self.challenge else None,
                     "question": None}
            if question is not None:
                state["question"] = {"text": question.text, "choices": question.choices,
                                     "tally": question.tally(), "correct": question.correct,
                                     "revealed": question.revealed,
                                     "answered": len(question.answers)}
        state["board"] = self.leaderboard()
        return state

    def tile(self, member: Member) -> tuple[dict, str | None]:
        """One student's tile (numbers and text) and their newest output picture."""
        session = member.session
        tile = {"id": member.tile, "name": member.name, "away": session is None or session.closed,
                "epoch": 0, "playing": False, "test_loss": None, "test_metric": None,
                "metric": "accuracy", "differs": ""}
        if tile["away"]:
            return tile, None
        snap = session.snapshot()
        last = snap.get("last") or {}
        tile.update(epoch=snap["epoch"], playing=snap["playing"],
                    test_loss=last.get("test_loss"), test_metric=last.get("test_metric"),
                    metric=snap.get("metric", "accuracy"),
                    differs=differences(snap.get("config") or {}, self.params),
                    stopped=snap.get("stopped"), crashed=bool(snap.get("crashed")))
        # the session's own latest output picture: no extra forward pass
        return tile, session.boundary()

    def tiles(self) -> list[tuple[dict, str | None]]:
        with self.lock:
            members = list(self.members.values())
        return [self.tile(m) for m in members]

    # -- the teacher's actions (teacher_command checked the key) --------------------------
    def act(self, action: str, fields: dict) -> str | None:
        """Carry out a teacher's action; a sentence when it cannot be done."""
        if self.closed:
            return f"Room {self.code} is closed."
        handler = ACTIONS[action]
        why = handler(self, fields)
        self.last_activity = time.monotonic()
        self._changed()
        return why

    def tell_all(self, text: str, change: Callable[[Session], None] | None = None) -> None:
        with self.lock:
            sessions = [m.session for m in self.members.values()
                       if m.session is not None and not m.session.closed]
        for session in sessions:
            if change is not None:
                change(session)
            session.room_version += 1
            session.tell(text)

    def _changed(self) -> None:
        self.version += 1
        for listener in list(self.listeners):
            listener()


def _experiment_params(config: Config) -> dict[str, str]:
    return {k: v for k, v in config.to_params().items() if k not in ("hide", "presenter")}


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
            room.params = _experiment_params(Config.from_params(mine.params, room.limits)[0])
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
    room.tell_all(f"Your teacher closed room {room.code}; your experiment stays yours.")
    with room.lock:
        room.closed = True
    _closed_codes[room.code] = time.monotonic()
    _forget(room)
    return None


ACTIONS: dict[str, Callable[[Room, dict], str | None]] = {
    "push": _push, "pause_all": _pause_all, "play_all": _play_all, "lock": _lock,
    "challenge": _challenge, "question": _question, "reveal": _reveal, "remove": _remove,
    "close": _close,
}


# -- the server-wide registry ----------------------------------------------------------------
_rooms: dict[str, Room] = {}
_closed_codes: dict[str, float] = {}  # code -> when it closed
_wrong_codes: dict[str, deque] = {}  # address -> times of its wrong codes in the last minute
_registry_lock = threading.Lock()
_janitor: threading.Thread | None = None


def open_room(config: Config, limits: Limits = LIMITS, code: str | None = None) -> Room:
    """A new room on config, under code when given (a fresh one otherwise); RoomError when
    the server holds all the rooms it may, or the code is not a free room code here.

    Behind a load balancer that routes by room, the page that asked for a new room picks
    the code (fresh_code) and reloads with it, so the balancer sends that request to the
    replica the code hashes to, and the room opens there (see room_page)."""
    global _janitor
    with _registry_lock:
        if len(_rooms) >= limits.max_rooms:
            raise RoomError(f"This server already holds {limits.max_rooms} rooms; close one "
                            "or try again later.")
        if code is None:
            code = _new_code()
        elif not is_room_code(code) or code in _rooms or code in _closed_codes:
            raise CodeTaken(f"The code {code[:8]} is taken; open a new room instead.")
        room = _rooms[code] = Room(code, config, limits)
        if _janitor is None:
            _janitor = threading.Thread(target=_sweep_forever, daemon=True)
            _janitor.start()
    return room


def _new_code() -> str:
    while True:
        code = fresh_code()
        if code not in _rooms and code not in _closed_codes:
            return code


def fresh_code() -> str:
    """A random room code (no look-alikes). 29^5 = 20 million of them: two rooms of one
    server, or of two replicas, meet by chance about never; open_room checks anyway."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def is_room_code(text: str) -> bool:
    """Whether text is spelt as this server spells room codes (the load balancer routes
    by exactly this spelling: a lower-case copy would hash elsewhere)."""
    return len(text) == CODE_LENGTH and all(ch in CODE_ALPHABET for ch in text)


def normal_code(raw: object) -> str:
    """A typed code as the registry spells it (case and spaces do not matter)."""
    return "".join(str(raw or "")[:40].split()).upper()


def find_room(raw_code: object, address: str | None, limits: Limits = LIMITS) -> Room:
    """The open room with this code, or RoomError with the sentence to show. Wrong codes
    are counted per address: past the limit every lookup from it waits a minute."""
    code = normal_code(raw_code)
    now = time.monotonic()
    with _registry_lock:
        tries = _wrong_codes.setdefault(address or "?", deque())
        while tries and now - tries[0] > 60.0:
            tries.popleft()
        if len(tries) >= limits.room_wrong_codes_per_minute:
            raise RoomError("Too many wrong room codes from here; wait a minute and try again.")
        room = _rooms.get(code)
        if room is not None and not room.closed:
            return room
        tries.append(now)
    if code in _closed_codes:
        raise RoomError(f"Room {code} was closed by the teacher.")
    shown = "".join(ch for ch in code if ch.isalnum())[:8] or "with that code"
    raise RoomError(f"There is no room {shown}; check the code.")


def find_teacher(key: object) -> Room | None:
    """The open room whose teacher key this is."""
    if not isinstance(key, str) or not key:
        return None
    with _registry_lock:
        rooms = list(_rooms.values())
    return next((r for r in rooms if hmac.compare_digest(r.teacher_key, key)), None)


def teacher_command(key: object, action: str, fields: dict) -> str | None:
    """A teacher's command from anywhere: carried out only with the room's teacher key;
    returns the sentence to show (None: done)."""
    room = find_teacher(key)
    if room is None:
        return "Only the room's teacher can do that."
    if action not in ACTIONS:
        return "Unknown room command."
    return room.act(action, fields)


def _forget(room: Room) -> None:
    with _registry_lock:
        _rooms.pop(room.code, None)


def active_rooms() -> list[Room]:
    with _registry_lock:
        return list(_rooms.values())


def sweep_rooms(now: float | None = None) -> None:
    """Follow every room's students; free left tiles; close rooms idle too long."""
    now = time.monotonic() if now is None else now
    for room in active_rooms():
        room.observe()
        room.sweep(now)
        if now - room.last_activity > room.limits.room_idle_timeout_s:
            room.tell_all(f"Room {room.code} closed after "
                          f"{room.limits.room_idle_timeout_s / 3600:g} idle hours.")
            room.closed = True
            _closed_codes[room.code] = now
            _forget(room)
            room._changed()
    with _registry_lock:
        for code, at in list(_closed_codes.items()):
            if now - at > CLOSED_KEPT_S:
                del _closed_codes[code]


def _sweep_forever() -> None:
    while True:
        time.sleep(0.5)
        try:
            sweep_rooms()
        except Exception:  # noqa: BLE001  (a janitor must outlive one room's bad moment)
            pass


def close_all_rooms() -> None:
    for room in active_rooms():
        _forget(room)
