"""Guided lessons: small TOML files in ``assets/lessons/``, read into data, never code.

A lesson file holds a title, two or three paragraphs, the URL params it starts from
(``params``), optionally a race (``race = "activation:sigmoid,tanh"``) or the classical
comparison (``classical = true``), and its steps. A step has a text, optionally the
params it sets (``set``, what the page's "Do it" button applies; ``reset = true``: and
starts training again) and optionally a live check: a kind from ``CHECKS`` with its
arguments, a sentence for the learner, ``all`` (a race passes only when every member
does; by default one is enough), ``member`` (only this race member counts) and
``within`` (the epochs a fresh run of the step gets to reach it: the tests' bound).

A check looks at runs: one (History, stopped) pair per race member, or one for a
single session. Files are checked when they load, so a broken one names itself at
start-up instead of failing in front of a class.
"""

from __future__ import annotations

import inspect
import math
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from playground.engine.config import Config
from playground.engine.history import History
from playground.engine.study import StudyError, race_configs

LESSON_DIR = Path(__file__).resolve().parents[2] / "assets" / "lessons"
Run = tuple[History, str | None]  # a run's history, and why it stopped by itself (or None)
DEFAULT_WITHIN = 300  # epochs


class LessonError(ValueError):
    """A lesson file that cannot be used, in one sentence naming the file."""


@dataclass(frozen=True)
class Check:
    kind: str  # a key of CHECKS
    text: str  # what the learner is waiting for, e.g. "Test accuracy ≥ 95 %"
    args: Mapping[str, object] = field(default_factory=dict)
    every: bool = False  # a race passes only when all its members pass
    within: int = DEFAULT_WITHIN
    member: int | None = None  # only this race member counts (its place in the race)


@dataclass(frozen=True)
class Step:
    text: str
    set: Mapping[str, str] = field(default_factory=dict)  # params the "Do it" button applies
    check: Check | None = None
    reset: bool = False  # "Do it" also starts training again: a cure tried from the start


@dataclass(frozen=True)
class Lesson:
    id: str  # the ``?lesson=`` name
    number: int
    title: str
    paragraphs: tuple[str, ...]
    params: Mapping[str, str]  # the start, as URL params
    steps: tuple[Step, ...]
    race: str | None = None  # "field:v1,v2,...", as the page's ``race=``
    classical: bool = False  # show scikit-learn's logistic regression beside the network


# -- checks: each takes one run and returns whether it shows what the step asks for -------
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


# -- configs -------------------------------------------------------------------------------
def lesson_params(lesson: Lesson, step: int | None = None) -> dict[str, str]:
    """The start's URL params, with every step's ``set`` up to ``step`` applied."""
    params = dict(lesson.params)
    for s in lesson.steps[:0 if step is None else step + 1]:
        params.update(s.set)
    return params


def lesson_config(lesson: Lesson, step: int | None = None) -> Config:
    """The Config of the start, or after the steps up to ``step`` (checked at load)."""
    return Config.from_params(lesson_params(lesson, step))[0]


# -- loading -------------------------------------------------------------------------------
def _param_text(value: object) -> str:
    """A TOML value as URL text: lists with commas, booleans as 1/0."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list):
        return ",".join(_param_text(v) for v in value)
    return str(value)


def _params(table: object, where: str) -> dict[str, str]:
    if not isinstance(table, dict):
        raise LessonError(f"{where} must be a table of settings.")
    return {str(key): _param_text(value) for key, value in table.items()}


def race_values(spec: str) -> list[str]:
    """The members' values of a race spec as written (``hidden:4;4,4`` splits on ``;``)."""
    text = spec.partition(":")[2]
    return [v.strip() for v in text.split(";" if ";" in text else ",") if v.strip()]


def _check(table: object, where: str, race: str | None) -> Check:
    if not isinstance(table, dict) or not isinstance(table.get("text"), str):
        raise LessonError(f"{where}: a check needs a kind and a text.")
    args = dict(table)
    kind, text = args.pop("kind", None), args.pop("text")
    every, within = bool(args.pop("all", False)), int(args.pop("within", DEFAULT_WITHIN))
    member = args.pop("member", None)
    if member is not None:
        if not race or str(member) not in race_values(race):
            raise LessonError(f"{where}: member {member!r} is not one of the lesson's race.")
        member = race_values(race).index(str(member))
    if kind not in CHECKS:
        raise LessonError(f"{where}: unknown check kind {kind!r}; use one of {', '.join(CHECKS)}.")
    try:
        inspect.signature(CHECKS[kind].run_check).bind(None, None, **args)
    except TypeError as error:
        raise LessonError(f"{where}: the {kind} check does not take these arguments "
                          f"({error}).") from None
    if within < int(args.get("epochs", 0)):
        raise LessonError(f"{where}: within must leave room for the check's epochs.")
    return Check(kind, text, args, every, within, member)


def _step(table: object, where: str, race: str | None) -> Step:
    if not isinstance(table, dict) or not isinstance(table.get("text"), str):
        raise LessonError(f"{where} needs a text.")
    unknown = set(table) - {"text", "set", "check", "reset"}
    if unknown:
        raise LessonError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}.")
    check = _check(table["check"], where, race) if "check" in table else None
    return Step(table["text"], _params(table.get("set", {}), f"{where}.set"), check,
                bool(table.get("reset", False)))


LESSON_FIELDS = {"title", "paragraphs", "params", "steps", "race", "classical"}


def parse_lesson(path: Path) -> Lesson:
    """One lesson file, checked: its fields, its checks and every step's Config."""
    number, _, lesson_id = path.stem.partition("-")
    if not number.isdigit() or not lesson_id:
        raise LessonError(f"{path.name}: name lesson files NN-<id>.toml.")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise LessonError(f"{path.name} cannot be read: {error}.") from None
    unknown = set(data) - LESSON_FIELDS
    missing = {"title", "paragraphs", "params", "steps"} - set(data)
    if unknown or missing:
        raise LessonError(f"{path.name}: unknown fields {sorted(unknown)}, "
                          f"missing fields {sorted(missing)}.")
    race = data.get("race")
    steps = tuple(_step(s, f"{path.name} step {i + 1}", race)
                  for i, s in enumerate(data["steps"]))
    lesson = Lesson(lesson_id, int(number), str(data["title"]),
                    tuple(str(p) for p in data["paragraphs"]),
                    _params(data["params"], f"{path.name} params"), steps,
                    race, bool(data.get("classical", False)))
    for step in (None, *range(len(steps))):
        config, warnings = Config.from_params(lesson_params(lesson, step))
        if warnings:
            at = "the start" if step is None else f"step {step + 1}"
            raise LessonError(f"{path.name}, {at}: {' '.join(warnings)}")
        if lesson.race:
            try:
                race_configs(config, lesson.race)
            except StudyError as error:
                raise LessonError(f"{path.name}: {error}") from None
    return lesson


def load_lessons(directory: Path = LESSON_DIR) -> dict[str, Lesson]:
    """Every lesson in the directory, in the order of their numbers."""
    lessons = [parse_lesson(path) for path in sorted(directory.glob("*.toml"))]
    return {lesson.id: lesson for lesson in sorted(lessons, key=lambda x: x.number)}


LESSONS: dict[str, Lesson] = load_lessons()
