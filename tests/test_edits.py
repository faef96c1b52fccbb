"""Edits from the drawing: each op changes exactly what it says, and anything that breaks
a limit or cannot be understood leaves the Config as it was, with a sentence."""

import pytest

from playground.engine.config.config import Config
from playground.engine.config.limits import Limits
from playground.engine.data.edits import EDITS, apply_edit

LIMITS = Limits(max_layers=3, max_neurons=5, max_neurons_wide=12)
BASE = Config(hidden=(4, 2), activation=("tanh", "relu"), dropout=(0.1, 0.2))


def ok(config: Config, edit: dict, limits: Limits = LIMITS) -> Config:
    edited, refusal = apply_edit(config, edit, limits)
    assert refusal is None, refusal
    edited.validate(limits)
    return edited


def refused(config: Config, edit: dict, limits: Limits = LIMITS) -> str:
    edited, refusal = apply_edit(config, edit, limits)
    assert edited is config
    assert isinstance(refusal, str) and refusal.endswith(".") and len(refusal) > 10
    return refusal


def only_changed(before: Config, after: Config) -> set[str]:
    return set(before.changed_fields(after))


def test_every_op_is_tested():
    assert set(EDITS) == {"dataset", "toggle_feature", "add_layer", "remove_layer", "neurons",
                          "layer_activation", "set", "lower_learning_rate", "new_weights",
                          "add_point", "erase_points"}  # the last two: tests/test_own_data.py


def test_new_weights_takes_the_next_init_seed_only():
    edited = ok(BASE, {"op": "new_weights"})
    assert only_changed(BASE, edited) == {"init_seed"}
    assert edited.init_seed == BASE.init_seed + 1
    assert ok(BASE.replace(init_seed=2**31 - 1), {"op": "new_weights"}).init_seed == 0


@pytest.mark.parametrize("rate, lowered", [(0.03, 0.003), (10.0, 1.0), (1e-4, 1e-5),
                                           (3e-5, 1e-5), (1e-5, 1e-5)])
def test_lower_learning_rate_divides_by_ten_down_to_the_floor(rate, lowered):
    start = BASE.replace(learning_rate=rate)
    edited = ok(start, {"op": "lower_learning_rate"})
    assert edited.learning_rate == pytest.approx(lowered)
    assert only_changed(start, edited) <= {"learning_rate"}


def test_add_layer_copies_the_last_layer():
    edited = ok(BASE, {"op": "add_layer"})
    assert edited.hidden == (4, 2, 2)
    assert edited.activation == ("tanh", "relu", "relu")
    assert edited.dropout == (0.1, 0.2, 0.0)
    assert only_changed(BASE, edited) == {"hidden", "activation", "dropout"}


def test_add_layer_to_no_layers():
    assert ok(Config(hidden=()), {"op": "add_layer"}).hidden == (2,)


def test_remove_layer_keeps_the_others():
    edited = ok(BASE, {"op": "remove_layer"})
    assert (edited.hidden, edited.activation, edited.dropout) == ((4,), ("tanh",), (0.1,))
    gone = ok(edited, {"op": "remove_layer"})
    assert gone.hidden == () and gone.activation == () and gone.dropout == ()


@pytest.mark.parametrize("layer, delta, hidden", [(0, 1, (5, 2)), (1, -1, (4, 1)),
                                                  (1, 3, (4, 5)), (0, -3, (1, 2))])
def test_neurons(layer, delta, hidden):
    edited = ok(BASE, {"op": "neurons", "layer": layer, "delta": delta})
    assert edited.hidden == hidden
    assert edited.activation == BASE.activation and edited.dropout == BASE.dropout


def test_toggle_feature_both_ways():
    on = ok(BASE, {"op": "toggle_feature", "value": "x1sq"})
    assert on.features == ("x1", "x2", "x1sq")
    off = ok(on, {"op": "toggle_feature", "value": "x1"})
    assert off.features == ("x2", "x1sq")
    assert only_changed(BASE, off) == {"features"}


def test_layer_activation():
    edited = ok(BASE, {"op": "layer_activation", "layer": 1, "value": "sigmoid"})
    assert edited.activation == ("tanh", "sigmoid")
    assert only_changed(BASE, edited) == {"activation"}


@pytest.mark.parametrize("field", ["show_test", "discretize"])
@pytest.mark.parametrize("value", [True, False])
def test_set_display_flags(field, value):
    start = BASE.replace(**{field: not value})
    edited = ok(start, {"op": "set", "field": field, "value": value})
    assert getattr(edited, field) is value
    assert only_changed(start, edited) == {field}


def test_dataset_switch():
    edited = ok(BASE, {"op": "dataset", "value": "spiral"})
    assert edited.dataset == "spiral" and only_changed(BASE, edited) == {"dataset"}


def test_wide_layers_shrink_when_leaving_the_digits():
    digits = Config(dataset="digits", hidden=(12, 3, 7), activation=("relu",))
    digits.validate(LIMITS)
    edited = ok(digits, {"op": "dataset", "value": "circle"})
    assert edited.hidden == (5, 3, 5)
    assert edited.activation == ("relu",) * 3
    with_defaults = ok(Config(dataset="digits", hidden=(64, 32)), {"op": "dataset",
                                                                   "value": "circle"},
                       Limits())
    assert with_defaults.hidden == (8, 8)


def test_entering_the_digits_takes_their_defaults_where_the_settings_were_default():
    server = Limits()  # the real caps: the digits' 32 neurons fit
    edited = ok(Config(), {"op": "dataset", "value": "digits"}, server)
    assert edited == Config.defaults_for("digits")
    assert (edited.hidden, edited.optimizer) == ((32,), "adam")
    custom = Config(hidden=(3, 3), learning_rate=0.1)
    edited = ok(custom, {"op": "dataset", "value": "digits"}, server)
    assert (edited.hidden, edited.learning_rate, edited.optimizer) == ((3, 3), 0.1, "adam")
    back = ok(Config.defaults_for("digits"), {"op": "dataset", "value": "circle"}, server)
    assert back == Config()  # and back again: the general defaults


def test_a_digits_link_leaves_out_what_equals_their_defaults():
    digits = Config.defaults_for("digits")
    assert digits.to_params() == {"dataset": "digits"}
    assert Config.from_params({"dataset": "digits"}) == (digits, [])
    small = digits.with_hidden((4, 2))
    assert Config.from_params(small.to_params())[0] == small


def test_wide_layers_allowed_only_for_the_digits():
    digits = Config(dataset="digits", hidden=(5,))
    assert ok(digits, {"op": "neurons", "layer": 0, "delta": 7}).hidden == (12,)
    refused(digits, {"op": "neurons", "layer": 0, "delta": 8})
    refused(Config(hidden=(5,)), {"op": "neurons", "layer": 0, "delta": 1})


def test_refuse_removing_the_last_feature():
    one = BASE.replace(features=("x2",))
    assert "feature" in refused(one, {"op": "toggle_feature", "value": "x2"})


def test_refuse_zero_neurons():
    one = Config(hidden=(1, 3))
    assert "limit" in refused(one, {"op": "neurons", "layer": 0, "delta": -1})


def test_refuse_too_many_layers():
    full = Config(hidden=(2, 2, 2))
    full.validate(LIMITS)
    assert "limit" in refused(full, {"op": "add_layer"})
    assert ok(full, {"op": "add_layer"}, Limits(max_layers=4)).hidden == (2, 2, 2, 2)


def test_refuse_too_many_neurons():
    assert "limit" in refused(Config(hidden=(5, 2)), {"op": "neurons", "layer": 0,
                                                      "delta": 1})


@pytest.mark.parametrize("edit", [
    {"op": "explode"},
    {},
    {"op": None},
    {"op": ["add_layer"]},
    {"op": "neurons"},
    {"op": "neurons", "layer": 7, "delta": 1},
    {"op": "neurons", "layer": -1, "delta": 1},
    {"op": "neurons", "layer": "one", "delta": 1},
    {"op": "neurons", "layer": 0, "delta": None},
    {"op": "neurons", "layer": 0, "delta": float("nan")},
    {"op": "neurons", "layer": 0, "delta": float("inf")},
    {"op": "neurons", "layer": float("-inf"), "delta": 1},
    {"op": "layer_activation", "layer": 2, "value": "relu"},
    {"op": "layer_activation", "layer": -2, "value": "relu"},
    {"op": "dataset", "value": "no-such-data"},
    {"op": "dataset"},
    {"op": "set", "field": "learning_rate", "value": 1},
    {"op": "set", "field": "show_test", "value": "false"},
    {"op": "set", "field": "show_test"},
    {"op": "toggle_feature"},
    None,
    "add_layer",
    ["add_layer"],
    42,
])
def test_malformed_edits_are_ignored_with_a_sentence(edit):
    refused(BASE, edit)


@pytest.mark.parametrize("edit", [
    {"op": "layer_activation", "layer": 0, "value": "swish-ish"},
    {"op": "toggle_feature", "value": "x3"},
])
def test_unknown_names_are_refused_with_the_reason(edit):
    refusal = refused(BASE, edit)
    assert "choose one of" in refusal
