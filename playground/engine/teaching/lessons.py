"""Guided lessons: small TOML files in ``assets/lessons/``, read into data, never code.

A lesson file holds a title, two or three paragraphs, the URL params it starts from
(``params``), optionally a race (``race = "activation:sigmoid,tanh"``) or the classical
comparison (``classical = true``), its steps and a closing ``challenge`` (an open target
with its own text, and optionally a check).

A step has a task (``text``); optionally the params it sets (``set``, what the page's
"Do it" button applies; ``reset = true``: and starts training again); what the learner
does by hand (``by_hand``: weights scaled, e.g. ``{ layer = 0, to = 0, from = 0,
scale = -1 }``, which the tests do for them); the control experiment the tests run
with the step's idea left out (``without``: the settings that stay, e.g. a cure's
start again without the cure; by default none of ``set``); a question to answer before running
(``question`` with 2-4 ``choices`` and the number of the right one, ``answer``); the
outcome sentence the page reveals with the answer (``outcome``); and live checks
(``check = {...}`` or ``checks = [{...}, ...]``). A check has a kind from ``CHECKS``
with its arguments, a sentence for the learner, ``all`` (a race passes only when every
member does; by default one is enough), ``member`` (the race member it is about, by its
value), ``then`` (watched once the step's previous check is met), ``against`` (a
comparison's earlier run: the run as it was before that step, by its number; default:
this step) and ``within`` (the epochs a fresh run of the step gets to reach it: the
tests' bound, and what the page says the check may take).

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
CHOICES = (2, 4)  # a question's choices, fewest and most


class LessonError(ValueError):
    """A lesson file that cannot be used, in one sentence naming the file."""


@dataclass(frozen=True)
class Question:
    prompt: str
    choices: tuple[str, ...]
    answer: int  # the right choice's place (0-based)


@dataclass(frozen=True)
class HandEdit:
    """A weight or bias the learner changes by hand on the drawing (``value * scale``)."""

    kind: str  # "weight" or "bias"
    layer: int
    to: int
    frm: int = 0
    scale: float = -1.0


@dataclass(frozen=True)
class Step:
    text: str
    set: Mapping[str, str] = field(default_factory=dict)  # params the "Do it" button applies
    checks: tuple[Check, ...] = ()
    reset: bool = False  # "Do it" also starts training again: a cure tried from the start
    question: Question | None = None
    outcome: str | None = None  # revealed with the answer, once the checks are met
    by_hand: tuple[HandEdit, ...] = ()
    # the control experiment: the settings that stay when the step's idea is left out
    # (a cure tried from the same start without the cure); by default none of ``set``
    without: Mapping[str, str] | None = None

    @property
    def within(self) -> int:
        """The epochs the step's checks may take (the longest of them)."""
        return max((c.within for c in self.checks), default=0)


@dataclass(frozen=True)
class Challenge:
    text: str
    checks: tuple[Check, ...] = ()


@dataclass(frozen=True)
class Lesson:
    id: str  # the ``?lesson=`` name
    number: int
    title: str
    paragraphs: tuple[str, ...]
    params: Mapping[str, str]  # the start, as URL params
    steps: tuple[Step, ...]
    race: str | None = None  # "field:v1,v2,...", as the page's ``race=``
    classical: bool = False  # show the classical models beside the network
    challenge: Challenge | None = None

    @property
    def file_name(self) -> str:
        """The file's own name without ``.toml`` (``01-neuron``): a link may use it too."""
        return f"{self.number:02d}-{self.id}"


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


def _check(table: object, where: str, race: str | None, step: int) -> Check:
    if not isinstance(table, dict) or not isinstance(table.get("text"), str):
        raise LessonError(f"{where}: a check needs a kind and a text.")
    args = dict(table)
    kind, text = args.pop("kind", None), args.pop("text")
    every, within = bool(args.pop("all", False)), int(args.pop("within", DEFAULT_WITHIN))
    then, against = bool(args.pop("then", False)), args.pop("against", None)
    member = args.pop("member", None)
    if kind not in CHECKS:
        raise LessonError(f"{where}: unknown check kind {kind!r}; use one of {', '.join(CHECKS)}.")
    scope = CHECKS[kind].scope
    if member is not None:
        member = _member_index(member, race, where)
    elif scope == "race":
        raise LessonError(f"{where}: the {kind} check compares race members: name one "
                          "with member.")
    if against is not None:
        if scope != "before" or not isinstance(against, int) or not 1 <= against <= step + 1:
            raise LessonError(f"{where}: against names an earlier step (by its number) for "
                              "a comparison with the run before it.")
        against -= 1
    placeholders = {"run": (None, None), "before": (None, None, None), "race": (None,)}[scope]
    try:
        inspect.signature(CHECKS[kind].test).bind(*placeholders, **args,
                                                  **({"member": 0} if scope == "race" else {}))
    except TypeError as error:
        raise LessonError(f"{where}: the {kind} check does not take these arguments "
                          f"({error}).") from None
    if within < int(args.get("epochs", 0)):
        raise LessonError(f"{where}: within must leave room for the check's epochs.")
    return Check(kind, text, args, every, within, member, then, against)


def _checks(table: dict, where: str, race: str | None, step: int) -> tuple[Check, ...]:
    if "check" in table and "checks" in table:
        raise LessonError(f"{where}: give check or checks, not both.")
    items = [table["check"]] if "check" in table else table.get("checks", [])
    if not isinstance(items, list):
        raise LessonError(f"{where}: checks must be a list of checks.")
    checks = tuple(_check(item, where, race, step) for item in items)
    if checks and checks[0].then:
        raise LessonError(f"{where}: the first check has no previous one to follow (then).")
    return checks


def _question(table: dict, where: str) -> Question | None:
    if "question" not in table:
        if {"choices", "answer"} & set(table):
            raise LessonError(f"{where}: choices and an answer need a question.")
        return None
    prompt, choices, answer = table["question"], table.get("choices"), table.get("answer")
    if not isinstance(prompt, str) or not isinstance(choices, list) or not all(
            isinstance(c, str) and c for c in choices):
        raise LessonError(f"{where}: a question is a text with a list of choices.")
    if not CHOICES[0] <= len(choices) <= CHOICES[1]:
        raise LessonError(f"{where}: give a question {CHOICES[0]} to {CHOICES[1]} choices.")
    if not isinstance(answer, int) or isinstance(answer, bool) or not 1 <= answer <= len(
            choices):
        raise LessonError(f"{where}: answer is the number of the right choice (1 to "
                          f"{len(choices)}).")
    return Question(prompt, tuple(choices), answer - 1)


def _hand_edits(items: object, where: str) -> tuple[HandEdit, ...]:
    if not isinstance(items, list):
        raise LessonError(f"{where}: by_hand is a list of edits.")
    edits = []
    for item in items:
        try:
            edits.append(HandEdit(str(item.get("kind", "weight")), int(item["layer"]),
                                  int(item["to"]), int(item.get("from", 0)),
                                  float(item.get("scale", -1.0))))
        except (AttributeError, KeyError, TypeError, ValueError):
            raise LessonError(f"{where}: a hand edit names its layer, to (and from) and "
                              "scale.") from None
        if edits[-1].kind not in ("weight", "bias"):
            raise LessonError(f"{where}: a hand edit changes a weight or a bias.")
    return tuple(edits)


STEP_FIELDS = {"text", "set", "check", "checks", "reset", "question", "choices", "answer",
               "outcome", "by_hand", "without"}


def _step(table: object, where: str, race: str | None, index: int) -> Step:
    if not isinstance(table, dict) or not isinstance(table.get("text"), str):
        raise LessonError(f"{where} needs a text.")
    unknown = set(table) - STEP_FIELDS
    if unknown:
        raise LessonError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}.")
    checks = _checks(table, where, race, index)
    question = _question(table, where)
    outcome = table.get("outcome")
    if outcome is not None and not isinstance(outcome, str):
        raise LessonError(f"{where}: the outcome is a sentence.")
    without = (_params(table["without"], f"{where}.without") if "without" in table
               else None)
    return Step(table["text"], _params(table.get("set", {}), f"{where}.set"), checks,
                bool(table.get("reset", False)), question, outcome,
                _hand_edits(table.get("by_hand", []), where), without)


def _challenge(table: object, where: str, race: str | None, steps: int) -> Challenge | None:
    if table is None:
        return None
    if not isinstance(table, dict) or not isinstance(table.get("text"), str):
        raise LessonError(f"{where} needs a text.")
    unknown = set(table) - {"text", "check", "checks"}
    if unknown:
        raise LessonError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}.")
    return Challenge(table["text"], _checks(table, where, race, steps))


LESSON_FIELDS = {"title", "paragraphs", "params", "steps", "race", "classical", "challenge"}


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
    steps = tuple(_step(s, f"{path.name} step {i + 1}", race, i)
                  for i, s in enumerate(data["steps"]))
    lesson = Lesson(lesson_id, int(number), str(data["title"]),
                    tuple(str(p) for p in data["paragraphs"]),
                    _params(data["params"], f"{path.name} params"), steps,
                    race, bool(data.get("classical", False)),
                    _challenge(data.get("challenge"), f"{path.name} challenge", race,
                               len(steps)))
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


def find_lesson(name: str | None, lessons: Mapping[str, Lesson] | None = None) -> Lesson | None:
    """The lesson a link names: by its id (``neuron``) or its file's name (``01-neuron``,
    ``01-neuron.toml``), in any case; None when there is no such lesson."""
    lessons = LESSONS if lessons is None else lessons
    key = (name or "").strip().lower().removesuffix(".toml")
    return next((lesson for lesson in lessons.values()
                 if key in (lesson.id, lesson.file_name)), None)


def lessons_sentence(lessons: Mapping[str, Lesson] | None = None) -> str:
    """The lessons there are, in one sentence (for a link naming none of them)."""
    lessons = LESSONS if lessons is None else lessons
    return "The lessons are " + "; ".join(f"{lesson.id} ({lesson.title})"
                                          for lesson in lessons.values()) + "."


LESSONS: dict[str, Lesson] = load_lessons()
