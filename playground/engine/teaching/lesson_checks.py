"""A lesson step's live check: what it asks of the runs, and whether they show it.

A check looks at runs: one (History, stopped) pair per race member, or one for a
single session. Each kind in ``CHECKS`` is a test of one run, lifted to several: a
race passes when any member does, or only when ``every`` one does, or when its
``member`` does. Lesson files name the kinds (``lessons.py`` reads them).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from playground.engine.train.history import History

Run = tuple[History, str | None]  # a run's history, and why it stopped by itself (or None)
DEFAULT_WITHIN = 300  # epochs


@dataclass(frozen=True)
class Check:
    kind: str  # a key of CHECKS
    text: str  # what the learner is waiting for, e.g. "Test accuracy ≥ 95 %"
    args: Mapping[str, object] = field(default_factory=dict)
    every: bool = False  # a race passes only when all its members pass
    within: int = DEFAULT_WITHIN
    member: int | None = None  # only this race member counts (its place in the race)


# -- each kind takes one run and returns whether it shows what the step asks for ----------
def _last(history: History, key: str) -> float | None:
    value = (history.last or {}).get(key)
    return value if isinstance(value, int | float) else None


def _epochs_seen(history: History) -> int:
    """Epochs the history covers (since its first row, which may follow a step's start)."""
    rows = history.columns["epoch"]
    return history.last["epoch"] - rows[0] + 1 if history.last and rows else 0


def metric_at_least(history: History, stopped: str | None, value: float,
                    split: str = "test") -> bool:
    metric = _last(history, f"{split}_metric")
    return metric is not None and metric >= value


def loss_below(history: History, stopped: str | None, value: float,
               split: str = "test") -> bool:
    loss = _last(history, f"{split}_loss")
    return loss is not None and loss < value


def metric_stays_below(history: History, stopped: str | None, value: float,
                       epochs: int, split: str = "test") -> bool:
    """Stuck: after ``epochs`` epochs the metric is still below ``value``."""
    metric = _last(history, f"{split}_metric")
    return metric is not None and _epochs_seen(history) >= epochs and metric < value


def loss_stays_above(history: History, stopped: str | None, value: float,
                     epochs: int, split: str = "train") -> bool:
    """Crawling: after ``epochs`` epochs the loss is still above ``value``."""
    loss = _last(history, f"{split}_loss")
    return loss is not None and _epochs_seen(history) >= epochs and loss > value


def diverged(history: History, stopped: str | None, rise: float = 2.0,
             jump: float = 0.1) -> bool:
    """The trainer gave up on infinite numbers, or the training loss now is ``rise``
    times its lowest and ``jump`` above it (the ratio alone would flag noise near 0)."""
    if stopped and stopped.startswith("Diverged"):
        return True
    losses = history.columns["train_loss"]
    loss = _last(history, "train_loss")
    if loss is None or not losses:
        return False
    lowest = min(losses)
    return not math.isfinite(loss) or (loss >= rise * lowest and loss - lowest >= jump)


def overfitting(history: History, stopped: str | None, margin: float = 0.2) -> bool:
    """The test loss is ``margin`` above its lowest while the training loss is below
    where it was then: the network learns the training points, not the pattern."""
    test, train = history.columns["test_loss"], history.columns["train_loss"]
    test_now, train_now = _last(history, "test_loss"), _last(history, "train_loss")
    if not test or test_now is None or train_now is None:
        return False
    best = min(range(len(test)), key=test.__getitem__)
    return test_now >= (1 + margin) * test[best] and train_now < train[best]


def near_best_test_loss(history: History, stopped: str | None, epochs: int = 100,
                        margin: float = 0.1) -> bool:
    """After ``epochs`` epochs the test loss is within ``margin`` of its best: it no
    longer climbs away from it as an overfitting network's does."""
    test, now = history.columns["test_loss"], _last(history, "test_loss")
    return (now is not None and bool(test) and _epochs_seen(history) >= epochs
            and now <= (1 + margin) * min(test))


def vanishing_gradients(history: History, stopped: str | None, ratio: float = 0.1,
                        loss_above: float = 0.5) -> bool:
    """The loss is stuck above ``loss_above`` and the first layer's gradient is under
    ``ratio`` times the last layer's (a trained net's gradients shrink too: hence both)."""
    norms = (history.last or {}).get("grad_norms") or ()
    loss = _last(history, "train_loss")
    return (len(norms) >= 2 and loss is not None and loss > loss_above
            and norms[0] < ratio * norms[-1])


def stopped_early(history: History, stopped: str | None) -> bool:
    return bool(stopped and stopped.startswith("Stopped early"))


def _over_runs(check: Callable[..., bool]) -> Callable[..., bool]:
    """A check of one run as a check of several: any of them, or ``every`` one."""
    def over(runs: Sequence[Run], every: bool = False, **args: object) -> bool:
        results = [check(history, stopped, **args) for history, stopped in runs]
        return bool(results) and (all(results) if every else any(results))
    over.run_check = check  # type: ignore[attr-defined]  # its arguments, for loading
    return over


CHECKS: dict[str, Callable[..., bool]] = {fn.__name__: _over_runs(fn) for fn in (
    metric_at_least, loss_below, metric_stays_below, loss_stays_above, diverged, overfitting,
    near_best_test_loss, vanishing_gradients, stopped_early)}


def check_passed(check: Check, runs: Sequence[Run]) -> bool:
    if check.member is not None and len(runs) > 1:
        runs = runs[check.member:check.member + 1]
    return CHECKS[check.kind](runs, every=check.every, **check.args)


def runs_since(runs: Sequence[Run], epoch: int) -> list[Run]:
    """Each run's rows from ``epoch`` on (when a step began: that row is the baseline a
    change is measured against), or all of them when the run restarted (it is behind)."""
    trimmed = []
    for history, stopped in runs:
        if not history.last or history.last["epoch"] < epoch or epoch <= 0:
            trimmed.append((history, stopped))
            continue
        part = History(history.max_rows)
        part.extend(history.since(epoch - 1))
        part.last = history.last
        trimmed.append((part, stopped))
    return trimmed
