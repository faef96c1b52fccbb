"""The slow-motion step: the hand chain rule against autograd, a worked example, and
stepping example by example against torch.optim.SGD with a batch of one."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from playground.engine.config.config import Config
from playground.engine.data.datasets import Dataset
from playground.engine.nn.activations import ACTIVATIONS
from playground.engine.nn.losses import OBJECTIVES
from playground.engine.nn.model import MLP
from playground.engine.teaching.slow_motion import (
    Walk,
    differences_from_training,
    explain_step,
    next_example,
    start_walk,
    too_large,
)
from playground.engine.teaching.slow_motion_math import (
    OUTPUT_RULES,
    SCALAR_ACTIVATIONS,
    factor,
    number,
)
from playground.engine.train.group import train_epochs
from playground.engine.train.trainer import Trainer

# (data set, loss, tf_math): one per objective the trainer can use
OBJECTIVE_CASES = {
    "binary cross-entropy": ("circle", "cross_entropy", False),
    "binary squared error": ("circle", "mse", False),
    "binary TF error": ("circle", "cross_entropy", True),
    "regression": ("plane", "mse", False),
    "regression TF error": ("plane", "mse", True),
    "multiclass cross-entropy": ("blobs3", "cross_entropy", False),
    "multiclass squared error": ("blobs3", "mse", False),
}


def tiny_trainer(dataset: str = "circle", hidden: tuple[int, ...] = (3, 2),
                 activation: str | tuple[str, ...] = "tanh", **changes: object) -> Trainer:
    config = Config.defaults_for(dataset).with_hidden(hidden).replace(
        activation=activation, n_points=20, **changes)
    return Trainer(config)


def random_walk(trainer: Trainer, seed: int, example: int = 0) -> Walk:
    """Weights of order 1, so every activation's curved and flat parts get used."""
    gen = torch.Generator().manual_seed(seed)
    params = torch.randn(trainer.layout.size, generator=gen, dtype=torch.float64)
    return Walk(tuple(params.tolist()), example, 0)


def float64_model(trainer: Trainer, params: tuple[float, ...]) -> MLP:
    """The project's nn.Module, made float64 before the weights go in (no float32 rounding)."""
    c = trainer.config
    model = MLP(trainer.layout.sizes, c.activation, [0.0] * len(c.hidden)).double()
    weights, biases = trainer.layout.split(torch.tensor(params, dtype=torch.float64))
    with torch.no_grad():
        for layer, w, b in zip(model.layers, weights, biases):
            layer.weight.copy_(w)
            layer.bias.copy_(b)
    return model


def oracle_gradient(trainer: Trainer, params: tuple[float, ...],
                    index: int) -> tuple[float, torch.Tensor]:
    """Autograd through the project's nn.Module in float64 and the trainer's objective."""
    model = float64_model(trainer, params)
    target = trainer.y_train[index:index + 1]
    target = target.double() if target.is_floating_point() else target
    loss = trainer.objective.value(model(trainer.x_train[index:index + 1].double()), target)
    loss.backward()
    grad = torch.cat([t for layer in model.layers for t in (layer.weight.grad.flatten(),
                                                            layer.bias.grad)])
    return loss.item(), grad


def test_every_objective_and_activation_has_a_hand_rule():
    assert set(OUTPUT_RULES) == set(OBJECTIVES)
    assert set(SCALAR_ACTIVATIONS) == set(ACTIVATIONS)


@pytest.mark.parametrize("case", OBJECTIVE_CASES)
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_hand_chain_rule_agrees_with_autograd(case, activation):
    dataset, loss, tf_math = OBJECTIVE_CASES[case]
    trainer = tiny_trainer(dataset, (3, 2), activation, loss=loss, tf_math=tf_math)
    for example in range(3):
        walk = random_walk(trainer, seed=example, example=example)
        step = explain_step(trainer, walk)
        oracle_loss, oracle_grad = oracle_gradient(trainer, walk.params, example)
        hand = torch.tensor([p.hand for p in step.params], dtype=torch.float64)
        assert torch.allclose(hand, oracle_grad, rtol=0, atol=1e-6)
        assert step.max_difference < 1e-6  # the view's own autograd column agrees too
        assert step.output.loss == pytest.approx(oracle_loss, abs=1e-9)
        assert step.objective_loss == pytest.approx(oracle_loss, abs=1e-12)
        # the output deltas are the trainer's own dL/dz for this example
        z = torch.tensor([[n.z for n in step.layers[-1]]], dtype=torch.float64)
        target = trainer.y_train[example:example + 1]
        target = target.double() if target.is_floating_point() else target
        expected = trainer.objective.grad(z, target).flatten().tolist()
        assert step.output.deltas == pytest.approx(expected, abs=1e-12)


def test_two_two_one_worked_by_hand():
    # one example x = (0.5, -1), class 1; every number below is exact in binary
    x = np.array([[0.5, -1.0], [1.0, 1.0]], dtype=np.float32)
    y = np.array([1, 0])
    data = Dataset("circle", x, y, x, y, "classification", 2)
    config = Config().with_hidden((2,)).replace(activation="tanh", loss="cross_entropy",
                                                learning_rate=0.5)
    trainer = Trainer(config, dataset=data)
    # layer 1: w = [[0.1, -0.2], [0.4, 0.3]], b = [0.05, -0.1]; layer 2: w = [0.7, -0.6], b = 0.2
    params = (0.1, -0.2, 0.4, 0.3, 0.05, -0.1, 0.7, -0.6, 0.2)
    step = explain_step(trainer, Walk(params, 0, 0))

    z1 = 0.1 * 0.5 + -0.2 * -1.0 + 0.05  # 0.3
    z2 = 0.4 * 0.5 + 0.3 * -1.0 - 0.1  # -0.2
    a1, a2 = math.tanh(z1), math.tanh(z2)
    z_out = 0.7 * a1 - 0.6 * a2 + 0.2
    p = 1.0 / (1.0 + math.exp(-z_out))
    loss = -math.log(p)  # y = 1
    d_out = p - 1.0
    d1 = 0.7 * d_out * (1.0 - a1 * a1)
    d2 = -0.6 * d_out * (1.0 - a2 * a2)
    grads = [d1 * 0.5, d1 * -1.0, d2 * 0.5, d2 * -1.0, d1, d2, d_out * a1, d_out * a2, d_out]

    assert [n.z for n in step.layers[0]] == pytest.approx([0.3, -0.2], abs=1e-15)
    assert [n.a for n in step.layers[0]] == pytest.approx([a1, a2], abs=1e-15)
    assert step.layers[1][0].z == pytest.approx(z_out, abs=1e-15)
    assert step.output.prediction[0] == pytest.approx(p, abs=1e-15)
    assert step.output.loss == pytest.approx(loss, abs=1e-14)
    assert [s.delta for s in step.back_sums[0]] == pytest.approx([d1, d2], abs=1e-15)
    assert step.back_sums[0][1].terms == ((-0.6, pytest.approx(d_out, abs=1e-15)),)
    assert [p.hand for p in step.params] == pytest.approx(grads, abs=1e-15)
    assert [p.updated for p in step.params] == pytest.approx(
        [w - 0.5 * g for w, g in zip(params, grads)], abs=1e-15)
    first = step.params[0]
    assert (first.kind, first.layer, first.to, first.frm, first.source) == ("weight", 0, 0, 0, 0.5)
    assert step.params[4].kind == "bias" and step.params[4].source == 1.0
    # the output delta's line writes the same numbers out
    assert step.output.delta_lines[0].endswith(f"= {number(d_out)}")


@pytest.mark.parametrize("regularization", ["none", "l2"])
def test_stepping_equals_sgd_with_batch_one(regularization):
    trainer = tiny_trainer("circle", (3, 2), ("tanh", "relu"), learning_rate=0.3,
                           regularization=regularization, reg_rate=0.05)
    n_train, steps = trainer.x_train.shape[0], 15  # past the end: wraps to example 0
    walk = start_walk(trainer)
    for _ in range(steps):
        walk = next_example(trainer, walk)

    c = trainer.config
    model = float64_model(trainer, tuple(trainer.params.double().tolist()))
    decay = c.reg_rate if regularization == "l2" else 0.0  # torch's decay is L2's derivative
    optimizer = torch.optim.SGD([
        {"params": [layer.weight for layer in model.layers], "weight_decay": decay},
        {"params": [layer.bias for layer in model.layers], "weight_decay": 0.0}],
        lr=c.learning_rate)
    for i in range(steps):
        index = i % n_train
        optimizer.zero_grad()
        out = model(trainer.x_train[index:index + 1].double())
        trainer.objective.value(out, trainer.y_train[index:index + 1].double()).backward()
        optimizer.step()
    expected = torch.cat([t.detach() for layer in model.layers
                          for t in (layer.weight.flatten(), layer.bias)])
    assert torch.allclose(torch.tensor(walk.params, dtype=torch.float64), expected, rtol=0,
                          atol=1e-9)
    assert (walk.example, walk.steps) == (steps % n_train, steps)
    assert not torch.allclose(expected, trainer.params.double())  # the steps moved it


def test_walk_starts_from_the_trainers_weights():
    trainer = tiny_trainer()
    train_epochs(trainer, 2)
    walk = start_walk(trainer)
    assert walk.params == tuple(trainer.params.double().tolist())
    assert (walk.example, walk.steps) == (0, 0)


@pytest.mark.parametrize("hidden, says", [((5,), "5 neurons in a hidden layer"),
                                          ((2, 2, 2), "3 hidden layers")])
def test_a_large_network_is_refused_in_one_sentence(hidden, says):
    trainer = tiny_trainer(hidden=hidden)
    refusal = too_large(trainer.config)
    assert says in refusal and "2-2-1" in refusal and refusal.count(". ") == 0
    with pytest.raises(ValueError, match="too many to follow by hand"):
        explain_step(trainer, start_walk(trainer))


def test_wide_inputs_are_refused_and_small_nets_accepted():
    digits = Config.defaults_for("digits")
    assert "64 inputs" in too_large(digits) and "10 outputs" in too_large(digits)
    assert too_large(Config().with_hidden((4, 4)).replace(
        features=("x1", "x2", "x1sq", "x2sq"))) is None
    assert "5 inputs" in too_large(Config().replace(
        features=("x1", "x2", "x1sq", "x2sq", "x1x2")))


def test_differences_from_training_are_named():
    plain = Config().replace(batch_size=1, optimizer="sgd")
    assert differences_from_training(plain) == []
    notes = differences_from_training(plain.replace(optimizer="adam", dropout=(0.2, 0.0)))
    assert len(notes) == 2 and "Adam" in notes[0] and "Dropout" in notes[1]


def test_numbers_in_formulas():
    assert number(0.31234) == "0.3123" and factor(-0.52) == "(-0.52)" and factor(2) == "2"
    assert number(1.5e-7) == r"1.5\cdot 10^{-7}"


def _slow_motion_page():
    import streamlit as st

    from playground.engine.config.config import Config
    from playground.ui.slow_motion_view import slow_motion_section

    st.session_state.setdefault("cfg", Config().with_hidden((6,)).replace(n_points=20))

    def tiny() -> None:
        st.session_state["cfg"] = st.session_state["cfg"].with_hidden((2,))

    slow_motion_section(st.session_state["cfg"], st.session_state.get("state"), tiny)


def test_the_view_refuses_switches_and_steps():
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_function(_slow_motion_page, default_timeout=30)
    app.session_state["slow_motion_open"] = True  # the expander draws its body only when open
    app.run()
    assert "too many to follow by hand" in app.markdown[0].value
    app.button(key="slow_tiny").click().run()
    assert not app.exception and app.session_state["cfg"].hidden == (2,)
    assert app.markdown[0].value.startswith("**Example 1 of 10**")
    table = app.dataframe[0].value
    assert len(table) == 9 and table["difference"].max() < 1e-6
    before = table["after the step"].tolist()
    app.button(key="slow_next").click().run()
    assert app.markdown[0].value.startswith("**Example 2 of 10**")
    assert app.dataframe[0].value["value"].tolist() == pytest.approx(before, abs=1e-12)
    session = Trainer(app.session_state["cfg"])
    train_epochs(session, 3)
    app.session_state["state"] = session.state()
    app.button(key="slow_back").click().run()
    assert app.markdown[0].value.startswith("**Example 1 of 10**")
    assert "the session's weights at epoch 3" in app.markdown[0].value
    assert app.dataframe[0].value["value"].tolist() == session.params.double().tolist()


@pytest.mark.parametrize("key", list(OUTPUT_RULES))
def test_the_loss_names_the_output_as_the_diagram_does(key):
    """The diagram writes the output ŷ; the loss and δ formulas must too (not p or z)."""
    n_out = 3 if key[1] == "multiclass" else 1
    step = OUTPUT_RULES[key]([0.3, -0.2, 0.1][:n_out], 1.0)
    for line in (step.loss_line, *step.delta_lines):
        symbols = line.split("=")[1]  # the formula before any number goes in
        assert r"\hat y" in line and " p" not in symbols and "p_" not in symbols, line


def test_a_target_class_says_its_colour():
    from playground.ui.slow_motion_view import target_text

    def step(head: str, target: float):
        return type("S", (), {"head": head, "target": target})()

    assert target_text(step("binary", 0.0)) == "class 0 (orange)"
    assert target_text(step("binary", 1.0)) == "class 1 (blue)"
    assert target_text(step("multiclass", 2.0)) == "class 3 (green)"  # as the nodes count
    assert target_text(step("regression", -0.25)) == "-0.25"


def test_each_hand_gradient_has_autograds_beside_it():
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_function(_slow_motion_page, default_timeout=30)
    app.session_state["slow_motion_open"] = True  # the expander draws its body only when open
    app.run()
    app.button(key="slow_tiny").click().run()
    assert "(orange)" in app.markdown[0].value or "(blue)" in app.markdown[0].value
    gradients = [m.value for m in app.markdown if r"\partial w" in m.value]
    assert gradients and all(line.count("(autograd: $") == line.count(r"\frac{\partial L}")
                             for line in gradients)
    assert any("side by side" in c.value for c in app.caption)
