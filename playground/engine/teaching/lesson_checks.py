"""A lesson step's live checks: what they ask of the runs, and whether the runs show it.

A check looks at runs: one (History, stopped) pair per race member, or one for a
single session. The kinds in ``CHECKS`` come in three scopes:

- ``run``: a test of one run, lifted to several (a race passes when any member does,
  or only when ``every`` one does, or when its ``member`` does);
- ``before``: a run against the run as it was before the step (the same member's):
  a cure must beat the un-cured run, not a fixed number;
- ``race``: the members against each other (sigmoid comes last).

Lesson files name the kinds (``lessons.py`` reads them); the lesson panel watches them.
"""

from __future__ import annotations

import math
from bisect import bisect_right
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
    within: int = DEFAULT_WITHIN  # epochs a fresh run of the step gets (the tests' bound)
    member: int | None = None  # the race member it is about (its place in the race)
    then: bool = False  # watched only once the step's previous check is met, from then on
    against: int | None = None  # comparisons: the step (0-based) whose "before" run counts


# -- reading a history --------------------------------------------------------------------
def _last(history: History, key: str) -> float | None:
    value = (history.last or {}).get(key)
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _epochs_seen(history: History) -> int:
    """Epochs the history covers (since its first row, which may follow a step's start)."""
    rows = history.columns["epoch"]
    return history.last["epoch"] - rows[0] + 1 if history.last and rows else 0


def _at_epoch(history: History, key: str, epoch: int) -> float | None:
    """The value of the newest kept row at or before ``epoch`` (the last one when the
    history ends earlier); None for an empty history."""
    epochs = history.columns["epoch"]
    if not epochs:
        return _last(history, key)
    value = history.columns[key][max(0, bisect_right(epochs, epoch) - 1)]
    return value if isinstance(value, int | float) else None


# -- run: each takes one run and returns whether it shows what the step asks for -------------
def metric_at_least(history: History, stopped: str | None, value: float,
                    split: str = "test") -> bool:
    metric = _last(history, f"{split}_metric")
    return metric is not None and metric >= value


def loss_below(history: History, stopped: str | None, value: float,
               split: str = "test") -> bool:
    loss = _last(history, f"{split}_loss")
    return loss is not None and loss < value


def metric_stays_below(history: History, stopped: str | None, value: float,
                       epochs: int = 0, split: str = "test") -> bool:
    """Stuck: after ``epochs`` epochs the metric is still below ``value`` (with 0 epochs:
    it is below now, as right after a weight typed in by hand)."""
    metric = _last(history, f"{split}_metric")
    return metric is not None and _epochs_seen(history) >= epochs and metric < value


def loss_stays_above(history: History, stopped: str | None, value: float,
                     epochs: int, split: str = "train") -> bool:
    """Crawling: after ``epochs`` epochs the loss is still above ``value``."""
    loss = _last(history, f"{split}_loss")
    return loss is not None and _epochs_seen(history) >= epochs and loss > value


def loss_settled(history: History, stopped: str | None, epochs: int, window: int = 100,
                 change: float = 0.02, split: str = "train") -> bool:
    """Converged: after ``epochs`` epochs the loss moved less than ``change`` (a share of
    it) over the last ``window`` epochs."""
    now, epoch = _last(history, f"{split}_loss"), (history.last or {}).get("epoch", 0)
    then = _at_epoch(history, f"{split}_loss", epoch - window)
    return (now is not None and then is not None and _epochs_seen(history) >= max(epochs,
                                                                                  window)
            and abs(now - then) <= change * then)


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


def overfitting(history: History, stopped: str | None, margin: float = 0.2,
                epochs: int = 0) -> bool:
    """After ``epochs`` epochs the test loss is ``margin`` above its lowest while the
    training loss is below where it was then: the network learns the training points,
    not the pattern."""
    test, train = history.columns["test_loss"], history.columns["train_loss"]
    test_now, train_now = _last(history, "test_loss"), _last(history, "train_loss")
    if not test or test_now is None or train_now is None or _epochs_seen(history) < epochs:
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


def stopped_early(history: History, stopped: str | None, margin: float = 0.0) -> bool:
    """Early stopping stopped the run and its weights are the best it saw: the
    validation loss now is (within ``margin``) the lowest of the run."""
    if not (stopped and stopped.startswith("Stopped early")):
        return False
    now = _last(history, "val_loss")
    seen = [v for v in history.columns["val_loss"] if isinstance(v, int | float)]
    return now is not None and bool(seen) and now <= (1 + margin) * min(seen) + 1e-12


def weights_near_zero(history: History, stopped: str | None, share: float) -> bool:
    """At least ``share`` of the weights are within 0.01 of zero (history.NEAR_ZERO)."""
    near = _last(history, "near_zero")
    return near is not None and near >= share


# -- before: a run against the same member's run before the step ---------------------------
def loss_below_before(history: History, stopped: str | None, before: History,
                      epochs: int = 0, margin: float = 0.0, split: str = "test",
                      same_epoch: bool = True) -> bool:
    """After ``epochs`` epochs the loss is ``margin`` below the earlier run's at the same
    epoch (or at its last, when the earlier run stopped sooner; or, ``same_epoch =
    false``, below where the earlier run ended)."""
    now, epoch = _last(history, f"{split}_loss"), (history.last or {}).get("epoch", 0)
    then = (_at_epoch(before, f"{split}_loss", epoch) if same_epoch
            else _last(before, f"{split}_loss"))
    return (now is not None and then is not None and _epochs_seen(history) >= epochs
            and now < (1 - margin) * then)


def metric_above_before(history: History, stopped: str | None, before: History,
                        epochs: int = 0, margin: float = 0.0, split: str = "test") -> bool:
    """After ``epochs`` epochs the metric is ``margin`` above the earlier run's at the
    same epoch."""
    now, epoch = _last(history, f"{split}_metric"), (history.last or {}).get("epoch", 0)
    then = _at_epoch(before, f"{split}_metric", epoch)
    return (now is not None and then is not None and _epochs_seen(history) >= epochs
            and now > then + margin)


def metric_below_before(history: History, stopped: str | None, before: History,
                        epochs: int = 0, margin: float = 0.0, split: str = "test") -> bool:
    """After ``epochs`` epochs the metric is ``margin`` below the earlier run's at the
    same epoch: slower, or worse, than before the step."""
    now, epoch = _last(history, f"{split}_metric"), (history.last or {}).get("epoch", 0)
    then = _at_epoch(before, f"{split}_metric", epoch)
    return (now is not None and then is not None and _epochs_seen(history) >= epochs
            and now < then - margin)


# -- race: the members against each other ---------------------------------------------------
def member_last(runs: Sequence[Run], member: int, epochs: int = 0,
                key: str = "test_loss") -> bool:
    """After ``epochs`` epochs the member is the worst of the race: the highest loss (or
    the lowest metric, for a metric key), by a clear margin of 1 %."""
    values = [_last(history, key) for history, _ in runs]
    if len(runs) < 2 or any(v is None for v in values) or not 0 <= member < len(runs):
        return False
    if any(_epochs_seen(history) < epochs for history, _ in runs):
        return False
    worse = (lambda a, b: a > b * 1.01) if "loss" in key else (lambda a, b: a < b - 0.01)
    return all(worse(values[member], v) for i, v in enumerate(values) if i != member)


def member_best(runs: Sequence[Run], member: int, epochs: int = 0,
                key: str = "test_loss") -> bool:
    """After ``epochs`` epochs the member is the best of the race (the lowest loss, or the
    highest metric), by a clear margin of 1 %."""
    values = [_last(history, key) for history, _ in runs]
    if len(runs) < 2 or any(v is None for v in values) or not 0 <= member < len(runs):
        return False
    if any(_epochs_seen(history) < epochs for history, _ in runs):
        return False
    better = (lambda a, b: a < b * 0.99) if "loss" in key else (lambda a, b: a > b + 0.01)
    return all(better(values[member], v) for i, v in enumerate(values) if i != member)


def _rises(history: History, key: str, window: int) -> float:
    """How much the curve went up, summed over its last ``window`` rows: a smooth descent
    adds nothing, a noisy one adds every upward jolt."""
    values = [v for v in history.columns[key][-window:] if isinstance(v, int | float)]
    return sum(max(0.0, b - a) for a, b in zip(values, values[1:]))


def member_noisiest(runs: Sequence[Run], member: int, epochs: int = 0, window: int = 50,
                    key: str = "train_loss") -> bool:
    """After ``epochs`` epochs the member's curve jolts up the most over the last
    ``window`` epochs: at least twice as much as any other member's."""
    if len(runs) < 2 or not 0 <= member < len(runs):
        return False
    if any(_epochs_seen(history) < max(epochs, 2) for history, _ in runs):
        return False
    rises = [_rises(history, key, window) for history, _ in runs]
    return rises[member] > 0 and all(rises[member] >= 2 * r for i, r in enumerate(rises)
                                     if i != member)


@dataclass(frozen=True)
class Kind:
    test: Callable[..., bool]
    scope: str  # "run", "before" or "race"
    reads: str | None = None  # the history key the panel shows live beside the check


CHECKS: dict[str, Kind] = {
    "metric_at_least": Kind(metric_at_least, "run", "{split}_metric"),
    "loss_below": Kind(loss_below, "run", "{split}_loss"),
    "metric_stays_below": Kind(metric_stays_below, "run", "{split}_metric"),
    "loss_stays_above": Kind(loss_stays_above, "run", "{split}_loss"),
    "loss_settled": Kind(loss_settled, "run", "{split}_loss"),
    "diverged": Kind(diverged, "run", "train_loss"),
    "overfitting": Kind(overfitting, "run", "test_loss"),
    "near_best_test_loss": Kind(near_best_test_loss, "run", "test_loss"),
    "vanishing_gradients": Kind(vanishing_gradients, "run", "train_loss"),
    "stopped_early": Kind(stopped_early, "run", "val_loss"),
    "weights_near_zero": Kind(weights_near_zero, "run", "near_zero"),
    "loss_below_before": Kind(loss_below_before, "before", "{split}_loss"),
    "metric_above_before": Kind(metric_above_before, "before", "{split}_metric"),
    "metric_below_before": Kind(metric_below_before, "before", "{split}_metric"),
    "member_last": Kind(member_last, "race", "{key}"),
    "member_best": Kind(member_best, "race", "{key}"),
    "member_noisiest": Kind(member_noisiest, "race", None),
}
DEFAULT_SPLIT = {"metric_at_least": "test", "loss_below": "test", "metric_stays_below": "test",
                 "loss_stays_above": "train", "loss_settled": "train",
                 "loss_below_before": "test",
                 "metric_above_before": "test", "metric_below_before": "test"}


def check_args(kind: str) -> Callable[..., bool]:
    """The test whose signature says which arguments a lesson file may give the kind."""
    return CHECKS[kind].test


def check_passed(check: Check, runs: Sequence[Run],
                 before: Sequence[Run] | None = None) -> bool:
    """Whether the runs show what the check asks; ``before`` are the runs as they were
    before the step (the same members), which a comparison needs (without: not met)."""
    kind = CHECKS[check.kind]
    if kind.scope == "race":
        return bool(runs) and kind.test(runs, member=check.member or 0, **check.args)
    pairs = list(zip(runs, before or [(None, None)] * len(runs))) if kind.scope == "before" \
        else [(run, (None, None)) for run in runs]
    if check.member is not None and len(runs) > 1:
        pairs = pairs[check.member:check.member + 1]
    results = []
    for (history, stopped), (earlier, _) in pairs:
        if kind.scope == "before":
            results.append(earlier is not None and kind.test(history, stopped, earlier,
                                                             **check.args))
        else:
            results.append(kind.test(history, stopped, **check.args))
    return bool(results) and (all(results) if check.every else any(results))


def reading(check: Check, runs: Sequence[Run]) -> float | None:
    """The number the check watches, now (for the panel: "now 87 %"): of its member, or
    of a single run; None for a race without a member or before any epoch."""
    spec = CHECKS[check.kind].reads
    if spec is None or not runs or (len(runs) > 1 and check.member is None):
        return None
    key = spec.format(split=check.args.get("split", DEFAULT_SPLIT.get(check.kind, "test")),
                      key=check.args.get("key", "test_loss"))
    history, _ = runs[check.member if len(runs) > 1 else 0]
    return _last(history, key)


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
