"""A class room's challenges: a goal, and a ranking computed from the students' real runs.

The room follows each student's session twice a second (``follow``): its summary, and
for the moment a goal was reached, its kept history. A challenge is one entry of
``CHALLENGES``: a title, a score (lower ranks first; None: not ranked yet) and how the
leaderboard says it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from playground.engine.config.config import Config
from playground.server.protocol import finite_or_none
from playground.server.session import Session


@dataclass
class Progress:
    """What the room has seen of one member's current run (reset when it restarts)."""

    generation: int | None = None
    neurons: int = 0
    epoch: int = 0
    test_loss: float | None = None
    test_metric: float | None = None
    reached_95_at: int | None = None  # first epoch seen with test accuracy >= 95 %
    reached_90_at: int | None = None
    loss_at_300: float | None = None  # test loss at the first epoch seen >= 300


@dataclass(frozen=True)
class Challenge:
    title: str  # what the students are told
    # lower sorts first; None: not (yet) in the ranking
    score: Callable[[Progress], tuple | None]
    show: Callable[[Progress], str]  # the score as the leaderboard says it


def _accuracy_first(p: Progress) -> tuple | None:
    return None if p.reached_95_at is None else (p.neurons, p.reached_95_at)


def _loss_at_300(p: Progress) -> tuple | None:
    return None if p.loss_at_300 is None else (p.loss_at_300,)


def _fastest_to_90(p: Progress) -> tuple | None:
    return None if p.reached_90_at is None else (p.reached_90_at,)


CHALLENGES: dict[str, Challenge] = {
    "fewest_neurons": Challenge(
        "Test accuracy of at least 95 % with the fewest neurons", _accuracy_first,
        lambda p: f"{p.neurons} neurons (95 % at epoch {p.reached_95_at:,})"),
    "lowest_loss_300": Challenge(
        "The lowest test loss after 300 epochs", _loss_at_300,
        lambda p: f"test loss {p.loss_at_300:.4f}"),
    "fastest_90": Challenge(
        "Reach 90 % test accuracy in the fewest epochs", _fastest_to_90,
        lambda p: f"90 % at epoch {p.reached_90_at:,}"),
}


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def follow(progress: Progress, session: Session, snap: dict) -> Progress:
    """What the room knows of a student's run after this snapshot of it (a new run, one
    that restarted, starts a new Progress)."""
    if snap["generation"] != progress.generation or snap["epoch"] < progress.epoch:
        config, _ = Config.from_params(snap.get("config") or {})
        progress = Progress(generation=snap["generation"], neurons=sum(config.hidden))
    last = snap.get("last") or {}
    progress.epoch = snap["epoch"]
    # a diverged run's NaN loss is not a score
    progress.test_loss = finite_or_none(last.get("test_loss"))
    progress.test_metric = finite_or_none(last.get("test_metric"))
    metric, epoch = progress.test_metric, last.get("epoch", snap["epoch"])
    if progress.loss_at_300 is None and epoch >= 300 and progress.test_loss is not None:
        progress.loss_at_300 = _loss_at(session, 300, progress.test_loss)
    if metric is None or snap.get("metric") != "accuracy":
        return progress  # the accuracy goals need a classification
    if progress.reached_95_at is None and metric >= 0.95:
        progress.reached_95_at = _first_epoch_at(session, 0.95, epoch)
    if progress.reached_90_at is None and metric >= 0.90:
        progress.reached_90_at = _first_epoch_at(session, 0.90, epoch)
    return progress


def _first_epoch_at(session: Session, level: float, seen: int) -> int:
    """The first epoch of the run's kept history whose test accuracy reached level
    (the room looks twice a second; the history has every kept epoch)."""
    history, _ = session.runs()[0]
    for epoch, metric in zip(history.epoch, history.test_metric):
        if finite_or_none(metric) is not None and metric >= level:
            return epoch
    return seen


def _loss_at(session: Session, target: int, seen: float) -> float:
    history, _ = session.runs()[0]
    for epoch, loss in zip(history.epoch, history.test_loss):
        if epoch >= target and finite_or_none(loss) is not None:
            return loss
    return seen
