"""The hand-written math checked against independent oracles: numpy, autograd,
finite differences and torch's own schedulers."""

import math

import numpy as np
import pytest
import torch

from playground.engine.nn import backprop
from playground.engine.nn.activations import ACTIVATIONS
from playground.engine.nn.losses import HEADS, OBJECTIVES
from playground.engine.nn.model import MLP, ParamLayout, init_params
from playground.engine.nn.optimizers import SCHEDULES


def build_model(n_in, n_out, hidden, activations, dropout, init, seed) -> MLP:
    layout = ParamLayout((n_in, *hidden, n_out))
    return MLP.from_flat(layout, activations, dropout, init_params(layout, init, seed))


def test_forward_matches_numpy_hand_computation():
    model = build_model(2, 1, (4, 2), ("tanh", "tanh"), (0.0, 0.0), "uniform", seed=3)
    x = np.array([[0.5, -1.0], [2.0, 3.0], [-4.0, 0.25]], dtype=np.float32)
    w = [layer.weight.detach().numpy().astype(np.float64) for layer in model.layers]
    b = [layer.bias.detach().numpy().astype(np.float64) for layer in model.layers]
    h = x.astype(np.float64)
    h = np.tanh(h @ w[0].T + b[0])
    h = np.tanh(h @ w[1].T + b[1])
    expected = h @ w[2].T + b[2]
    with torch.no_grad():
        fp = backprop.forward(model.net(), torch.from_numpy(x))
    np.testing.assert_allclose(fp.output.numpy(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model(torch.from_numpy(x)).detach().numpy(), expected,
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_derivative_matches_autograd(name):
    z = torch.linspace(-4, 4, 101, dtype=torch.float64).requires_grad_()
    act = ACTIVATIONS[name]
    a = act.forward(z)
    (expected,) = torch.autograd.grad(a.sum(), z)
    np.testing.assert_allclose(act.derivative(z.detach(), a.detach()).numpy(),
                               expected.numpy(), atol=1e-7)
    # the module used by the autograd path computes the same function
    np.testing.assert_allclose(act.module()(z).detach().numpy(), a.detach().numpy(), atol=1e-7)


def _targets(head, n, k, gen):
    if head == "multiclass":
        return torch.randint(0, k, (n,), generator=gen)
    if head == "binary":
        return torch.randint(0, 2, (n, 1), generator=gen).double()
    return torch.randn(n, 1, generator=gen, dtype=torch.float64)


@pytest.mark.parametrize(("loss", "head"), sorted(OBJECTIVES))
def test_loss_gradient_matches_autograd(loss, head):
    gen = torch.Generator().manual_seed(0)
    k = 3 if head == "multiclass" else 1
    z = torch.randn(7, k, generator=gen, dtype=torch.float64).requires_grad_()
    y = _targets(head, 7, 3, gen)
    obj = OBJECTIVES[(loss, head)]
    (expected,) = torch.autograd.grad(obj.value(z, y), z)
    np.testing.assert_allclose(obj.grad(z.detach(), y).numpy(), expected.numpy(), atol=1e-10)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("with_dropout", [False, True])
def test_backward_matches_autograd(activation, with_dropout):
    rate = 0.3 if with_dropout else 0.0
    model = build_model(3, 3, (5, 4), (activation, "tanh"), (rate, rate), "xavier", seed=1)
    model.double()
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(6, 3, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (6,), generator=gen)
    obj = OBJECTIVES[("cross_entropy", "multiclass")]
    with torch.no_grad():
        gen = torch.Generator().manual_seed(5)
        masks = [backprop.dropout_mask((6, n), rate, gen).double() for n in (5, 4)]
        fp = backprop.forward(model.net(), x, masks if with_dropout else None)
        grads = backprop.backward(model.net(), fp, obj.grad(fp.output, y))
    # autograd through the same computation, with the same dropout masks
    h = x
    for i, name in enumerate(model.activation_names):
        h = ACTIVATIONS[name].forward(model.layers[i](h))
        if fp.dropout_masks[i] is not None:
            h = h * fp.dropout_masks[i]
    obj.value(model.layers[-1](h), y).backward()
    for layer, (g_w, g_b) in zip(model.layers, grads):
        np.testing.assert_allclose(g_w.numpy(), layer.weight.grad.numpy(), atol=1e-10)
        np.testing.assert_allclose(g_b.numpy(), layer.bias.grad.numpy(), atol=1e-10)


def test_backward_matches_finite_differences():
    model = build_model(2, 1, (3,), ("sigmoid",), (0.0,), "uniform", seed=4).double()
    x = torch.tensor([[0.3, -0.7], [1.1, 0.4]], dtype=torch.float64)
    y = torch.tensor([[1.0], [0.0]], dtype=torch.float64)
    obj = OBJECTIVES[("mse", "binary")]
    with torch.no_grad():
        fp = backprop.forward(model.net(), x)
        grads = backprop.backward(model.net(), fp, obj.grad(fp.output, y))
    eps = 1e-6
    for layer, (g_w, _) in zip(model.layers, grads):
        w = layer.weight.data
        for idx in np.ndindex(*w.shape):
            old = w[idx].item()
            w[idx] = old + eps
            up = obj.value(model(x), y).item()
            w[idx] = old - eps
            down = obj.value(model(x), y).item()
            w[idx] = old
            assert g_w[idx].item() == pytest.approx((up - down) / (2 * eps), abs=1e-8)


@pytest.mark.parametrize("kind", ["l1", "l2"])
def test_penalty_and_its_gradient_match_the_formula(kind):
    w = [torch.tensor([[0.5, -2.0], [0.0, 1.5]], dtype=torch.float64), torch.tensor([[-3.0]])]
    penalty = backprop.PENALTIES[kind]
    expected = {"l1": 0.5 + 2 + 0 + 1.5 + 3, "l2": 0.5 * (0.25 + 4 + 0 + 2.25 + 9)}[kind]
    assert penalty.value(w).item() == pytest.approx(expected)
    leaf = w[0].clone().requires_grad_()
    (auto,) = torch.autograd.grad(penalty.value([leaf]), leaf)
    np.testing.assert_allclose(penalty.grad(w[0]).numpy(), auto.numpy())


@pytest.mark.parametrize(("name", "make"), [
    ("step", lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=7, gamma=0.5)),
    ("exponential", lambda opt: torch.optim.lr_scheduler.ExponentialLR(opt, 0.5 ** (1 / 7))),
    ("cosine", lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=7)),
])
def test_schedules_match_torch_schedulers(name, make):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    scheduler = make(opt)
    for epoch in range(30):
        expected = opt.param_groups[0]["lr"]
        assert 0.1 * SCHEDULES[name](epoch, 7) == pytest.approx(expected, rel=1e-9, abs=1e-12)
        opt.step()
        scheduler.step()


def test_heads_metrics():
    z = torch.tensor([[2.0], [-1.0], [0.5]])
    binary = HEADS["binary"].metric(z, torch.tensor([[1.0], [0.0], [0.0]]))
    assert binary.item() == pytest.approx(2 / 3)
    y = torch.tensor([[1.0], [2.0], [3.0]])
    assert HEADS["regression"].metric(y, y).item() == 1.0
    assert HEADS["regression"].metric(torch.full((3, 1), 2.0), y).item() == pytest.approx(0.0)
    multi = HEADS["multiclass"].metric(torch.eye(3), torch.tensor([0, 1, 0]))
    assert math.isclose(multi.item(), 2 / 3)


@pytest.mark.parametrize(("loss", "head"), sorted(OBJECTIVES))
def test_losses_and_metrics_of_a_stack_are_per_network(loss, head):
    """[S, n, k] inputs give one value per network, each equal to that network alone."""
    gen = torch.Generator().manual_seed(3)
    k = 3 if head == "multiclass" else 1
    z = torch.randn(4, 7, k, generator=gen, dtype=torch.float64)
    y = torch.stack([_targets(head, 7, 3, gen) for _ in range(4)])
    obj = OBJECTIVES[(loss, head)]
    stacked, grads = obj.value(z, y), obj.grad(z, y)
    metric = HEADS[head].metric(z, y)
    assert stacked.shape == metric.shape == (4,)
    for s in range(4):
        assert stacked[s].item() == pytest.approx(obj.value(z[s], y[s]).item(), rel=1e-12)
        torch.testing.assert_close(grads[s], obj.grad(z[s], y[s]))
        assert metric[s].item() == pytest.approx(HEADS[head].metric(z[s], y[s]).item())


def test_a_stacked_forward_and_backward_equal_each_network_alone():
    models = [build_model(2, 3, (4, 3), ("relu", "tanh"), (0.0, 0.0), "he", seed=s).double()
              for s in range(3)]
    stack = backprop.Net([torch.stack(ws) for ws in zip(*(m.net().weights for m in models))],
                         [torch.stack(bs) for bs in zip(*(m.net().biases for m in models))],
                         ("relu", "tanh"))
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 5, 2, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (3, 5), generator=gen)
    obj = OBJECTIVES[("cross_entropy", "multiclass")]
    with torch.no_grad():
        fp = backprop.forward(stack, x)
        grads = backprop.backward(stack, fp, obj.grad(fp.output, y))
        for s, model in enumerate(models):
            alone = backprop.forward(model.net(), x[s])
            torch.testing.assert_close(fp.output[s], alone.output)
            for (g_w, g_b), (a_w, a_b) in zip(grads, backprop.backward(
                    model.net(), alone, obj.grad(alone.output, y[s]))):
                torch.testing.assert_close(g_w[s], a_w)
                torch.testing.assert_close(g_b[s], a_b)
