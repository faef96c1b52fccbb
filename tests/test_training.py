"""The Trainer: agrees with plain autograd training, is deterministic, learns, and
stops cleanly when a run diverges."""

import pytest
import torch

from playground import backprop
from playground.config import Config
from playground.optimizers import OPTIMIZERS, SCHEDULES
from playground.training import Trainer


def reference_weights(config: Config, epochs: int) -> list[torch.Tensor]:
    """The textbook loop: model(x), loss.backward(), torch.optim (no fused kernels)."""
    trainer = Trainer(config)  # only for its data, initial model and objective
    model, obj = trainer.model, trainer.objective
    optimizers = {"sgd": lambda p: torch.optim.SGD(p, lr=config.learning_rate),
                  "momentum": lambda p: torch.optim.SGD(p, lr=config.learning_rate,
                                                        momentum=config.momentum),
                  "adam": lambda p: torch.optim.Adam(p, lr=config.learning_rate),
                  "rmsprop": lambda p: torch.optim.RMSprop(p, lr=config.learning_rate),
                  "adagrad": lambda p: torch.optim.Adagrad(p, lr=config.learning_rate)}
    opt = optimizers[config.optimizer](model.parameters())
    gen = torch.Generator().manual_seed(config.init_seed + 1)
    penalty = backprop.PENALTIES[config.regularization]
    n = trainer.x_train.shape[0]
    for epoch in range(epochs):
        for group in opt.param_groups:
            group["lr"] = config.learning_rate * SCHEDULES[config.lr_schedule](
                epoch, config.schedule_epochs)
        order = torch.randperm(n, generator=gen)
        xs, ys = trainer.x_train[order], trainer.y_train[order]
        for start in range(0, n, config.batch_size):
            opt.zero_grad()
            loss = obj.value(model(xs[start:start + config.batch_size]),
                             ys[start:start + config.batch_size])
            if penalty is not None:
                loss = loss + config.reg_rate * penalty.value(model.weights())
            loss.backward()
            opt.step()
    return [p.detach() for p in model.parameters()]


@pytest.mark.parametrize("changes", [
    dict(optimizer="sgd"),
    dict(optimizer="adam", learning_rate=0.01),
    dict(optimizer="momentum", regularization="l2", reg_rate=0.01),
    dict(optimizer="rmsprop", learning_rate=0.003, lr_schedule="cosine", schedule_epochs=30),
    dict(optimizer="adagrad", dataset="spiral3", activation="relu", regularization="l2",
         reg_rate=0.001),
    # (with Adagrad, L1's sign flips at zero amplify the fused kernel's rounding noise)
    dict(optimizer="sgd", dataset="xor", regularization="l1", reg_rate=0.003),
    dict(optimizer="sgd", dataset="plane", loss="mse", activation="sigmoid"),
])
def test_fast_path_matches_autograd_and_torch_optim(changes):
    config = Config.from_values({"n_points": 200, **changes})
    trainer = Trainer(config)
    trainer.step_epochs(100)
    for fast, slow in zip(trainer.params, reference_weights(config, 100)):
        torch.testing.assert_close(fast.detach(), slow, atol=1e-5, rtol=1e-5)


def test_same_config_and_seeds_give_bit_identical_weights():
    config = Config(dataset="spiral", hidden=(6, 6), optimizer="adam", dropout=0.2)
    first, second = Trainer(config), Trainer(config)
    first.step_epochs(20)
    second.step_epochs(20)
    for a, b in zip(first.params, second.params):
        assert torch.equal(a, b)
    other = Trainer(config.replace(init_seed=1))
    assert not torch.equal(other.params[0], Trainer(config).params[0])


def test_reset_keep_init_restarts_from_the_same_weights():
    trainer = Trainer(Config(dataset="xor"))
    start = [p.detach().clone() for p in trainer.params]
    trainer.step_epochs(5)
    first_run = [p.detach().clone() for p in trainer.params]
    trainer.reset(keep_init=True)
    assert trainer.epoch == 0 and trainer.history.epoch == []
    for a, b in zip(trainer.params, start):
        assert torch.equal(a, b)
    trainer.step_epochs(5)
    for a, b in zip(trainer.params, first_run):
        assert torch.equal(a, b)
    trainer.reset(keep_init=False)
    assert trainer.config.init_seed == 1
    assert not torch.equal(trainer.params[0], start[0])


def test_history_records_every_epoch():
    trainer = Trainer(Config())
    assert trainer.step_epochs(3) == 3
    h = trainer.history
    assert h.epoch == [1, 2, 3]
    assert len(h.train_loss) == len(h.test_metric) == len(h.grad_norms) == 3
    assert len(h.weight_norms[0]) == 3  # three weight matrices for hidden 4-2
    weights = trainer.model.weights()
    assert h.weight_norms[-1][0] == pytest.approx(weights[0].norm().item())


def test_train_for_respects_the_budget():
    trainer = Trainer(Config())
    assert trainer.train_for(0.2) >= 1
    assert trainer.train_for(10.0, max_epochs=3) == 3


def test_xor_reaches_95_percent():
    trainer = Trainer(Config(dataset="xor", learning_rate=0.03))
    trainer.step_epochs(300)
    assert trainer.metrics()["test_metric"] >= 0.95


def test_circle_needs_a_nonlinearity():
    linear = Trainer(Config(dataset="circle", activation="linear"))
    linear.step_epochs(200)
    assert linear.metrics()["test_metric"] < 0.7
    tanh = Trainer(Config(dataset="circle", activation="tanh"))
    tanh.step_epochs(200)
    assert tanh.metrics()["test_metric"] >= 0.95


def test_spiral_with_adam_reaches_90_percent():
    trainer = Trainer(Config(dataset="spiral", hidden=(8, 8, 8), optimizer="adam",
                             learning_rate=0.01))
    trainer.step_epochs(400)
    assert trainer.metrics()["test_metric"] >= 0.9


def test_digits_reach_90_percent():
    trainer = Trainer(Config(dataset="digits", n_points=1797, hidden=(32,), activation="relu",
                             optimizer="adam", learning_rate=0.003, batch_size=32))
    trainer.step_epochs(30)
    assert trainer.metrics()["test_metric"] >= 0.9


def test_divergence_stops_with_a_message_and_finite_weights():
    trainer = Trainer(Config(dataset="plane", activation="relu", learning_rate=10.0))
    trainer.step_epochs(50)
    assert trainer.stopped and trainer.stopped.startswith("Diverged at epoch")
    assert all(torch.isfinite(p).all() for p in trainer.params)
    assert trainer.step_epochs(5) == 0


def test_early_stopping():
    trainer = Trainer(Config(dataset="gauss", noise=50, hidden=(8, 8), patience=5,
                             optimizer="adam", learning_rate=0.1))
    trainer.step_epochs(500)
    assert trainer.stopped and trainer.stopped.startswith("Stopped early")
    assert trainer.epoch < 500


def test_live_changes_keep_progress_and_structural_changes_restart():
    trainer = Trainer(Config())
    trainer.step_epochs(5)
    assert not trainer.apply_config(trainer.config.replace(learning_rate=0.1, optimizer="adam"))
    assert trainer.epoch == 5 and trainer.optimizer.param_groups[0]["lr"] == 0.1
    trainer.step_epochs(1)
    assert trainer.apply_config(trainer.config.with_hidden((3,)))
    assert trainer.epoch == 0 and trainer.model.sizes == (2, 3, 1)


def test_every_optimizer_trains():
    for name in OPTIMIZERS:
        trainer = Trainer(Config(optimizer=name, learning_rate=0.01))
        trainer.step_epochs(2)
        assert trainer.epoch == 2, name


def test_new_settings_recover_from_divergence():
    trainer = Trainer(Config(dataset="plane", activation="relu", learning_rate=10.0))
    trainer.step_epochs(10)
    assert trainer.stopped.startswith("Diverged")
    trainer.apply_config(trainer.config.replace(learning_rate=0.01))
    assert trainer.stopped is None and trainer.step_epochs(3) == 3


def test_epoch_limit_stops_a_run():
    trainer = Trainer(Config(), max_epochs=5)
    assert trainer.step_epochs(10) == 5
    assert "limit of 5 epochs" in trainer.stopped
    trainer.reset()
    assert trainer.step_epochs(2) == 2


def test_state_and_restore_continue_exactly():
    config = Config(dataset="xor", optimizer="sgd")
    first = Trainer(config)
    first.step_epochs(7)
    second = Trainer(config)
    second.restore(first.state())
    assert second.epoch == 7
    for a, b in zip(first.params, second.params):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="do not fit"):
        Trainer(config.with_hidden((3,))).restore(first.state())
