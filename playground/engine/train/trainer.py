"""The Trainer: one network's training state (a member of a Group), no I/O.

A Trainer holds its data, its parameters as one flat vector, its optimizer
state, its random generator, its epoch and its history. Only a Group trains it
(``group.py``: ``train_epochs`` and ``train_seconds`` make a group of one); the server's
workers put many same-shaped Trainers in one Group and train them together, which gives
each of them exactly what it would get alone. Randomness is explicit: the data seed makes
the data, the init seed makes the initial weights, the shuffling and the dropout masks,
so the same Config gives the same weights bit for bit. With ``tf_math`` the initialization,
the loss, the update rule (``nn/tf_rule.py``) and the batch order are the TensorFlow
Playground's (``formats/tfplayground.py``).
"""

from __future__ import annotations

import base64
import math

import numpy as np
import torch

from playground.engine.config.config import Config
from playground.engine.data.datasets import Dataset
from playground.engine.data.features import feature_matrix
from playground.engine.data.points import points_dataset
from playground.engine.nn import tf_rule
from playground.engine.nn.backprop import PENALTIES, Net
from playground.engine.nn.losses import HEADS, head_name, objective
from playground.engine.nn.model import ParamLayout, init_params
from playground.engine.nn.optimizers import OPTIMIZERS, SCHEDULES
from playground.engine.train.history import History
from playground.engine.train.metrics import measure_stack

torch.set_num_threads(1)  # faster than several threads for nets this small (measured)
DATA_FIELDS = ("dataset", "noise", "train_ratio", "validation", "n_points", "data_seed",
               "features", "tf_math", "data")  # TF math has its own number of regression points


def prepare_inputs(config: Config, dataset: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """Feature matrices (train, test) for the network's input layer."""
    return (torch.from_numpy(feature_matrix(dataset.x_train, config.features)),
            torch.from_numpy(feature_matrix(dataset.x_test, config.features)))


PACE_FIELDS = ("speed",)  # how fast to train, not how: no new run of early stopping


def validation_rows(n_train: int, percent: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows fitted, rows held out for validation) of the training points: ``percent`` of
    them (at least one when asked, one left to fit), picked by a generator of their own
    seeded by the data seed; both in their original order."""
    n_val = min(max(round(n_train * percent / 100), 1), n_train - 1) if percent else 0
    held = np.zeros(n_train, dtype=bool)
    if n_val > 0:
        held[np.random.default_rng([seed, 1]).permutation(n_train)[:n_val]] = True
    return np.flatnonzero(~held), np.flatnonzero(held)


def pack(tensor: torch.Tensor) -> str:
    """Exact and compact: the raw bytes, base64 (JSON-safe, never a pickle)."""
    return base64.b64encode(tensor.detach().contiguous().numpy().tobytes()).decode("ascii")


def unpack(text: str, size: int, dtype: np.dtype = np.float32) -> torch.Tensor:
    values = np.frombuffer(base64.b64decode(text), dtype=dtype)
    if values.size != size:
        raise ValueError("the saved weights do not fit this network")
    return torch.from_numpy(values.copy())


def initial_params(config: Config, layout: ParamLayout | None = None) -> torch.Tensor:
    """The initial weights this Config's network starts from (its init scheme and seed)."""
    return init_params(layout or config.layout(), tf_rule.INIT if config.tf_math else config.init,
                       config.init_seed)


class Trainer:
    def __init__(self, config: Config, dataset: Dataset | None = None,
                 max_epochs: int | None = None) -> None:
        config.validate()
        self.config = config
        self.max_epochs = max_epochs  # a hosted server's cap on one run
        self._custom_dataset = dataset
        self._build()

    # -- building ----------------------------------------------------------------------
    def _build(self, keep_data: bool = False, measure: bool = True) -> None:
        c = self.config
        if not keep_data:
            self._load_data()
        n_out = self.head.n_outputs(self.dataset.n_classes)
        self.layout = ParamLayout((self.x_train.shape[1], *c.hidden, n_out))
        self.params = initial_params(c, self.layout)
        self.last_good = self.params.clone()  # the newest finite weights
        self.full_grad = torch.zeros_like(self.params)  # over the whole training set
        # one generator for shuffling and dropout, seeded apart from the weights' one
        self.generator = torch.Generator().manual_seed(c.init_seed + 1)
        self.epoch = 0
        self.history = History()
        self.stopped: str | None = None  # why training stopped by itself, for the page
        self._best_val_loss = math.inf
        self._best_epoch = 0
        self._best_params: torch.Tensor | None = None  # early stopping goes back to these
        self._apply_training_settings(new_optimizer=True)
        if measure:
            self._measure_now()

    def _load_data(self) -> None:
        """The Config's points (own or generated) as the network's inputs and targets."""
        c = self.config
        self.dataset = self._custom_dataset or points_dataset(c)
        x_train, self.x_test = prepare_inputs(c, self.dataset)
        self.head_name = head_name(self.dataset.task, self.dataset.n_classes)
        self.head = HEADS[self.head_name]
        y_train = self.head.target(self.dataset.y_train)
        self.y_test = self.head.target(self.dataset.y_test)
        # the validation points come out of the training points: the network never fits
        # them, and the test points stay unseen by every choice made while training
        fit, held = (torch.from_numpy(rows) for rows in
                     validation_rows(len(x_train), c.validation, c.data_seed))
        self.x_train, self.y_train = x_train[fit], y_train[fit]
        self.x_val, self.y_val = x_train[held], y_train[held]

    def _measure_now(self) -> None:
        """The metrics of the weights as they are (shown before the next epoch; not a
        history row): at epoch 0, or after a restore."""
        data = (self.x_train, self.y_train, self.x_test, self.y_test, self.x_val, self.y_val)
        params = self.params.unsqueeze(0)  # a stack of one: views of this network's tensors
        weights, biases = self.layout.split(params)
        rows, finite = measure_stack([self], Net(weights, biases, self.config.activation), params,
                                     self.full_grad.unsqueeze(0), [t.unsqueeze(0) for t in data],
                                     self.objective, self.head)
        self.history.last = rows[0] if finite[0] else None

    def load_params(self, params: torch.Tensor) -> None:
        """Start again at epoch 0 from these weights (an imported file): the same data, a
        fresh optimizer state, generator and history."""
        if params.shape != (self.layout.size,):
            raise ValueError("the weights do not fit this network")
        self._build(keep_data=True, measure=False)  # measured below, with these weights
        with torch.no_grad():
            self.params.copy_(params)
            self.last_good.copy_(params)
        self._measure_now()

    def set_param(self, kind: str, layer: int, to: int, frm: int, value: float) -> None:
        """Set one weight (``frm`` -> ``to`` of a layer) or bias (of ``to``) by hand, as a
        visitor does on the drawing; the metrics follow at once."""
        weights, biases = self.layout.split(self.params)
        with torch.no_grad():
            if kind == "weight":
                weights[layer][to, frm] = value
            else:
                biases[layer][to] = value
            self.last_good.copy_(self.params)
        self._measure_now()

    def _apply_training_settings(self, new_optimizer: bool) -> None:
        c = self.config
        self.objective = objective(c.loss, self.head_name, tf_math=c.tf_math)
        self.penalty = PENALTIES[c.regularization]
        if new_optimizer:
            names = tf_rule.SLOTS if c.tf_math else OPTIMIZERS[c.optimizer].slots
            self.slots = {name: torch.zeros_like(self.params) for name in names}
            self.steps = torch.zeros(1, dtype=torch.float64)  # optimizer steps taken

    # -- reading -----------------------------------------------------------------------
    @property
    def learning_rate(self) -> float:
        c = self.config
        return c.learning_rate * SCHEDULES[c.lr_schedule](self.epoch, c.schedule_epochs)

    @property
    def group_key(self) -> tuple:
        """Trainers with equal keys can be trained as one batched computation."""
        c = self.config
        return (self.layout.sizes, c.activation, tuple(rate > 0 for rate in c.dropout),
                self.head_name, self.objective, c.tf_math, c.regularization,
                self.x_train.shape[0], self.x_val.shape[0], self.x_test.shape[0],
                min(c.batch_size, self.x_train.shape[0]))

    def net(self) -> Net:
        weights, biases = self.layout.split(self.params)
        return Net(weights, biases, self.config.activation)

    def weights(self) -> list[torch.Tensor]:
        return self.layout.split(self.params)[0]

    def biases(self) -> list[torch.Tensor]:
        return self.layout.split(self.params)[1]

    @property
    def full_gradients(self) -> list[torch.Tensor]:
        """Each layer's weight gradient over the whole training set (last epoch)."""
        return self.layout.split(self.full_grad)[0]

    def metrics(self) -> dict[str, float | int | str | None]:
        last = self.history.last or {}
        return {"epoch": self.epoch, "train_loss": last.get("train_loss"),
                "test_loss": last.get("test_loss"), "metric": self.head.metric_name,
                "train_metric": last.get("train_metric"),
                "test_metric": last.get("test_metric"), "stopped": self.stopped}

    # -- controls ----------------------------------------------------------------------
    def reset(self, keep_init: bool = True) -> None:
        """Back to epoch 0: the same initial weights, or new ones (next init seed)."""
        if not keep_init:
            self.config = self.config.replace(init_seed=self.config.next_seed("init_seed"))
        self._build(keep_data=True)

    def apply_config(self, config: Config) -> bool:
        """Switch to a new Config; returns True when that restarted training at epoch 0."""
        config.validate()
        old = self.config
        self.config = config
        if old.restarts(config):
            self._build(keep_data=all(getattr(old, n) == getattr(config, n)
                                      for n in DATA_FIELDS))
            return True
        # TF math keeps its sums: it has no optimizer to change
        new_optimizer = not config.tf_math and (old.optimizer != config.optimizer
                                                or old.momentum != config.momentum)
        self._apply_training_settings(new_optimizer=new_optimizer)
        if old.data != config.data:  # edited points: the same network trains on
            self._load_data()
            self._measure_now()
        if config.tf_math and old.regularization != config.regularization:
            self.slots["dead"].zero_()  # the links L1 killed come back with another penalty
        # new training settings deserve a new chance (after a divergence, from the last
        # finite weights); the same settings sent again, the speed or the picture do not:
        # early stopping keeps its memory of the best epoch
        if any(Config.__dataclass_fields__[name].metadata["effect"] == "live"
               for name in old.changed_fields(config) if name not in PACE_FIELDS):
            self.stopped = None
            self._best_val_loss, self._best_epoch, self._best_params = (math.inf, self.epoch,
                                                                        None)
        self._check_epoch_limit()
        return False

    # -- training ----------------------------------------------------------------------
    def finish_epoch(self, row: dict | None) -> None:
        """The group's report on the epoch it just trained: its metrics, or None when the
        loss or the weights stopped being finite (the group kept the last finite ones)."""
        if row is None:
            self.stopped = (f"Diverged at epoch {self.epoch + 1}: the loss or the weights "
                            "became infinite. Showing the last finite weights; try a smaller "
                            "learning rate.")
            return
        self.epoch = row["epoch"]
        self.history.append(row)
        patience, val_loss = self.config.patience, row["val_loss"]
        if patience and val_loss is not None:
            if val_loss < self._best_val_loss:
                self._best_val_loss, self._best_epoch = val_loss, self.epoch
                self._best_params = self.params.clone()
            elif self.epoch - self._best_epoch >= patience:
                self.stopped = (f"Stopped early at epoch {self.epoch}: the validation loss "
                                f"has not improved for {patience} epochs. The weights are back "
                                f"to epoch {self._best_epoch}'s, where it was lowest.")
        self._check_epoch_limit()

    def best_weights_due(self) -> torch.Tensor | None:
        """The weights early stopping goes back to, once it has just stopped (as Keras's
        ``restore_best_weights``); None otherwise. The group puts them in place."""
        if self.stopped and self.stopped.startswith("Stopped early") and \
                self._best_params is not None:
            best, self._best_params = self._best_params, None
            return best
        return None

    def _check_epoch_limit(self) -> None:
        if self.max_epochs is not None and self.epoch >= self.max_epochs:
            self.stopped = (f"Reached this server's limit of {self.max_epochs:,} epochs for one "
                            "run; press Reset to start again.")

    # -- snapshots ---------------------------------------------------------------------
    def state(self) -> dict:
        """Everything needed to continue exactly: weights, optimizer state, generator,
        epoch (JSON-safe text, never a pickle)."""
        best = self._best_val_loss
        return {"epoch": self.epoch, "config": self.config.to_params(),
                "params": pack(self.params),
                "slots": {name: pack(value) for name, value in self.slots.items()},
                "steps": float(self.steps.item()),
                "generator": pack(self.generator.get_state()),
                "best": [best if math.isfinite(best) else None, self._best_epoch],
                **({"best_params": pack(self._best_params)}
                   if self._best_params is not None else {})}

    def restore(self, state: dict) -> None:
        """Continue from a ``state()``; shapes must match this Config's network."""
        size = self.layout.size
        params = unpack(state["params"], size)
        slots = {name: unpack(state.get("slots", {}).get(name, ""), size)
                 if name in state.get("slots", {}) else torch.zeros(size)
                 for name in self.slots}
        with torch.no_grad():
            self.params.copy_(params)
            self.last_good.copy_(params)
            for name, value in slots.items():
                self.slots[name].copy_(value)
            self.steps.fill_(float(state.get("steps", 0.0)))
        if "generator" in state:
            raw = base64.b64decode(state["generator"])
            self.generator.set_state(torch.frombuffer(bytearray(raw), dtype=torch.uint8))
        self.epoch = int(state["epoch"])
        best, best_epoch = state.get("best", [None, self.epoch])
        self._best_val_loss = math.inf if best is None else float(best)
        self._best_epoch = int(best_epoch)
        self._best_params = (unpack(state["best_params"], size) if "best_params" in state
                             else None)
        self.history.truncate_after(self.epoch)
        self._measure_now()
