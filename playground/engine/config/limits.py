"""Server-wide limits, in one place.

A hosted page serves strangers, so every size a visitor can ask for has a cap.
Each limit reads an environment variable ``PLAYGROUND_<NAME>`` (upper case) so
an operator can change it without touching code; the defaults suit 2 cores. A
setting that is not a usable number stops the server at once with one line that
names it (a typo must not quietly leave the default in force).
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import MISSING, dataclass, field, fields

SESSION_BUDGET_MIB = 20  # memory set aside per session: twice what one measured at most
RESERVED_MIB = 1500  # the server, its workers and torch before any session


def default_max_sessions() -> int:
    """As many sessions as this machine's memory holds, at most 1000."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    except (ValueError, OSError, AttributeError):
        total = 4096
    return int(max(10, min(1000, (total - RESERVED_MIB) / SESSION_BUDGET_MIB)))


@dataclass(frozen=True)
class Limits:
    max_layers: int = 6  # hidden layers
    max_neurons: int = 8  # per hidden layer, for 2-D data sets (as the TF Playground)
    max_neurons_wide: int = 64  # per hidden layer, for wide inputs such as the 8x8 digits
    max_points: int = 2000  # points generated for one data set
    max_epochs_per_run: int = 100_000  # an epoch counter past this pauses training
    # sessions at once; each costs a few MiB (measured: make bench), so the cap comes
    # from memory: past it a new visitor is told the server is full
    max_sessions: int = field(default_factory=lambda: default_max_sessions())
    idle_timeout_s: float = 600.0  # a session that no page watched this long is closed
    header_timeout_s: float = 10.0  # a request's headers must all arrive within this
    # class rooms (server/rooms.py)
    room_max_students: int = 100  # students in one room
    max_rooms: int = 50  # rooms open on one server at once
    room_idle_timeout_s: float = 7200.0  # a room nobody trained in or steered this long closes
    room_leave_grace_s: float = 15.0  # a student's tile waits this long for a reload
    # wrong room codes one address may try a minute (right ones are not counted: a class
    # behind one school router joins from one address)
    room_wrong_codes_per_minute: int = 10

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Limits:
        """Limits with any ``PLAYGROUND_*`` overrides (an empty one is unset); a value
        that is not a number above 0 (a whole one for a count) is a ``SettingError``."""
        environ = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            whole = f.default is MISSING or type(f.default) is int
            value = env_number(f"PLAYGROUND_{f.name.upper()}", whole, environ)
            if value is not None:
                values[f.name] = value
        return cls(**values)


class SettingError(ValueError):
    """A ``PLAYGROUND_*`` environment variable that cannot be used; the message is one
    line that names it."""


def env_number(name: str, whole: bool, environ: dict[str, str] | None = None
               ) -> int | float | None:
    """The positive number in environment variable ``name`` (an int if ``whole``), or
    None when it is unset or empty. Anything else (text, 0, -1, inf, nan, 1e400, 2.5
    for a count) is a ``SettingError``: an operator's typo must not pass unnoticed."""
    environ = os.environ if environ is None else environ
    raw = environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0 and (value.is_integer() or not whole)):
        shown = repr(raw if len(raw) <= 40 else raw[:40] + "…")
        kind = "a whole number" if whole else "a number"
        raise SettingError(f"{name}={shown} is not a valid setting: give {kind} above 0, "
                           f"or leave it unset for the default.")
    return int(value) if whole else value


SERVER_SETTINGS = ("PLAYGROUND_WORKERS",)  # whole numbers read elsewhere, checked here too


def _limits_or_exit() -> Limits:
    """This server's limits; a bad setting stops it with one line, not a traceback."""
    try:
        for name in SERVER_SETTINGS:
            env_number(name, whole=True)
        return Limits.from_env()
    except SettingError as error:
        sys.exit(f"playground: {error}")


LIMITS = _limits_or_exit()
