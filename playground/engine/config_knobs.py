"""The vocabulary of the Config: how a knob is declared (its default, bounds, choices
and effect), the error a bad one raises, and the fixed lists some knobs choose from.

``config.py`` declares the knobs themselves and checks and converts whole Configs.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from dataclasses import field

from playground.engine.limits import Limits

REGULARIZATIONS = ("none", "l1", "l2")
# the parts of the page a link can hide (``hide=``), as the TensorFlow Playground's
# hideable UI: controls of the top bar, the data column, the network's edit buttons,
# and the live view's panels
HIDEABLE = ("learning_rate", "activation", "regularization", "optimizer", "loss", "speed",
            "problem", "data", "noise", "batch", "features", "layers", "transport",
            "toggles", "numbers", "curves", "histograms", "norms", "confusion", "settings",
            "share", "replay", "own_data", "compare", "slow_motion", "lessons", "callouts")
# Settings that suit a data set better than the general defaults: the digits' 64
# inputs need a wider network (the 4-2 tanh default reaches 63 % test accuracy,
# 32 ReLU with Adam over 95 %). The URL leaves out what equals its data set's defaults.
DATASET_DEFAULTS: dict[str, dict[str, object]] = {
    "digits": {"hidden": (32,), "activation": ("relu",), "optimizer": "adam",
               "learning_rate": 0.003, "batch_size": 32},
}
MAX_SEED = 2**31 - 1
Bound = float | Callable[[Limits], float] | None


def knob(
    default: object,
    help: str,
    effect: str,
    *,
    lo: Bound = None,
    hi: Bound = None,
    choices: tuple[str, ...] | None = None,
    max_len: int | Callable[[Limits], int] | None = None,
    check: Callable[[object, Limits], str | None] | None = None,
    max_text: Bound = None,
) -> typing.Any:
    """A Config field. ``check`` is the field's own test of a value beyond bounds and
    choices (a reason, or None); ``max_text`` caps its text form (default: config_text's)."""
    meta = dict(help=help, effect=effect, lo=lo, hi=hi, choices=choices, max_len=max_len,
                check=check, max_text=max_text)
    if isinstance(default, tuple):
        return field(default_factory=lambda: default, metadata=meta)
    return field(default=default, metadata=meta)


class ConfigError(ValueError):
    """Raised by ``validate``; ``problems`` maps each bad field to a sentence."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{name}: {why}" for name, why in problems.items()))


def bound_value(bound: Bound, limits: Limits) -> float | None:
    return bound(limits) if callable(bound) else bound
