"""The Trainer and its groups: a run agrees with plain autograd and torch.optim, a
member of a batched group ends exactly where it would alone, runs are deterministic,
learn, and stop cleanly when they diverge."""

import pytest
import torch

from playground.engine.config.config import Config
from playground.engine.nn.activations import ACTIVATIONS
from playground.engine.nn.backprop import PENALTIES
from playground.engine.nn.model import MLP
from playground.engine.nn.optimizers import OPTIMIZERS, SCHEDULES, TORCH_OPTIMIZERS
from playground.engine.train.group import Group, train_epochs, train_seconds
from playground.engine.train.trainer import Trainer


def reference_weights(config: Config, epochs: int) -> list[torch.Tensor]:
    """The textbook loop: model(x), loss.backward(), torch.optim's own optimizer."""
    trainer = Trainer(config)  # only for its data, initial weights and objective
    model = MLP.from_flat(trainer.layout, config.activation, config.dropout, trainer.params)
    obj = trainer.objective
    opt = TORCH_OPTIMIZERS[config.optimizer](model.parameters(), config.learning_rate,
                                             config.momentum)
    gen = torch.Generator().manual_seed(config.init_seed + 1)
    penalty = PENALTIES[config.regularization]
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


def layers(trainer: Trainer) -> list[torch.Tensor]:
    weights, biases = trainer.weights(), trainer.biases()
    return [t for pair in zip(weights, biases) for t in pair]


@pytest.mark.parametrize("changes", [
    dict(optimizer="sgd"),
    dict(optimizer="adam", learning_rate=0.01),
    dict(optimizer="adamw", learning_rate=0.01),
    dict(optimizer="momentum", regularization="l2", reg_rate=0.01),
    dict(optimizer="nesterov", momentum=0.8, learning_rate=0.01),
    dict(optimizer="rmsprop", learning_rate=0.003, lr_schedule="cosine", schedule_epochs=30),
    dict(optimizer="adagrad", dataset="spiral3", activation="relu", regularization="l2",
         reg_rate=0.001),
    dict(optimizer="sgd", dataset="xor", regularization="l1", reg_rate=0.003),
    dict(optimizer="sgd", dataset="plane", loss="mse", activation="sigmoid"),
    dict(optimizer="adam", dataset="spiral3", loss="mse", learning_rate=0.01),
])
def test_training_matches_autograd_and_torch_optim(changes):
    config = Config.from_values({"n_points": 200, **changes})
    trainer = Trainer(config)
    train_epochs(trainer, 100)
    for fast, slow in zip(layers(trainer), reference_weights(config, 100)):
        torch.testing.assert_close(fast, slow, atol=1e-5, rtol=1e-5)


def _members(base: Config) -> list[Config]:
    """Three runs of one shape that differ in everything a member keeps for itself."""
    return [base.replace(data_seed=0, init_seed=0),
            base.replace(data_seed=5, init_seed=9, learning_rate=base.learning_rate * 3,
                         momentum=0.5, reg_rate=base.reg_rate * 2),
            base.replace(data_seed=7, init_seed=2, learning_rate=base.learning_rate / 2,
                         features=("x1sq", "x2sq") if base.dataset != "digits" else base.features,
                         dropout=tuple(r / 2 for r in base.dropout))]


GROUP_CASES = (
    [dict(optimizer=name) for name in OPTIMIZERS]
    + [dict(activation=name) for name in ACTIVATIONS]
    + [dict(dataset="circle", loss="mse"), dict(dataset="spiral3"),
       dict(dataset="spiral3", loss="mse"), dict(dataset="multigauss"),
       dict(regularization="l1", reg_rate=0.01), dict(regularization="l2", reg_rate=0.01),
       dict(dropout=0.3, optimizer="adam"), dict(lr_schedule="cosine", schedule_epochs=7),
       dict(tf_math=True, batch_size=7),
       dict(tf_math=True, dataset="plane", regularization="l1", reg_rate=0.01)])


@pytest.mark.parametrize("changes", GROUP_CASES, ids=lambda c: ",".join(map(str, c.values())))
def test_a_group_member_ends_where_it_would_alone(changes):
    base = Config.from_values({"n_points": 120, "learning_rate": 0.03, **changes})
    alone = [Trainer(c) for c in _members(base)]
    together = [Trainer(c) for c in _members(base)]
    for trainer in alone:
        train_epochs(trainer, 25)
    with Group(together) as group:
        assert group.run_epochs(25) == 25
    for a, b in zip(alone, together):
        assert a.epoch == b.epoch == 25
        torch.testing.assert_close(b.params, a.params, atol=1e-5, rtol=1e-5)
        assert b.history.test_loss == pytest.approx(a.history.test_loss, rel=1e-4, abs=1e-6)
    # and the members got their own tensors back
    together[0].params += 1
    assert not torch.equal(together[0].params, alone[0].params)


def test_networks_with_different_optimizers_train_as_one_group_each_as_alone():
    """Every optimizer, interleaved: the group sorts them into slices of rows, each with
    its own update, and gives every member its own state back in its own order."""
    names = list(OPTIMIZERS)
    # (rates that keep float32 rounding from growing: a batched sum rounds otherwise)
    configs = [Config(n_points=120, optimizer=name, init_seed=i, learning_rate=0.01 + 0.002 * i)
               for i, name in enumerate(names + names[:3])]
    alone = [Trainer(c) for c in configs]
    together = [Trainer(c) for c in reversed(configs)]  # another order than the group's
    for trainer in alone:
        train_epochs(trainer, 20)
    with Group(together) as group:
        assert len(group.parts) == len(names)
        group.run_epochs(20)
    for a, b in zip(alone, reversed(together)):
        assert b.config == a.config and b.epoch == a.epoch == 20
        torch.testing.assert_close(b.params, a.params, atol=1e-5, rtol=1e-5)
        for slot, value in a.slots.items():
            torch.testing.assert_close(b.slots[slot], value, atol=1e-5, rtol=1e-5)


def test_a_group_refuses_members_of_different_shapes():
    with pytest.raises(ValueError, match="one shape"):
        Group([Trainer(Config()), Trainer(Config().with_hidden((3,)))])


def test_a_diverging_member_stops_and_the_others_go_on():
    steady = Trainer(Config(dataset="plane", activation="relu", learning_rate=0.01))
    wild = Trainer(Config(dataset="plane", activation="relu", learning_rate=10.0))
    with Group([steady, wild]) as group:
        for _ in range(50):
            group.run_epochs(1)
            if wild.stopped:
                break
    assert wild.stopped.startswith("Diverged") and torch.isfinite(wild.params).all()
    assert steady.stopped is None and steady.epoch == wild.epoch + 1


def test_same_config_and_seeds_give_bit_identical_weights():
    config = Config(dataset="spiral", hidden=(6, 6), optimizer="adam", dropout=0.2)
    first, second = Trainer(config), Trainer(config)
    train_epochs(first, 20)
    train_epochs(second, 20)
    assert torch.equal(first.params, second.params)
    other = Trainer(config.replace(init_seed=1))
    assert not torch.equal(other.params, Trainer(config).params)


def test_reset_keep_init_restarts_from_the_same_weights():
    trainer = Trainer(Config(dataset="xor"))
    start = trainer.params.clone()
    train_epochs(trainer, 5)
    first_run = trainer.params.clone()
    trainer.reset(keep_init=True)
    assert trainer.epoch == 0 and trainer.history.epoch == []
    assert torch.equal(trainer.params, start)
    train_epochs(trainer, 5)
    assert torch.equal(trainer.params, first_run)
    trainer.reset(keep_init=False)
    assert trainer.config.init_seed == 1
    assert not torch.equal(trainer.params, start)


def test_history_records_every_epoch():
    trainer = Trainer(Config())
    assert train_epochs(trainer, 3) == 3
    h = trainer.history
    assert h.epoch == [1, 2, 3]
    assert len(h.train_loss) == len(h.test_metric) == len(h.grad_norms) == 3
    assert len(h.weight_norms[0]) == 3  # three weight matrices for hidden 4-2
    assert h.weight_norms[-1][0] == pytest.approx(trainer.weights()[0].norm().item())


def test_train_for_respects_the_budget():
    trainer = Trainer(Config())
    assert train_seconds(trainer, 0.2) >= 1
    assert train_seconds(trainer, 10.0, max_epochs=3) == 3


def test_xor_reaches_95_percent():
    trainer = Trainer(Config(dataset="xor", learning_rate=0.03))
    train_epochs(trainer, 300)
    assert trainer.metrics()["test_metric"] >= 0.95


def test_circle_needs_a_nonlinearity():
    linear = Trainer(Config(dataset="circle", activation="linear"))
    train_epochs(linear, 200)
    assert linear.metrics()["test_metric"] < 0.7
    tanh = Trainer(Config(dataset="circle", activation="tanh"))
    train_epochs(tanh, 200)
    assert tanh.metrics()["test_metric"] >= 0.95


def test_spiral_with_adam_reaches_90_percent():
    trainer = Trainer(Config(dataset="spiral", hidden=(8, 8, 8), optimizer="adam",
                             learning_rate=0.01))
    train_epochs(trainer, 400)
    assert trainer.metrics()["test_metric"] >= 0.9


def test_digits_reach_90_percent():
    trainer = Trainer(Config(dataset="digits", n_points=1797, hidden=(32,), activation="relu",
                             optimizer="adam", learning_rate=0.003, batch_size=32))
    train_epochs(trainer, 30)
    assert trainer.metrics()["test_metric"] >= 0.9


def test_divergence_stops_with_a_message_and_finite_weights():
    trainer = Trainer(Config(dataset="plane", activation="relu", learning_rate=10.0))
    train_epochs(trainer, 50)
    assert trainer.stopped and trainer.stopped.startswith("Diverged at epoch")
    assert torch.isfinite(trainer.params).all()
    assert train_epochs(trainer, 5) == 0


def test_early_stopping_watches_the_validation_loss_and_restores_the_best_weights():
    config = Config(dataset="gauss", noise=50, hidden=(8, 8), patience=5, validation=20,
                    optimizer="adam", learning_rate=0.1)
    trainer = Trainer(config)
    assert (len(trainer.x_train), len(trainer.x_val)) == (200, 50)  # 20 % of 250 held out
    train_epochs(trainer, 500)
    assert trainer.stopped and trainer.stopped.startswith("Stopped early")
    assert trainer.epoch < 500
    val = trainer.history.val_loss
    best_epoch = trainer.history.epoch[val.index(min(val))]
    assert f"back to epoch {best_epoch}'s" in trainer.stopped
    # the weights now are that epoch's: a fresh run to it gives them bit for bit
    again = Trainer(config.replace(patience=0))
    train_epochs(again, best_epoch)
    assert torch.equal(trainer.params, again.params)
    assert trainer.history.last["val_loss"] == pytest.approx(min(val))
    assert trainer.history.last["epoch"] == trainer.epoch


def test_early_stopping_keeps_its_best_epoch_when_the_same_settings_or_a_speed_arrive():
    """The page sends its Config again (a rerun, a slower speed): that is no new start for
    early stopping, or it would stop 'patience' epochs after any click."""
    config = Config(dataset="gauss", noise=50, hidden=(8, 8), patience=5, validation=20,
                    optimizer="adam", learning_rate=0.1)
    alone, poked = Trainer(config), Trainer(config)
    train_epochs(alone, 500)
    for _ in range(100):
        if poked.stopped:
            break
        train_epochs(poked, 3)
        poked.apply_config(config)
        poked.apply_config(config.replace(speed=10.0))
        poked.apply_config(config)
    assert poked.stopped == alone.stopped and poked.epoch == alone.epoch
    assert torch.equal(poked.params, alone.params)
    poked.apply_config(config.replace(learning_rate=0.01))  # a new setting: a new chance
    assert poked.stopped is None


def test_the_validation_points_are_training_points_the_network_never_fits():
    trainer = Trainer(Config(validation=30, data_seed=4))
    whole = Trainer(Config(data_seed=4))
    together = torch.cat([trainer.x_train, trainer.x_val])
    assert sorted(map(tuple, together.tolist())) == sorted(map(tuple, whole.x_train.tolist()))
    assert torch.equal(trainer.x_test, whole.x_test)  # the test points are untouched
    assert len(trainer.x_val) == 75
    assert trainer.history.last["val_loss"] is not None
    assert whole.history.last["val_loss"] is None


def test_early_stopping_without_a_validation_share_is_refused_in_one_sentence():
    config, warnings = Config.from_params({"patience": "30"})
    assert config.patience == 0
    assert warnings == ["Ignored patience: early stopping watches the validation loss: hold "
                        "out a validation share of the training points first."]


def test_live_changes_keep_progress_and_structural_changes_restart():
    trainer = Trainer(Config())
    train_epochs(trainer, 5)
    assert not trainer.apply_config(trainer.config.replace(learning_rate=0.1, optimizer="adam"))
    assert trainer.epoch == 5 and trainer.learning_rate == 0.1
    assert set(trainer.slots) == {"exp_avg", "exp_avg_sq"}
    train_epochs(trainer, 1)
    assert trainer.apply_config(trainer.config.with_hidden((3,)))
    assert trainer.epoch == 0 and trainer.layout.sizes == (2, 3, 1)


def test_history_stays_bounded_on_a_long_run():
    trainer = Trainer(Config(n_points=20, batch_size=20))
    trainer.history.max_rows = 50
    train_epochs(trainer, 1000)
    epochs = trainer.history.epoch
    assert len(epochs) <= 50 and epochs == sorted(epochs) and trainer.history.last["epoch"] == 1000
    assert all(e % trainer.history.stride == 0 for e in epochs)


def test_new_settings_recover_from_divergence():
    trainer = Trainer(Config(dataset="plane", activation="relu", learning_rate=10.0))
    train_epochs(trainer, 10)
    assert trainer.stopped.startswith("Diverged")
    trainer.apply_config(trainer.config.replace(learning_rate=0.01))
    assert trainer.stopped is None and train_epochs(trainer, 3) == 3


def test_epoch_limit_stops_a_run():
    trainer = Trainer(Config(), max_epochs=5)
    assert train_epochs(trainer, 10) == 5
    assert "limit of 5 epochs" in trainer.stopped
    trainer.reset()
    assert train_epochs(trainer, 2) == 2


def test_state_and_restore_continue_exactly():
    config = Config(dataset="xor", optimizer="adam", dropout=0.2)
    first = Trainer(config)
    train_epochs(first, 7)
    second = Trainer(config)
    second.restore(first.state())
    assert second.epoch == 7
    assert torch.equal(first.params, second.params)
    train_epochs(first, 5)
    train_epochs(second, 5)
    assert torch.equal(first.params, second.params)
    with pytest.raises(ValueError, match="do not fit"):
        Trainer(config.with_hidden((3,))).restore(first.state())
