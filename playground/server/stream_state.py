"""What one live stream has already sent its page (``Runner.stream_message`` reads and
updates it), so each message carries only what is new."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playground.server.runner import Runner


class StreamState:
    """What one live stream has already sent its page."""

    def __init__(self) -> None:
        self.version = -1
        self.generation: int | None = None
        self.rewrites = 0
        self.sent_epoch = 0
        self.points_version = 0
        self.notice: str | None = None
        self.members: dict[int, list[int]] = {}  # a study's members: what each has sent

    def restarts(self, runner: Runner) -> bool:
        """Whether the page must drop its curves (training restarted, or was rewound)."""
        if runner.generation == self.generation and runner.rewrites == self.rewrites:
            return False
        self.generation, self.rewrites, self.sent_epoch = runner.generation, runner.rewrites, 0
        return True

    def news(self, runner: Runner) -> tuple[bool, str | None]:
        """(whether the notice changed since the last message, the notice now)."""
        notice = runner.notice if time.monotonic() < runner.notice_until else None
        changed = notice != self.notice
        self.notice = notice
        return changed, notice
