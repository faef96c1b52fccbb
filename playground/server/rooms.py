"""Class rooms: a teacher sees and steers every student's session.

A Room is a small object: a code students type, a teacher key that only the
teacher's page holds, the room's experiment (a Config's URL params), its members
(a name and the Session each student trains on) and what the teacher has set: locked
controls, a challenge, a question. Students train exactly as alone; the room only
reads what their sessions already compute (the latest summary and output picture)
and, on a teacher's command, calls their sessions' public methods.

The teacher's commands are ``room_actions.py``'s. The registry of rooms is this
process's: one replica holds its rooms (the README says how replicas route a room to
one of them).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
import unicodedata
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from playground.engine.config.config import Config
from playground.engine.config.limits import LIMITS, Limits
from playground.server.challenges import CHALLENGES, Progress, follow, ordinal
from playground.server.session import Session

# no 0/O, 1/I/l and no U/V pair read aloud alike: a code copied from a projector works
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTWXYZ23456789"
CODE_LENGTH = 5
NAME_MAX = 24  # characters of a student's name
NAME_READ_MAX = 200  # a longer name is cut here before anything else looks at it
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
        self.params = room_params(config)  # the room's experiment
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
            self.changed()
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
            self.changed()

    def answer(self, seat: str, choice: object) -> None:
        with self.lock:
            question = self.question
            if (question is None or question.revealed or seat not in self.members
                    or not isinstance(choice, int) or not 0 <= choice < len(question.choices)):
                return
            question.answers[seat] = choice
            self.changed()

    def sweep(self, now: float | None = None) -> None:
        """Free the tiles of students who left (no live session for the grace time)."""
        now = time.monotonic() if now is None else now
        with self.lock:
            for seat, member in list(self.members.items()):
                session = member.session
                if session is not None and session.closed:
                    member.session, member.away_since = None, now
                    self.changed()
                # a student still on their first page load gets longer (a slow load)
                grace = self.limits.room_leave_grace_s * (1 if member.bound else 4)
                if member.away_since is not None and now - member.away_since > grace:
                    del self.members[seat]
                    if self.question is not None:
                        self.question.answers.pop(seat, None)
                    self.changed()

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

    def tell_all(self, text: str, change: Callable[[Session], None] | None = None) -> None:
        with self.lock:
            sessions = [m.session for m in self.members.values()
                       if m.session is not None and not m.session.closed]
        for session in sessions:
            if change is not None:
                change(session)
            session.room_version += 1
            session.tell(text)

    def changed(self) -> None:
        self.version += 1
        for listener in list(self.listeners):
            listener()


def room_params(config: Config) -> dict[str, str]:
    """A Config's URL params as a room's experiment: without what only a page shows."""
    return {k: v for k, v in config.to_params().items() if k not in ("hide", "presenter")}


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


def close_room(room: Room, sentence: str, now: float | None = None) -> None:
    """Tell every student why, close the room and free its code; the code still says
    "closed" for a while."""
    room.tell_all(sentence)
    with room.lock:
        room.closed = True
    _closed_codes[room.code] = time.monotonic() if now is None else now
    _forget(room)


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
            close_room(room, f"Room {room.code} closed after "
                       f"{room.limits.room_idle_timeout_s / 3600:g} idle hours.", now)
            room.changed()
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
