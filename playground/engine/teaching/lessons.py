"""Guided lessons: small TOML files in ``assets/lessons/``, read into data, never code.

A lesson file holds a title, two or three paragraphs, the URL params it starts from
(``params``), optionally a race (``race = "activation:sigmoid,tanh"``) or the classical
comparison (``classical = true``), and its steps. A step has a text, optionally the
params it sets (``set``, what the page's "Do it" button applies; ``reset = true``: and
starts training again) and optionally a live check: a kind from ``CHECKS`` with its
arguments, a sentence for the learner, ``all`` (a race passes only when every member
does; by default one is enough), ``member`` (only this race member counts) and
``within`` (the epochs a fresh run of the step gets to reach it: the tests' bound).

The checks themselves are in ``lesson_checks.py``. Files are checked when they load,
so a broken one names itself at start-up instead of failing in front of a class.
"""

from __future__ import annotations

import inspect
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from playground.engine.config.config import Config
from playground.engine.config.text import param_text
from playground.engine.teaching.lesson_checks import CHECKS, DEFAULT_WITHIN, Check
from playground.engine.teaching.study import Study, StudyError, race_configs
from playground.engine.teaching.study import race as parse_race

LESSON_DIR = Path(__file__).resolve().parents[3] / "assets" / "lessons"


class LessonError(ValueError):
    """A lesson file that cannot be used, in one sentence naming the file."""


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
def _params(table: object, where: str) -> dict[str, str]:
    if not isinstance(table, dict):
        raise LessonError(f"{where} must be a table of settings.")
    params = {}
    for key, value in table.items():
        text = param_text(value)
        if text is None:
            raise LessonError(f"{where}: {key} must be a string, a number, a boolean or a "
                              "list of them.")
        params[str(key)] = text
    return params


def _member_index(member: object, spec: str | None, where: str) -> int:
    """The place in the race of the member a check names by its value (written as the
    race's legends write it: ``Study.value_text``)."""
    try:
        values = [Study.value_text(v) for v in parse_race(spec).values] if spec else []
    except StudyError as error:
        raise LessonError(f"{where}: {error}") from None
    if str(member) not in values:
        raise LessonError(f"{where}: member {member!r} is not one of the lesson's race.")
    return values.index(str(member))


def _check(table: object, where: str, race: str | None) -> Check:
    if not isinstance(table, dict) or not isinstance(table.get("text"), str):
        raise LessonError(f"{where}: a check needs a kind and a text.")
    args = dict(table)
    kind, text = args.pop("kind", None), args.pop("text")
    every, within = bool(args.pop("all", False)), int(args.pop("within", DEFAULT_WITHIN))
    member = args.pop("member", None)
    if member is not None:
        member = _member_index(member, race, where)
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
