"""The page's handle on a race or a sweep: one session in the pool, many members.

It keeps what the page draws of each member (its history, its newest metrics, its
output picture) and the last exact snapshot of all of them, from which a restarted
worker resumes the study. It counts against the server's cap as one session per member.
"""

from __future__ import annotations

from playground.engine.config import Config
from playground.engine.history import History
from playground.engine.limits import LIMITS, Limits
from playground.engine.study import Study
from playground.server.runner import Runner, start_runner, untracked_points
from playground.server.stream_state import StreamState


class StudyRunner(Runner):
    def __init__(self, config: Config, study: Study, resume: list | None = None) -> None:
        self.study = study  # before the pool asks for the open spec
        self.members: list[dict] = [self._empty() for _ in study.values]
        super().__init__(config, resume)

    @property
    def weight(self) -> int:
        """A study counts as one session per member."""
        return len(self.study.values)

    @staticmethod
    def _empty() -> dict:
        return {"history": History(), "summary": None, "picture": None, "picture_version": 0,
                "points": None, "points_version": 0}

    def open_spec(self) -> dict:
        return {**super().open_spec(), "study": self.study.to_params()}

    def apply_config(self, config: Config) -> None:
        raise RuntimeError("a study's settings are fixed: start another study")

    def runs(self) -> list[tuple[History, str | None]]:
        """Each member's history and why it stopped, as copies (for lesson checks)."""
        with self.lock:
            return [(m["history"].copy(), (m["summary"] or {}).get("stopped"))
                    for m in self.members]

    def _new_generation(self) -> None:
        self.members = [self._empty() for _ in self.members]

    def _take(self, frame: dict) -> None:
        for member, update in zip(self.members, frame.pop("members")):
            member["history"].extend(update.pop("history"))
            if "points" in update:
                member["points"] = untracked_points(update.pop("points"))
                member["points_version"] += 1
            if "picture" in update:
                member["picture"] = update.pop("picture")["boundary"]
                member["picture_version"] += 1
            member["summary"] = update

    def resumed(self, failed: bool, hung: bool = False) -> None:
        with self.lock:  # each member goes on from its own snapshot
            for member, state in zip(self.members, self.last_state or []):
                member["history"].truncate_after(state["epoch"])
        super().resumed(failed, hung)

    def resume_epoch(self) -> int:
        """The epoch the page is told about: the furthest member's."""
        return max((s["epoch"] for s in self.last_state or []), default=0)

    def stream_message(self, sent: StreamState) -> dict | None:
        """What the page has not seen: each member's new rows and newest metrics, and its
        picture and points only when they changed."""
        with self.lock:
            if self.version == sent.version:
                return None
            message: dict = {"summary": self.summary, "error": self.error}
            if sent.restarts(self):
                message["restart"] = True
                sent.members = {}
            members = []
            for i, member in enumerate(self.members):
                # [picture version, points version, epoch of the last row] sent
                seen = sent.members.setdefault(i, [0, 0, 0])
                rows = member["history"].since(seen[2])
                if rows["epoch"]:
                    seen[2] = rows["epoch"][-1]
                update = {"history": rows, "summary": member["summary"]}
                if member["picture_version"] != seen[0]:
                    seen[0] = member["picture_version"]
                    update["picture"] = member["picture"]
                if member["points_version"] != seen[1]:
                    seen[1] = member["points_version"]
                    update["points"] = member["points"]
                members.append(update)
            message["members"] = members
            changed, notice = sent.news(self)
            if changed:
                message["notice"] = notice
            sent.version = self.version
        return message


def start_study(config: Config, study: Study, limits: Limits = LIMITS,
                resume: list | None = None) -> Runner:
    """A registered study runner; ServerBusy when its members do not fit on the server."""
    return start_runner(config, limits, resume, make=lambda c, r: StudyRunner(c, study, r),
                        weight=len(study.values))  # the weight StudyRunner will have
