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
from playground.server.runner import Runner, StreamState, start_runner


class StudyRunner(Runner):
    def __init__(self, config: Config, study: Study, resume: list | None = None) -> None:
        self.study = study  # before the pool asks for the open spec
        self.weight = len(study.values)
        self.members: list[dict] = [self._empty() for _ in study.values]
        super().__init__(config, resume)

    @staticmethod
    def _empty() -> dict:
        return {"history": History(), "summary": None, "picture": None, "points": None}

    def open_spec(self) -> dict:
        return {**super().open_spec(), "study": self.study.to_params()}

    def apply_config(self, config: Config) -> None:
        raise RuntimeError("a study's settings are fixed: start another study")

    def runs(self) -> list[tuple[History, str | None]]:
        """Each member's history and why it stopped, as copies (for lesson checks)."""
        with self.lock:
            return [(m["history"].copy(), (m["summary"] or {}).get("stopped"))
                    for m in self.members]

    def merge(self, frame: dict) -> None:
        with self.lock:
            if "error" in frame:
                self.error = frame["error"]
            else:
                if frame["generation"] != self.generation:
                    self.generation = frame["generation"]
                    self.members = [self._empty() for _ in self.members]
                for member, update in zip(self.members, frame.pop("members")):
                    member["history"].extend(update.pop("history"))
                    if "points" in update:
                        member["points"] = update.pop("points")
                        self.points_version += 1
                    if "picture" in update:
                        member["picture"] = update.pop("picture")["boundary"]
                    member["summary"] = update
                if "state" in frame:
                    self.last_state = frame.pop("state")
                self.summary = frame
            self.version += 1
        self._notify()

    def resumed(self, failed: bool) -> None:
        with self.lock:
            for member in self.members:
                member["history"].truncate_after(self.resume_epoch())
        super().resumed(failed)

    def resume_epoch(self) -> int:
        return min((s["epoch"] for s in self.last_state or []), default=0)

    def stream_message(self, sent: StreamState) -> dict | None:
        with self.lock:
            if self.version == sent.version:
                return None
            message: dict = {"summary": self.summary, "error": self.error}
            if sent.restarts(self):
                message["restart"] = True
            members = []
            for member in self.members:
                rows = member["history"].since(sent.sent_epoch)
                members.append({"history": rows, "summary": member["summary"],
                                "picture": member["picture"]})
            sent.sent_epoch = max([sent.sent_epoch] + [m["history"]["epoch"][-1]
                                                       for m in members if m["history"]["epoch"]])
            message["members"] = members
            if self.points_version != sent.points_version:
                sent.points_version = self.points_version
                message["points"] = self.members[0]["points"]
            changed, notice = sent.news(self)
            if changed:
                message["notice"] = notice
            sent.version = self.version
        return message


def start_study(config: Config, study: Study, limits: Limits = LIMITS,
                resume: list | None = None) -> Runner:
    """A registered study runner; ServerBusy when its members do not fit on the server."""
    return start_runner(config, limits, resume, make=lambda c, r: StudyRunner(c, study, r),
                        weight=len(study.values))
