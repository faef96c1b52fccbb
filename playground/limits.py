"""Server-wide limits, in one place.

A hosted page serves strangers, so every size a visitor can ask for has a cap.
Each limit reads an environment variable ``PLAYGROUND_<NAME>`` (upper case) so
an operator can change it without touching code; the defaults suit 2 cores.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Limits:
    max_layers: int = 6  # hidden layers
    max_neurons: int = 8  # per hidden layer, for 2-D data sets (as the TF Playground)
    max_neurons_wide: int = 64  # per hidden layer, for wide inputs such as the 8x8 digits
    max_points: int = 2000  # points generated for one data set
    max_epochs_per_run: int = 100_000  # an epoch counter past this pauses training
    max_trainers: int = 4  # trainer processes running at once on this server
    idle_timeout_s: float = 600.0  # a session with no page contact this long is stopped
    max_upload_kb: int = 512  # size of an uploaded data file

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Limits:
        """Limits with any ``PLAYGROUND_*`` overrides; a malformed value keeps the default."""
        environ = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            raw = environ.get(f"PLAYGROUND_{f.name.upper()}")
            if raw is None:
                continue
            try:
                value = type(f.default)(float(raw))
            except ValueError:
                continue
            if value > 0:
                values[f.name] = value
        return cls(**values)


LIMITS = Limits.from_env()
