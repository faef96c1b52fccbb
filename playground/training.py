"""The Trainer: step-wise, time-budgeted PyTorch training with no I/O and no UI.

It advances by a count (``step_epochs``) or a time budget (``train_for``) so that
whoever hosts it (the CLI, a trainer process, a test) decides when to look at
it. Gradients come from ``backprop`` (checked against autograd); the update is a
real ``torch.optim`` optimizer. Randomness is explicit: the data seed makes the
data, the init seed makes the initial weights, the shuffling and the dropout
masks, so the same Config gives the same weights bit for bit.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from playground import backprop
from playground.config import Config
from playground.datasets import Dataset, load_dataset
from playground.features import feature_matrix
from playground.losses import HEADS, head_name, objective
from playground.model import MLP, build_model
from playground.optimizers import OPTIMIZERS, SCHEDULES

torch.set_num_threads(1)  # faster than several threads for nets this small (measured)


@dataclass
class History:
    """One entry per finished epoch."""

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    train_metric: list[float] = field(default_factory=list)  # accuracy or R²
    test_metric: list[float] = field(default_factory=list)
    learning_rate: list[float] = field(default_factory=list)
    weight_norms: list[list[float]] = field(default_factory=list)  # per layer
    grad_norms: list[list[float]] = field(default_factory=list)  # full training set, per layer


def prepare_inputs(config: Config, dataset: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """Feature matrices (train, test) for the network's input layer."""
    return (torch.from_numpy(feature_matrix(dataset.x_train, config.features)),
            torch.from_numpy(feature_matrix(dataset.x_test, config.features)))


class Trainer:
    def __init__(self, config: Config, dataset: Dataset | None = None,
                 max_epochs: int | None = None) -> None:
        config.validate()
        self.config = config
        self.max_epochs = max_epochs  # a hosted server's cap on one run
        self._custom_dataset = dataset
        self._build()

    # -- building ----------------------------------------------------------------------
    def _build(self, keep_data: bool = False) -> None:
        c = self.config
        if not keep_data:
            self.dataset = self._custom_dataset or load_dataset(
                c.dataset, c.n_points, c.noise, c.train_ratio, c.data_seed)
            self.x_train, self.x_test = prepare_inputs(c, self.dataset)
            self.head_name = head_name(self.dataset.task, self.dataset.n_classes)
            self.head = HEADS[self.head_name]
            self.y_train = self.head.target(self.dataset.y_train)
            self.y_test = self.head.target(self.dataset.y_test)
        n_out = self.head.n_outputs(self.dataset.n_classes)
        self.model: MLP = build_model(self.x_train.shape[1], n_out, c.hidden, c.activation,
                                      c.dropout, c.init, c.init_seed)
        self.params = list(self.model.parameters())
        self._last_good = [p.detach().clone() for p in self.params]
        self.full_gradients = [torch.zeros_like(w) for w in self.model.weights()]
        # one generator for shuffling and dropout, seeded apart from the weights' one
        self.generator = torch.Generator().manual_seed(c.init_seed + 1)
        self.epoch = 0
        self.history = History()
        self.stopped: str | None = None  # why training stopped by itself, for the page
        self._best_test_loss = math.inf
        self._best_epoch = 0
        self._apply_training_settings(new_optimizer=True)

    def _apply_training_settings(self, new_optimizer: bool) -> None:
        c = self.config
        self.objective = objective(c.loss, self.head_name)
        self.penalty = backprop.PENALTIES[c.regularization]
        self.model.dropout_rates = tuple(c.dropout)
        if new_optimizer:
            self.optimizer = OPTIMIZERS[c.optimizer](self.params, c.learning_rate, c.momentum)
        self._set_learning_rate()

    def _set_learning_rate(self) -> None:
        c = self.config
        self.learning_rate = c.learning_rate * SCHEDULES[c.lr_schedule](self.epoch,
                                                                       c.schedule_epochs)
        for group in self.optimizer.param_groups:
            group["lr"] = self.learning_rate

    # -- controls ----------------------------------------------------------------------
    def reset(self, keep_init: bool = True) -> None:
        """Back to epoch 0: the same initial weights, or new ones (next init seed)."""
        if not keep_init:
            self.config = self.config.replace(init_seed=(self.config.init_seed + 1) % 2**31)
        self._build(keep_data=True)

    def apply_config(self, config: Config) -> bool:
        """Switch to a new Config; returns True when that restarted training at epoch 0."""
        config.validate()
        changed = self.config.changed_fields(config)
        effects = {Config.__dataclass_fields__[name].metadata["effect"] for name in changed}
        old = self.config
        self.config = config
        if "restart" in effects:
            self._build(keep_data=all(
                getattr(old, n) == getattr(config, n)
                for n in ("dataset", "noise", "train_ratio", "n_points", "data_seed", "features")))
            return True
        new_optimizer = old.optimizer != config.optimizer or old.momentum != config.momentum
        self._apply_training_settings(new_optimizer=new_optimizer)
        # new settings deserve a new chance; after a divergence, from the last finite weights
        self.stopped = None
        self._best_test_loss, self._best_epoch = math.inf, self.epoch
        self._check_epoch_limit()
        return False

    # -- training ----------------------------------------------------------------------
    def step_epochs(self, n: int = 1) -> int:
        """Train up to n epochs; returns how many ran (fewer once training stops)."""
        done = 0
        while done < n and not self.stopped:
            self._one_epoch()
            done += 1
        return done

    def train_for(self, seconds: float, max_epochs: int | None = None) -> int:
        """Train whole epochs until the time budget is spent; returns how many ran."""
        deadline = time.perf_counter() + seconds
        done = 0
        while not self.stopped and (max_epochs is None or done < max_epochs):
            self._one_epoch()
            done += 1
            if time.perf_counter() >= deadline:
                break
        return done

    def _one_epoch(self) -> None:
        c = self.config
        self._set_learning_rate()
        n = self.x_train.shape[0]
        batch = min(c.batch_size, n)
        order = torch.randperm(n, generator=self.generator)
        xs, ys = self.x_train[order], self.y_train[order]
        dropout_gen = self.generator if any(self.model.dropout_rates) else None
        with torch.no_grad():
            for start in range(0, n, batch):
                xb, yb = xs[start:start + batch], ys[start:start + batch]
                fp = backprop.forward(self.model, xb, dropout_gen)
                d_output = self.objective.grad(fp.output, yb)
                self._set_grads(backprop.backward(self.model, fp, d_output))
                self.optimizer.step()
            self.epoch += 1
            self._record()

    def _set_grads(self, grads: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        rate = self.config.reg_rate
        for layer, (g_w, g_b) in zip(self.model.layers, grads):
            if self.penalty is not None and rate > 0:
                g_w = g_w + rate * self.penalty.grad(layer.weight)
            layer.weight.grad = g_w
            layer.bias.grad = g_b

    def _record(self) -> None:
        fp = backprop.forward(self.model, self.x_train)
        train_loss = self.objective.value(fp.output, self.y_train).item()
        if not math.isfinite(train_loss) or not all(
                torch.isfinite(p).all() for p in self.params):
            torch._foreach_copy_(self.params, self._last_good)
            self.stopped = (f"Diverged at epoch {self.epoch}: the loss became infinite. "
                            "Showing the last finite weights; try a smaller learning rate.")
            self.epoch -= 1
            return
        torch._foreach_copy_(self._last_good, [p.detach() for p in self.params])
        grads = backprop.backward(self.model, fp, self.objective.grad(fp.output, self.y_train))
        self.full_gradients = [g for g, _ in grads]  # for the gradient histograms
        test_out = backprop.forward(self.model, self.x_test).output
        test_loss = self.objective.value(test_out, self.y_test).item()
        h = self.history
        h.epoch.append(self.epoch)
        h.train_loss.append(train_loss)
        h.test_loss.append(test_loss)
        h.train_metric.append(self.head.metric(fp.output, self.y_train))
        h.test_metric.append(self.head.metric(test_out, self.y_test))
        h.learning_rate.append(self.learning_rate)
        h.weight_norms.append(torch.stack(torch._foreach_norm(self.model.weights())).tolist())
        h.grad_norms.append(torch.stack(torch._foreach_norm([g for g, _ in grads])).tolist())
        self._check_early_stop(test_loss)
        self._check_epoch_limit()

    def _check_epoch_limit(self) -> None:
        if self.max_epochs is not None and self.epoch >= self.max_epochs:
            self.stopped = (f"Reached this server's limit of {self.max_epochs:,} epochs for one "
                            "run; press Reset to start again.")

    def _check_early_stop(self, test_loss: float) -> None:
        if test_loss < self._best_test_loss:
            self._best_test_loss, self._best_epoch = test_loss, self.epoch
        patience = self.config.patience
        if patience and self.epoch - self._best_epoch >= patience:
            self.stopped = (f"Stopped early at epoch {self.epoch}: the test loss has not "
                            f"improved for {patience} epochs (best at epoch {self._best_epoch}).")

    # -- snapshots ---------------------------------------------------------------------
    def state(self) -> dict:
        """Exact weights and the epoch, as plain lists (JSON, never pickles)."""
        return {"epoch": self.epoch, "config": self.config.to_params(),
                "params": [p.detach().tolist() for p in self.params]}

    def restore(self, state: dict) -> None:
        """Continue from a ``state()``; shapes must match this Config's network."""
        tensors = [torch.tensor(values, dtype=torch.float32) for values in state["params"]]
        if [t.shape for t in tensors] != [p.shape for p in self.params]:
            raise ValueError("the saved weights do not fit this network")
        with torch.no_grad():
            torch._foreach_copy_(self.params, tensors)
            torch._foreach_copy_(self._last_good, tensors)
        self.epoch = int(state["epoch"])
        self._set_learning_rate()

    # -- reading -----------------------------------------------------------------------
    def predict(self, x: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Probabilities (classification) or values (regression) for feature rows."""
        with torch.no_grad():
            return self.head.predict(backprop.forward(self.model, torch.as_tensor(x)).output)

    def metrics(self) -> dict[str, float | int | str | None]:
        h = self.history

        def last(values: list[float]) -> float | None:
            return values[-1] if values else None

        return {"epoch": self.epoch, "train_loss": last(h.train_loss),
                "test_loss": last(h.test_loss), "metric": self.head.metric_name,
                "train_metric": last(h.train_metric), "test_metric": last(h.test_metric),
                "stopped": self.stopped}
