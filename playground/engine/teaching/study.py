"""Races and sweeps: several Configs from one start, trained side by side.

A race runs two to eight variants of one experiment that differ in one knob (one per
optimizer, per activation, per learning rate, ...); a sweep trains 8 to 32 values of
one hyperparameter over a range for a fixed number of epochs and plots where each
ended. Members share the base Config's seeds, and its data unless the knob is a data
setting, so every member whose network has the same shape starts from the same
initial weights.

A ``Study`` is the URL form (``race=optimizer:sgd,adam`` or ``sweep=learning_rate:
0.0001..10`` with ``sweep_n`` and ``sweep_epochs``); a ``Cohort`` trains its members in
lockstep, each same-shaped subset as one batched Group, so a sweep over the learning
rate costs about what one session does (``make bench``); against the server's cap it
still counts as one session per member.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from playground.engine.config.config import Config, ConfigError, field_problem, parse_field
from playground.engine.config.limits import LIMITS, Limits
from playground.engine.config.text import format_value, plain_number, shorten

RACE_SIZE = (2, 8)
SWEEP_SIZE = (8, 32)
SWEEP_EPOCHS = (10, 5000)
DEFAULT_SWEEP = {"sweep_n": 16, "sweep_epochs": 300}
STUDY_PARAMS = ("race", "sweep", "sweep_n", "sweep_epochs")  # the URL's study part


@dataclass(frozen=True)
class Sweepable:
    """A knob a sweep can vary: how its values spread, and how one is set."""

    title: str
    log: bool  # values spread evenly on a log scale
    integer: bool
    lo: float  # the widest range a sweep may ask for
    hi: float
    start: tuple[float, float]  # the range the page offers first
    apply: Callable[[Config, float], Config]


def _field(name: str) -> Callable[[Config, float], Config]:
    return lambda c, v: c.replace(**{name: v})


def _penalty(c: Config, v: float) -> Config:
    # a rate with no penalty means nothing: sweeping it turns L2 on
    return c.replace(reg_rate=v, regularization="l2" if c.regularization == "none"
                     else c.regularization)


SWEEPS: dict[str, Sweepable] = {
    "learning_rate": Sweepable("learning rate", True, False, 1e-5, 10.0, (1e-4, 10.0),
                               _field("learning_rate")),
    "reg_rate": Sweepable("regularization rate", True, False, 1e-5, 10.0, (1e-4, 1.0), _penalty),
    "momentum": Sweepable("momentum", False, False, 0.0, 0.999, (0.0, 0.99),
                          _field("momentum")),
    "batch_size": Sweepable("batch size", True, True, 1, 2000, (1, 250), _field("batch_size")),
    "width": Sweepable("neurons per hidden layer", False, True, 1, 64, (1, 8),
                       lambda c, v: c.with_hidden((int(v),) * max(1, len(c.hidden)))),
    "depth": Sweepable("hidden layers", False, True, 0, 6, (0, 6),
                       lambda c, v: c.with_hidden((c.hidden[0] if c.hidden else 4,) * int(v))),
    "dropout": Sweepable("dropout rate", False, False, 0.0, 0.9, (0.0, 0.8),
                         lambda c, v: c.replace(dropout=(v,) * len(c.hidden))),
    "noise": Sweepable("noise (%)", False, True, 0, 50, (0, 50), _field("noise")),
    "train_ratio": Sweepable("training data (%)", False, True, 10, 90, (10, 90),
                             _field("train_ratio")),
    "n_points": Sweepable("number of points", True, True, 20, 2000, (50, 1000),
                          _field("n_points")),
}


class StudyError(ValueError):
    """A race or sweep that cannot be run, in one sentence."""


@dataclass(frozen=True)
class Study:
    kind: str  # "race" or "sweep"
    knob: str  # a Config field (race) or a SWEEPS name (sweep)
    values: tuple
    epochs: int | None = None  # a sweep's fixed length; a race runs until paused
    count: int | None = None  # the values a sweep asked for (whole numbers may give fewer)
    span: tuple[float, float] | None = None  # a sweep's range as asked for

    # -- members -----------------------------------------------------------------------
    def configs(self, base: Config, limits: Limits = LIMITS) -> list[Config]:
        """Every member's Config; StudyError if one is not a valid experiment."""
        members = []
        for value in self.values:
            config = self._member(base, value)
            try:
                config.validate(limits)
            except ConfigError as error:
                raise StudyError(f"{self.label(value)} is not possible here: {error}.") from None
            members.append(config)
        return members

    def _member(self, base: Config, value: object) -> Config:
        if self.kind == "sweep":
            return SWEEPS[self.knob].apply(base, value)
        if self.knob == "hidden":
            return base.with_hidden(value)
        if self.knob == "dataset":
            return base.with_dataset(value)
        return base.replace(**{self.knob: value})

    def label(self, value: object) -> str:
        """What tells this member apart, for legends: ``optimizer=adam``."""
        return f"{self.knob}={self.value_text(value)}"

    @staticmethod
    def value_text(value: object) -> str:
        return plain_number(value) if isinstance(value, float) else format_value(value)

    def labels(self) -> list[str]:
        return [self.label(v) for v in self.values]

    @property
    def title(self) -> str:
        if self.kind == "sweep":
            return f"Sweep of the {SWEEPS[self.knob].title} over {len(self.values)} values"
        return f"Race of {len(self.values)} {self.knob.replace('_', ' ')} settings"

    # -- URL form ----------------------------------------------------------------------
    def to_params(self) -> dict[str, str]:
        if self.kind == "race":
            texts = [format_value(v) for v in self.values]
            separator = ";" if any("," in t for t in texts) else ","
            return {"race": f"{self.knob}:{separator.join(texts)}"}
        lo, hi = self.span or (self.values[0], self.values[-1])
        return {"sweep": f"{self.knob}:{plain_number(lo)}..{plain_number(hi)}",
                "sweep_n": str(self.count), "sweep_epochs": str(self.epochs)}

    @classmethod
    def from_params(cls, params: Mapping[str, str | list[str]]) -> tuple[Study | None, str | None]:
        """The study a URL asks for (or None), and why it was ignored (or None)."""
        def get(key: str) -> str | None:
            raw = params.get(key)
            return raw[-1] if isinstance(raw, list) and raw else raw

        try:
            if get("race"):
                return race(str(get("race"))), None
            if get("sweep"):
                return sweep(str(get("sweep")), get("sweep_n"), get("sweep_epochs")), None
        except StudyError as error:
            return None, str(error)
        return None, None


def split_params(params: Mapping[str, str | list[str]]) -> tuple[dict, dict]:
    """(the Config's params, the study's params) of a URL."""
    config = {k: v for k, v in params.items() if k not in STUDY_PARAMS}
    study = {k: v for k, v in params.items() if k in STUDY_PARAMS}
    return config, study


def race(spec: str) -> Study:
    """``field:v1,v2,...``; members whose value is a list (``hidden:4;4,4``) by ``;``."""
    knob, _, text = spec.partition(":")
    knob = knob.strip()
    if knob not in Config.__dataclass_fields__ or not text:
        raise StudyError(f"Ignored race={shorten(spec)}: write it as a setting and its values, "
                         "e.g. race=optimizer:sgd,adam.")
    if Config.__dataclass_fields__[knob].metadata["effect"] == "display":
        raise StudyError(f"Ignored race={shorten(spec)}: {knob} only changes the picture.")
    separator = ";" if ";" in text else ","
    values = []
    for item in (t.strip() for t in text.split(separator) if t.strip()):
        try:
            value = parse_field(knob, item)
        except ValueError:
            raise StudyError(f"Ignored race: '{shorten(item)}' is not a value of {knob}.") from None
        if why := field_problem(knob, value):
            raise StudyError(f"Ignored race: {knob}={shorten(item)} {why}.")
        values.append(value)
    values = list(dict.fromkeys(values))  # a value twice would race itself
    if not RACE_SIZE[0] <= len(values) <= RACE_SIZE[1]:
        raise StudyError(f"Ignored race: give {RACE_SIZE[0]} to {RACE_SIZE[1]} different "
                         f"values of {knob}.")
    return Study("race", knob, tuple(values))


def race_configs(base: Config, spec: str) -> list[Config]:
    """The members of ``race=spec`` on top of ``base``."""
    return race(spec).configs(base)


def sweep(spec: str, count: str | int | None = None, epochs: str | int | None = None) -> Study:
    """``knob:lo..hi`` with ``count`` values (whole-number knobs: at most one per number)."""
    knob, _, span = spec.partition(":")
    knob = knob.strip()
    if knob not in SWEEPS:
        raise StudyError(f"Ignored sweep: choose one of {', '.join(SWEEPS)}.")
    s = SWEEPS[knob]
    try:
        lo, hi = (float(t) for t in span.split(".."))
        n = int(count if count is not None else DEFAULT_SWEEP["sweep_n"])
        length = int(epochs if epochs is not None else DEFAULT_SWEEP["sweep_epochs"])
    except ValueError:
        raise StudyError(f"Ignored sweep={shorten(spec)}: write it as a knob and a range, "
                         "e.g. sweep=learning_rate:0.0001..10.") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and s.lo <= lo < hi <= s.hi):
        raise StudyError(f"Ignored sweep: the {s.title} must go up from {plain_number(s.lo)} "
                         f"to at most {plain_number(s.hi)}.")
    if not SWEEP_SIZE[0] <= n <= SWEEP_SIZE[1]:
        raise StudyError(f"Ignored sweep: sweep_n must be {SWEEP_SIZE[0]} to {SWEEP_SIZE[1]}.")
    if not SWEEP_EPOCHS[0] <= length <= SWEEP_EPOCHS[1]:
        raise StudyError(f"Ignored sweep: sweep_epochs must be {SWEEP_EPOCHS[0]} to "
                         f"{SWEEP_EPOCHS[1]}.")
    spread = np.geomspace(lo, hi, n) if s.log else np.linspace(lo, hi, n)
    values: Sequence = (sorted({int(round(v)) for v in spread}) if s.integer
                        else [float(f"{v:.4g}") for v in spread])
    if len(values) < 2:
        raise StudyError("Ignored sweep: the range holds fewer than two values.")
    return Study("sweep", knob, tuple(values), length, n, (lo, hi))
