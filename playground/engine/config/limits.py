"""Server-wide limits, in one place.

A hosted page serves strangers, so every size a visitor can ask for has a cap.
Each limit reads an environment variable ``PLAYGROUND_<NAME>`` (upper case) so
an operator can change it without touching code; the defaults suit 2 cores.
"""

from __future__ import annotations

import os
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
    idle_timeout_s: float = 600.0  # a session with no page contact this long is stopped
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
        """Limits with any ``PLAYGROUND_*`` overrides; a malformed value keeps the default."""
        environ = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            raw = environ.get(f"PLAYGROUND_{f.name.upper()}")
            if raw is None:
                continue
            kind = int if f.default is MISSING else type(f.default)
            try:
                value = kind(float(raw))
            except ValueError:
                continue
            if value > 0:
                values[f.name] = value
        return cls(**values)


LIMITS = Limits.from_env()
