"""The rules that span several Config fields: each value is fine alone, together they
are not (a neuron cap that depends on the data set, one activation per layer, ...)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from playground.engine.datasets import DATASETS
from playground.engine.limits import Limits
from playground.engine.own_data import dataset_problem

if TYPE_CHECKING:
    from playground.engine.config import Config


def cross_problems(config: Config, limits: Limits) -> dict[str, str]:
    """Why settings that are each fine do not fit together (field name -> sentence)."""
    problems: dict[str, str] = {}
    if config.dataset not in DATASETS:
        return problems
    for name in ("activation", "dropout"):
        if len(getattr(config, name)) != len(config.hidden):
            problems[name] = f"give one value per hidden layer ({len(config.hidden)})"
    cap = config.neuron_cap(limits)
    if any(n > cap for n in config.hidden):
        problems["hidden"] = f"at most {cap} neurons per layer for this data set"
    if not config.features:
        problems["features"] = "choose at least one input feature"
    if config.optimizer == "nesterov" and config.momentum <= 0:
        problems["momentum"] = "Nesterov needs a momentum above 0"
    if config.tf_math and DATASETS[config.dataset].n_classes > 2:
        problems["tf_math"] = ("TensorFlow Playground math needs a two-class or regression "
                               "data set")
    if config.patience and not config.validation:
        problems["patience"] = ("early stopping watches the validation loss: hold out a "
                                "validation share of the training points first")
    if why := dataset_problem(config.data, config.dataset):
        problems["data"] = why
    return problems
