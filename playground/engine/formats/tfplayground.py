"""The TensorFlow Playground: its links, and what its training math is.

Two things let a TensorFlow Playground experiment run here by the same rules as there (the
same rules, not the same numbers: TF computes in float64, this project in float32):

- ``config_from_hash`` reads a TF Playground link's hash (``#activation=tanh&...``, as
  ``State.deserializeState`` in its ``src/state.ts`` reads it) into a Config with
  ``tf_math`` on, and says in one sentence per key what it could not carry over.
- TF math (``Config.tf_math``, its update rule in ``nn/tf_rule.py``) trains by the rules
  of its ``oneStep`` (``src/playground.ts``) and ``src/nn.ts`` (checked against a re-
  implementation of them in ``tests/test_tfplayground.py``, not TF's own code): the
  training points in their stored order (shuffled once, when the data is made), each
  point through ``forwardProp`` and ``backProp``, its derivatives summed, and after
  every ``batchSize``-th point of an epoch ``updateWeights`` with their average. The
  points of a leftover partial batch stay in the sums until the first update of the next
  epoch. Between updates the weights do not change, so one batched pass over a batch
  (and a group's stack of networks, ``group.py``) gives TF's sums. The rest of TF's math
  lives with its kind: the tanh output, ±1 labels and squared error in ``losses.py``
  (``TF_LOSS``), weights uniform in -0.5..0.5 and 0.1 biases in ``model.py`` (``INIT``),
  1,200 regression points in ``Config.points``.

TF's random generator (seedrandom) is not ours, so a link's ``seed`` gives the same points and
weights here every time, but not TF's own points and weights.

Our defaults start where TF starts (circle, 0 % noise, 50 % training data, x1 and
x2, a 4-2 tanh network, learning rate 0.03, batch 10, no regularization, test
points hidden), but without TF math the training differs: Xavier weights and zero
biases (TF: uniform in -0.5..0.5 and 0.1), a sigmoid output with cross-entropy (TF:
tanh with ±1 labels and squared error), the points reshuffled every epoch (TF: one
fixed order), 500 points for every data set (TF: 1,200 for regression) and data
seed 0 (TF: a random one).
"""

from __future__ import annotations

import math
import re
import zlib
from urllib.parse import unquote

from playground.engine.config.config import MAX_SEED, Config, field_problem
from playground.engine.config.limits import LIMITS, Limits
from playground.engine.config.text import shorten

# -- links ------------------------------------------------------------------------------------
# src/state.ts's key maps, to our names
ACTIVATIONS = {"relu": "relu", "tanh": "tanh", "sigmoid": "sigmoid", "linear": "linear"}
REGULARIZATIONS = {"none": "none", "L1": "l1", "L2": "l2"}
DATASETS = {"circle": "circle", "xor": "xor", "gauss": "gauss", "spiral": "spiral"}
REG_DATASETS = {"reg-plane": "plane", "reg-gauss": "multigauss"}
# src/playground.ts INPUTS, in its order (the order of the input nodes and their weights)
FEATURES = {"x": "x1", "y": "x2", "xSquared": "x1sq", "ySquared": "x2sq", "xTimesY": "x1x2",
            "sinX": "sinx1", "sinY": "sinx2"}
NUMBERS = {"batchSize": "batch_size", "learningRate": "learning_rate",
           "regularizationRate": "reg_rate", "noise": "noise", "percTrainData": "train_ratio"}
FLAGS = {"showTestData": "show_test", "discretize": "discretize"}
# keys that only matter when on (or given), and why they cannot be carried over then
NOT_HERE = {
    "cosX": "there is no cos(x1) feature here (nor an input node for it in TF's own page)",
    "cosY": "there is no cos(x2) feature here (nor an input node for it in TF's own page)",
    "initZero": "there is no all-zero start here; TF math starts from weights uniform in "
                "-0.5..0.5 and biases of 0.1",
    "collectStats": "there are no such statistics here",
    "hideText": "there is no article text here to hide",
    "tutorial": "the TensorFlow Playground's tutorials are not part of this page",
}
HANDLED = {"activation", "regularization", "dataset", "regDataset", "problem", "networkShape",
           "seed", *FEATURES, *NUMBERS, *FLAGS}
_JS_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


# TF's hideable parts (``<name>_hide=true``) and ours (Config.hide); a hidden input
# feature hides the features that are off (ours cannot hide one that is on)
HIDE_PARTS = {
    "learningRate": "learning_rate", "activation": "activation",
    "regularization": "regularization", "regularizationRate": "regularization",
    "problem": "problem", "dataset": "data", "regDataset": "data", "noise": "noise",
    "batchSize": "batch", "numHiddenLayers": "layers", "showTestData": "toggles",
    "discretize": "toggles", "playButton": "transport", "stepButton": "transport",
    "resetButton": "transport", "x": "features", "y": "features", "xSquared": "features",
    "ySquared": "features", "xTimesY": "features", "sinX": "features", "sinY": "features",
    "cosX": "features", "cosY": "features",
}


def parse_hash(fragment: str) -> dict[str, str]:
    """``name=value`` pairs of a hash (a whole link works too); a later key wins, as in TF."""
    text = fragment if isinstance(fragment, str) else ""
    text = text.split("#", 1)[1] if "#" in text else text
    pairs: dict[str, str] = {}
    for item in text.split("&"):
        name, _, value = item.partition("=")
        name = unquote(name).strip()
        if name:
            pairs[name] = unquote(value.split("=", 1)[0])
    return pairs


def seed_from_tf(text: str) -> int:
    """TF's seed is a string, mostly a number such as 0.80260: its five decimals become our
    seed (80260); any other string a checksum of it. The same link, the same seed."""
    try:
        value = _js_number(text)
    except ValueError:
        return zlib.crc32(text.encode("utf-8", "replace")) % (MAX_SEED + 1)
    return round(abs(value) * 100_000) % (MAX_SEED + 1)


def _js_number(text: str) -> float:
    """A decimal as JavaScript's ``+text`` reads it; ValueError for anything else."""
    text = text.strip()
    if not _JS_DECIMAL.fullmatch(text):
        raise ValueError(text)
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def _given(pairs: dict[str, str], key: str) -> str | None:
    """The value, when TF would read it (``hasKey``: present and not blank)."""
    value = pairs.get(key)
    return value if value is not None and value.strip() else None


def _flag(value: str) -> bool:
    return value != "false"  # state.ts: anything but "false" is true


def config_from_hash(fragment: str, limits: Limits = LIMITS) -> tuple[Config, list[str]]:
    """The Config of a TensorFlow Playground link's hash, with TF math on, and one plain
    sentence per key that was ignored or could not be carried over. Never raises: a bad
    value keeps its default and gets its sentence."""
    pairs = parse_hash(fragment)
    hidden_parts: list[str] = []
    position = {key: i for i, key in enumerate(pairs)}
    notes: list[tuple[int, str]] = []  # in the order of the link's keys
    values: dict[str, object] = {"tf_math": True}

    def note(key: str, sentence: str) -> None:
        notes.append((position.get(key, len(pairs)), sentence))

    def ignored(key: str, why: str) -> None:
        note(key, f"Ignored {shorten(key)}={shorten(pairs[key])}: {why}.")

    # the problem picks which of the two data set keys counts
    problem = _given(pairs, "problem") or "classification"
    if problem not in ("classification", "regression"):
        ignored("problem", "choose classification or regression")
        problem = "classification"
    key, names = (("regDataset", REG_DATASETS) if problem == "regression"
                  else ("dataset", DATASETS))
    dataset = names["reg-plane" if problem == "regression" else "circle"]
    if (raw := _given(pairs, key)) is not None:
        if raw in names:
            dataset = names[raw]
        else:
            ignored(key, f"choose one of {', '.join(names)}")
    values["dataset"] = dataset

    for key, name, choices in (("activation", "activation", ACTIVATIONS),
                               ("regularization", "regularization", REGULARIZATIONS)):
        if (raw := _given(pairs, key)) is not None:
            if raw in choices:
                values[name] = choices[raw]
            else:
                ignored(key, f"choose one of {', '.join(choices)}")
    for key, name in NUMBERS.items():
        if (raw := _given(pairs, key)) is None:
            continue
        try:
            number = _js_number(raw)
        except ValueError:
            ignored(key, "not a number")
            continue
        if name not in ("learning_rate", "reg_rate"):
            if not number.is_integer():
                ignored(key, "must be a whole number")
                continue
            number = int(number)
        if why := field_problem(name, number, limits):
            ignored(key, why)  # out of our bounds: the default
        else:
            values[name] = number
    for key, name in FLAGS.items():
        if (raw := _given(pairs, key)) is not None:
            values[name] = _flag(raw)

    if "networkShape" in pairs:  # state.ts: even an empty value counts (no hidden layer)
        try:
            hidden = _whole_numbers(pairs["networkShape"])
        except ValueError:
            ignored("networkShape", "not a list of whole numbers")
        else:
            cap = Config(dataset=dataset).neuron_cap(limits)
            why = field_problem("hidden", hidden, limits)
            if not why and any(n > cap for n in hidden):
                why = f"at most {cap} neurons per layer"
            if why:
                ignored("networkShape", why)
            else:
                values["hidden"] = hidden

    features = tuple(ours for key, ours in FEATURES.items()
                     if (_flag(raw) if (raw := _given(pairs, key)) is not None
                         else key in ("x", "y")))  # TF's defaults: x and y on
    if features:
        values["features"] = features
    else:
        note("", "No input feature was on (x, y, xSquared, ...); using x and y, as at least "
                 "one is needed here.")

    if (raw := _given(pairs, "seed")) is not None:
        values["data_seed"] = values["init_seed"] = seed_from_tf(raw)

    for key, value in pairs.items():
        if key in HANDLED:
            continue
        if key in NOT_HERE:
            on = _given(pairs, key) is not None and (key == "tutorial" or _flag(value))
            if on:
                ignored(key, NOT_HERE[key])
        elif key.endswith("_hide"):
            if value == "true":  # state.ts: only "true" hides
                part = HIDE_PARTS.get(key[:-len("_hide")])
                if part:
                    hidden_parts.append(part)
                else:
                    ignored(key, "that part of the page cannot be hidden here")
        else:
            note(key, f"Ignored unknown setting '{shorten(key)}'.")

    if hidden_parts:
        values["hide"] = tuple(dict.fromkeys(hidden_parts))
    # every value is checked; the URL's own loader is the last net for anything that would
    # still not fit together
    config, more = Config.from_params(Config.from_values(values).to_params(), limits)
    return config, [sentence for _, sentence in sorted(notes, key=lambda n: n[0])] + more


def _whole_numbers(text: str) -> tuple[int, ...]:
    """A comma-separated list as state.ts reads ``networkShape`` (blank: no hidden layer)."""
    numbers = [_js_number(part) for part in text.split(",")] if text.strip() else []
    if not all(n.is_integer() for n in numbers):
        raise ValueError(text)
    return tuple(int(n) for n in numbers)
