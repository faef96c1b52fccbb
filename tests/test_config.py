"""Config: exact URL round trip, validation that names the field, and a loader
that survives any query string."""

import dataclasses
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from playground.engine.config.config import Config, ConfigError
from playground.engine.config.limits import LIMITS, Limits, SettingError
from playground.engine.config.text import shorten
from playground.engine.data.datasets import DATASETS
from playground.engine.data.own_points import MIN_POINTS, encode_points
from playground.engine.train.group import train_epochs
from playground.engine.train.trainer import Trainer

FIELDS = {f.name: f for f in dataclasses.fields(Config)}


def _scalar(name: str):
    meta = FIELDS[name].metadata
    kind = type(getattr(Config(), name))
    if meta["choices"]:
        return st.sampled_from(meta["choices"])
    if kind is bool:
        return st.booleans()
    lo = meta["lo"]
    hi = meta["hi"](LIMITS) if callable(meta["hi"]) else meta["hi"]
    if kind is int:
        return st.integers(int(lo), int(hi))
    return st.floats(lo, hi, allow_nan=False)


@st.composite
def own_points(draw, dataset: str) -> str:
    """Own data (own_data.py) for a 2-D data set, or none."""
    spec = DATASETS[dataset]
    if spec.n_inputs != 2 or draw(st.booleans()):
        return ""
    n = draw(st.integers(MIN_POINTS, 40))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    labels = (rng.integers(0, spec.n_classes, n) if spec.task == "classification"
              else rng.uniform(-1, 1, n))
    return encode_points(rng.uniform(-6, 6, (n, 2)), labels, spec.task)


@st.composite
def valid_configs(draw):
    dataset = draw(_scalar("dataset"))
    wide = dataset == "digits"
    hidden = tuple(draw(st.lists(st.integers(1, 64 if wide else 8), max_size=6)))
    n = len(hidden)
    values = {name: draw(_scalar(name)) for name in FIELDS
              if name not in ("dataset", "hidden", "activation", "dropout", "features", "data")}
    values["data"] = draw(own_points(dataset))
    if values["optimizer"] == "nesterov" and values["momentum"] <= 0:
        values["momentum"] = draw(st.floats(0.01, 0.999))  # Nesterov needs momentum
    if DATASETS[dataset].n_classes > 2:
        values["tf_math"] = False  # TF math needs two classes or regression
    if values["patience"] and not values["validation"]:
        values["validation"] = draw(st.integers(1, 50))  # early stopping needs validation
    return Config(dataset=dataset, hidden=hidden,
                  activation=tuple(draw(st.lists(_scalar("activation"), min_size=n,
                                                 max_size=n))),
                  dropout=tuple(draw(st.lists(st.floats(0, 0.9), min_size=n, max_size=n))),
                  features=tuple(draw(st.lists(_scalar("features"), min_size=1, unique=True))),
                  **values)


@given(valid_configs())
@settings(max_examples=200, deadline=None)
def test_query_params_round_trip_exactly(config):
    config.validate()
    again, warnings = Config.from_params(config.to_params())
    assert warnings == []
    assert again == config


@given(valid_configs())
@settings(max_examples=40, deadline=None)
def test_every_valid_config_trains_and_its_frames_are_strict_json(config):
    """Valid means trainable: a few epochs of any valid config run (or stop with a
    message), and every frame is strict JSON."""
    from playground.server.frames import FrameBuilder, pictures
    from playground.server.protocol import decode_stream, encode_stream

    trainer = Trainer(config.replace(n_points=min(config.n_points, 120)))
    train_epochs(trainer, 2)
    assert trainer.epoch == 2 or trainer.stopped
    frame = FrameBuilder().build(trainer, False, pictures([trainer], [True])[0])
    decode_stream(encode_stream(frame))


def test_nesterov_without_momentum_is_refused_with_a_sentence():
    with pytest.raises(ConfigError, match="Nesterov needs a momentum above 0"):
        Config(optimizer="nesterov", momentum=0.0).validate()
    config, warnings = Config.from_params({"optimizer": "nesterov", "momentum": "0"})
    config.validate()
    assert warnings and "momentum" in warnings[0]


def test_knobs_start_where_the_tensorflow_playground_starts():
    c = Config()
    assert (c.dataset, c.noise, c.train_ratio, c.batch_size) == ("circle", 0, 50, 10)
    assert (c.features, c.hidden, c.activation) == (("x1", "x2"), (4, 2), ("tanh", "tanh"))
    assert (c.learning_rate, c.regularization, c.reg_rate) == (0.03, "none", 0.0)
    assert Config().to_params() == {}
    # but not its training math (the module docstring says what differs), unless asked
    assert (c.init, c.loss, c.tf_math) == ("xavier", "cross_entropy", False)
    assert c.replace(dataset="plane").points() == 500
    assert c.replace(dataset="plane", tf_math=True).points() == 1200


def test_validate_names_the_field():
    with pytest.raises(ConfigError) as error:
        Config(learning_rate=50.0, hidden=(4, 20), noise=-1).validate()
    assert set(error.value.problems) == {"learning_rate", "hidden", "noise"}
    assert "learning_rate" in str(error.value)
    with pytest.raises(ConfigError, match="features"):
        Config(features=()).validate()
    Config(dataset="digits", hidden=(64,)).validate()  # wide layers are fine for digits


def test_one_value_applies_to_every_layer():
    c = Config(hidden=(8, 8, 8), activation="relu", dropout=0.1)
    assert c.activation == ("relu",) * 3 and c.dropout == (0.1,) * 3
    assert Config.from_values({"hidden": (8, 8, 8)}).activation == ("tanh",) * 3
    assert Config().with_hidden((5,)).activation == ("tanh",)


def test_bad_params_fall_back_and_say_what_was_ignored():
    config, warnings = Config.from_params({
        "dataset": "moon-landing", "learning_rate": "nan", "noise": "20", "bogus": "1",
        "hidden": "4,99", "batch_size": ["3", "4"]})
    assert config.dataset == "circle" and config.learning_rate == 0.03
    assert config.noise == 20 and config.batch_size == 4 and config.hidden == (4, 2)
    joined = " ".join(warnings)
    for name in ("dataset", "learning_rate", "bogus", "hidden"):
        assert name in joined
    assert len(warnings) == 4


@given(st.dictionaries(st.one_of(st.sampled_from(sorted(FIELDS)), st.text(max_size=20)),
                       st.one_of(st.text(max_size=60), st.floats().map(str),
                                 st.integers().map(str)), max_size=8))
@settings(max_examples=300, deadline=None)
def test_any_query_string_gives_a_valid_config(params):
    config, warnings = Config.from_params(params)
    config.validate()
    # a setting refused on its own is named when it comes with others, and every
    # message is one sentence
    for key, raw in params.items():
        if Config.from_params({key: raw})[1]:
            assert any(shorten(key) in w for w in warnings), key
    assert all(w.endswith(".") and w[0].isupper() for w in warnings)


def test_limits_come_from_the_environment():
    limits = Limits.from_env({"PLAYGROUND_MAX_LAYERS": "3", "PLAYGROUND_MAX_POINTS": "",
                              "PLAYGROUND_MAX_SESSIONS": "2e2",
                              "PLAYGROUND_IDLE_TIMEOUT_S": "90.5"})
    assert limits.max_layers == 3 and limits.max_points == Limits().max_points  # empty: unset
    assert limits.max_sessions == 200 and limits.idle_timeout_s == 90.5
    with pytest.raises(ConfigError, match="hidden"):
        Config(hidden=(2, 2, 2, 2)).validate(limits)


@pytest.mark.parametrize(("name", "raw"), [
    ("PLAYGROUND_MAX_SESSIONS", "inf"), ("PLAYGROUND_MAX_SESSIONS", "1e400"),
    ("PLAYGROUND_MAX_SESSIONS", "nan"), ("PLAYGROUND_MAX_SESSIONS", "2.5"),
    ("PLAYGROUND_MAX_POINTS", "junk"), ("PLAYGROUND_MAX_LAYERS", "0"),
    ("PLAYGROUND_IDLE_TIMEOUT_S", "-1"), ("PLAYGROUND_IDLE_TIMEOUT_S", "Infinity"),
    ("PLAYGROUND_MAX_NEURONS", "8\nmore"),
])
def test_a_bad_setting_is_one_line_naming_the_variable(name, raw):
    with pytest.raises(SettingError) as refused:
        Limits.from_env({name: raw})
    message = str(refused.value)
    assert message.startswith(f"{name}=") and "\n" not in message and message.endswith(".")


@pytest.mark.parametrize(("argv", "name", "raw"), [
    (["-c", "import playground.engine.config.limits"], "PLAYGROUND_MAX_SESSIONS", "inf"),
    (["-c", "import playground.engine.config.limits"], "PLAYGROUND_WORKERS", "two"),
    (["-m", "playground", "train", "--epochs", "1"], "PLAYGROUND_MAX_SESSIONS", "1e400"),
])
def test_a_bad_setting_stops_the_program_with_one_line(argv, name, raw):
    done = subprocess.run([sys.executable, *argv], capture_output=True, text=True,
                          env={**os.environ, name: raw}, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"playground: {name}='{raw}' is not a valid setting: give a whole number above "
        "0, or leave it unset for the default."]
