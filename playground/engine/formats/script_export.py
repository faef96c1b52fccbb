"""A run as a standalone PyTorch script: the textbook loop a visitor can take further.

The script imports only torch and the standard library. It embeds the exact data
(the network's input features as float32), rebuilds the initial weights with the
same generator calls as ``model.init_params``, shuffles and draws dropout masks from a
generator seeded as the Trainer's, and trains with autograd and ``torch.optim``: the
very loop the tests use as the Trainer's reference, so its losses match the page's
(to float rounding). TF math (``tfplayground.py``) is not torch.optim's; it is refused.

Float rounding is where it ends: autograd and torch.optim round in another order than
the engine's batched formulas, and a chaotic run (Adam at a learning rate of 0.1, say)
grows those last-bit differences until the losses part (2x by epoch 5). Rather than
promise what cannot hold, ``stability`` trains the run twice more in the engine, once
from weights changed by one part in a million; if that moves the training loss by more
than 1%, rounding will too, and the script and the page say so plainly.

Each knob that changes code has a registry of snippets below, keyed like the engine's
own registry; the tests check that they cover every entry.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from string import Template

import numpy as np

from playground.engine.config.config import Config
from playground.engine.data.features import feature_matrix
from playground.engine.data.points import points_dataset
from playground.engine.nn.activations import ACTIVATIONS
from playground.engine.nn.losses import HEADS, LOSSES, head_name
from playground.engine.train.trainer import validation_rows

CHECK_EPOCHS = 50  # the stability check trains at most this many epochs (twice)
NUDGE = 1e-6  # the check's change to every initial weight: a few float32 roundings
SPREAD = 0.01  # a relative change of the training loss beyond this: too unstable

# the weights of one ``layer`` from ``generator``, as model.INITIALIZERS does it
INIT_CODE = {
    "xavier": "nn.init.xavier_uniform_(layer.weight, generator=generator)\n"
              "nn.init.zeros_(layer.bias)",
    "he": "nn.init.kaiming_uniform_(layer.weight, nonlinearity=\"relu\", generator=generator)\n"
          "nn.init.zeros_(layer.bias)",
    "uniform": "nn.init.uniform_(layer.weight, -0.5, 0.5, generator=generator)\n"
               "nn.init.constant_(layer.bias, 0.1)",
    "zeros": "nn.init.zeros_(layer.weight)\n"
             "nn.init.zeros_(layer.bias)",
}
# (loss, head) as losses.OBJECTIVES: the mean over the batch of ``output`` against ``target``
LOSS_CODE = {
    ("cross_entropy", "binary"): "F.binary_cross_entropy_with_logits(output, target)",
    ("cross_entropy", "multiclass"): "F.cross_entropy(output, target)",
    ("mse", "binary"): "F.mse_loss(torch.sigmoid(output), target)",
    ("mse", "multiclass"): "F.mse_loss(torch.softmax(output, dim=1), "
                           "F.one_hot(target, output.shape[1]).float())",
    ("mse", "regression"): "F.mse_loss(output, target)",
}
TARGET_CODE = {  # the stored labels as the loss takes them
    "binary": "torch.tensor(labels, dtype=torch.float32).reshape(-1, 1)",
    "multiclass": "torch.tensor(labels, dtype=torch.int64)",
    "regression": "torch.tensor(labels, dtype=torch.float32).reshape(-1, 1)",
}
METRIC_CODE = {  # as the heads' metrics in losses.py
    "binary": "((output > 0).float() == target).float().mean()",
    "multiclass": "(output.argmax(dim=1) == target).float().mean()",
    "regression": "1.0 - ((target - output) ** 2).sum() / ((target - target.mean()) ** 2).sum()",
}
PENALTY_CODE = {  # as backprop.PENALTIES, at rate REG_RATE; biases are not penalized
    "none": None,
    "l1": "REG_RATE * sum(layer.weight.abs().sum() for layer in model.layers)",
    "l2": "REG_RATE * 0.5 * sum((layer.weight ** 2).sum() for layer in model.layers)",
}
SCHEDULE_CODE = {  # as optimizers.SCHEDULES: the learning rate of an epoch (from 0)
    "constant": "LEARNING_RATE",
    "step": "LEARNING_RATE * 0.5 ** (epoch // SCHEDULE_EPOCHS)",
    "exponential": "LEARNING_RATE * 0.5 ** (epoch / SCHEDULE_EPOCHS)",
    "cosine": "LEARNING_RATE * (0.5 * (1.0 + math.cos(math.pi * epoch / SCHEDULE_EPOCHS)))",
}
OPTIMIZER_CODE = {  # as optimizers.TORCH_OPTIMIZERS
    "sgd": "torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)",
    "momentum": "torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM)",
    "nesterov": "torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM, "
                "nesterov=True)",
    "adam": "torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)",
    "adamw": "torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE)",
    "rmsprop": "torch.optim.RMSprop(model.parameters(), lr=LEARNING_RATE)",
    "adagrad": "torch.optim.Adagrad(model.parameters(), lr=LEARNING_RATE)",
}

SCRIPT = Template('''\
"""A neural network playground run, in plain PyTorch.

Settings (those that differ from the playground's defaults):
$settings

Run it with `python <this file>`: it trains $epochs epochs and prints the losses, the
last line as `final train_loss=... test_loss=...`. The data (at the end of this file,
exact), the initial weights, the shuffling, the dropout masks and the optimizer are the
playground's, so the numbers match the page's up to float rounding.

$stability

To start from weights the playground saved (.safetensors), after `initialize(model)`:
    from safetensors.torch import load_file
    model.load_state_dict(load_file("weights.safetensors"))
"""

import copy
import math

import torch
from torch import nn
from torch.nn import functional as F

torch.set_num_threads(1)  # networks this small: one thread is the fastest

EPOCHS = $epochs
LAYER_SIZES = $sizes  # inputs ($inputs), hidden layers, outputs
DROPOUT = $dropout  # rate per hidden layer
$constants
INIT_SEED = $init_seed  # the initial weights; INIT_SEED + 1 the shuffling and dropout
REPRODUCIBLE = $reproducible  # False: rounding differences grow (see the top of this file)


class SeededDropout(nn.Module):
    """Inverted dropout whose masks come from the given generator rather than the
    global one, so that a run repeats exactly."""

    def __init__(self, rate: float, generator: torch.Generator) -> None:
        super().__init__()
        self.rate, self.generator = rate, generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.rate == 0:
            return x
        keep = torch.bernoulli(torch.full(x.shape, 1.0 - self.rate), generator=self.generator)
        return x * (keep / (1.0 - self.rate))


class MLP(nn.Module):
    def __init__(self, generator: torch.Generator) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(n_in, n_out)
                                    for n_in, n_out in zip(LAYER_SIZES, LAYER_SIZES[1:]))
        self.activations = nn.ModuleList([$activations])
        self.dropouts = nn.ModuleList(SeededDropout(rate, generator) for rate in DROPOUT)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer, activation, dropout in zip(self.layers, self.activations, self.dropouts):
            x = dropout(activation(layer(x)))
        return self.layers[-1](x)


def initialize(model: MLP) -> None:
    """The playground's initial weights: one generator, layer after layer."""
    generator = torch.Generator().manual_seed(INIT_SEED)
    with torch.no_grad():
        for layer in model.layers:
$init


def loss_fn(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return $loss
$penalty

def metric(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The $metric."""
    return $metric_code


def learning_rate(epoch: int) -> float:
    return $schedule


def evaluate(model: MLP, x: torch.Tensor, target: torch.Tensor) -> tuple[float, float]:
    """Loss and $metric on a whole set, without dropout."""
    model.eval()
    with torch.no_grad():
        output = model(x)
        return loss_fn(output, target).item(), metric(output, target).item()


def targets(labels: list) -> torch.Tensor:
    return $target


def main() -> None:
    if not REPRODUCIBLE:
        print("note: this run is too unstable to reproduce the playground's numbers "
              "(see the top of this file)")
    x_train, y_train = torch.tensor(X_TRAIN, dtype=torch.float32), targets(Y_TRAIN)
    x_test, y_test = torch.tensor(X_TEST, dtype=torch.float32), targets(Y_TEST)
    # validation points: training points held out, never fitted; early stopping watches
    # their loss (never the test loss: the test points must stay unseen by every choice)
    x_val = torch.tensor(X_VAL, dtype=torch.float32).reshape(len(X_VAL), x_train.shape[1])
    y_val = targets(Y_VAL)
    shuffling = torch.Generator().manual_seed(INIT_SEED + 1)
    model = MLP(shuffling)
    initialize(model)
    optimizer = $optimizer
    n = len(x_train)
    best_val_loss, best_epoch, best_weights = math.inf, 0, None
    for epoch in range(EPOCHS):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(epoch)
        model.train()
        order = torch.randperm(n, generator=shuffling)
        for start in range(0, n, BATCH_SIZE):
            batch = order[start:start + BATCH_SIZE]
            optimizer.zero_grad()
            loss = $batch_loss
            loss.backward()
            optimizer.step()
        train_loss, _ = evaluate(model, x_train, y_train)
        test_loss, _ = evaluate(model, x_test, y_test)
        if not (math.isfinite(train_loss) and math.isfinite(test_loss)):
            print(f"diverged at epoch {epoch + 1}: try a smaller learning rate")
            break
        if (epoch + 1) % max(1, EPOCHS // 10) == 0:
            print(f"epoch {epoch + 1:>6}  train_loss {train_loss:.6f}  test_loss {test_loss:.6f}")
        if PATIENCE:
            val_loss, _ = evaluate(model, x_val, y_val)
            if val_loss < best_val_loss:
                best_val_loss, best_epoch = val_loss, epoch + 1
                best_weights = copy.deepcopy(model.state_dict())
            elif epoch + 1 - best_epoch >= PATIENCE:
                model.load_state_dict(best_weights)  # as Keras's restore_best_weights
                print(f"stopped early at epoch {epoch + 1}: no better validation loss for "
                      f"{PATIENCE} epochs; the weights are back to epoch {best_epoch}'s")
                break
    train_loss, train_metric = evaluate(model, x_train, y_train)
    test_loss, test_metric = evaluate(model, x_test, y_test)
    print(f"final train_loss={train_loss!r} test_loss={test_loss!r} "
          f"train_$metric={train_metric!r} test_$metric={test_metric!r}")


# -- the data: one row of input features per point, then the labels ----------------------
X_TRAIN = $x_train
Y_TRAIN = $y_train
X_TEST = $x_test
Y_TEST = $y_test
X_VAL = $x_val
Y_VAL = $y_val

if __name__ == "__main__":
    main()
''')


@dataclass(frozen=True)
class Stability:
    """How the run's training loss answers a one-in-a-million change of its start."""

    epochs: int  # the epochs trained (at most CHECK_EPOCHS)
    loss: float  # the training loss after them
    nudged_loss: float  # the same from weights times (1 + NUDGE)

    @property
    def change(self) -> float:
        """The relative change of the training loss (inf: one of them is not finite)."""
        if not (np.isfinite(self.loss) and np.isfinite(self.nudged_loss)):
            return 0.0 if self.loss == self.nudged_loss else float("inf")
        return abs(self.loss - self.nudged_loss) / max(abs(self.loss), abs(self.nudged_loss),
                                                       1e-12)

    @property
    def reproducible(self) -> bool:
        return self.change <= SPREAD

    def sentence(self) -> str:
        """What the page and the script say about it."""
        nudged = (f"starting from weights changed by one part in a million, the playground's "
                  f"own training ends epoch {self.epochs} at training loss "
                  f"{self.nudged_loss:.3g} instead of {self.loss:.3g}")
        if self.reproducible:
            return (f"This run is stable enough to reproduce: {nudged}, so the script's "
                    "numbers should match the page's up to float rounding.")
        return (f"This run is too unstable to reproduce: {nudged}. The script rounds in "
                "another order (autograd and torch.optim), and those last-bit differences "
                "grow the same way, so it follows the same rules but its losses will part "
                "from the page's. A smaller learning rate makes the run reproducible.")


def stability(config: Config, epochs: int) -> Stability:
    """Train the run's first epochs (at most CHECK_EPOCHS) twice in the engine, from its
    initial weights and from them times 1 + NUDGE, and compare the training losses."""
    import torch

    # torch training only when asked
    from playground.engine.train.group import train_epochs
    from playground.engine.train.trainer import Trainer

    n = max(1, min(int(epochs), CHECK_EPOCHS))
    losses = []
    for nudge in (0.0, NUDGE):
        trainer = Trainer(config)
        with torch.no_grad():
            trainer.params.mul_(1 + nudge)
        train_epochs(trainer, n)
        losses.append(float(trainer.metrics()["train_loss"]))
    return Stability(n, *losses)


def float32_texts(values: np.ndarray) -> list[str]:
    """The shortest text per float32 value that ``torch.tensor(..., dtype=float32)`` reads
    back to exactly it (the shortest float32 text, checked; else the exact float64 one)."""
    texts = []
    for value in np.asarray(values, dtype=np.float32).ravel():
        short = str(value)
        texts.append(short if np.float32(float(short)) == value else repr(float(value)))
    return texts


def _matrix_code(matrix: np.ndarray) -> str:
    width = matrix.shape[1]
    texts = float32_texts(matrix)
    rows = (", ".join(texts[i:i + width]) for i in range(0, len(texts), width))
    return "[\n" + "".join(f"    [{row}],\n" for row in rows) + "]"


def _labels_code(labels: np.ndarray, per_line: int = 16) -> str:
    if labels.dtype.kind in "iub":
        texts = [str(int(v)) for v in labels.ravel()]
    else:
        texts = float32_texts(labels)
    lines = (", ".join(texts[i:i + per_line]) for i in range(0, len(texts), per_line))
    return "[\n" + "".join(f"    {line},\n" for line in lines) + "]"


def _indented(code: str, spaces: int) -> str:
    return "\n".join(" " * spaces + line for line in code.splitlines())


def pytorch_script(config: Config, epochs: int) -> str:
    """The run as a standalone script that trains ``epochs`` epochs on the Config's points
    (its generated data set or its own points)."""
    if config.tf_math:
        raise ValueError("TensorFlow Playground math has no torch.optim equivalent, so a "
                         "run with TF math on cannot be exported as a PyTorch script.")
    config.validate()
    c = config
    data = points_dataset(c)
    x_train = feature_matrix(data.x_train, c.features)
    x_test = feature_matrix(data.x_test, c.features)
    fit, held = validation_rows(len(x_train), c.validation, c.data_seed)
    y_train = np.asarray(data.y_train)
    head = head_name(data.task, data.n_classes)
    sizes = [x_train.shape[1], *c.hidden, HEADS[head].n_outputs(data.n_classes)]
    inputs = ", ".join(c.features) if data.x_train.shape[1] == 2 else f"{sizes[0]} columns"
    penalty = PENALTY_CODE[c.regularization]
    constants = {"LEARNING_RATE": repr(c.learning_rate), "BATCH_SIZE": str(c.batch_size),
                 "PATIENCE": f"{c.patience}  # early stopping (0: off)"}
    if c.optimizer in ("momentum", "nesterov"):
        constants["MOMENTUM"] = repr(c.momentum)
    if penalty:
        constants["REG_RATE"] = f"{c.reg_rate!r}  # {c.regularization.upper()} weight penalty"
    if c.lr_schedule != "constant":
        constants["SCHEDULE_EPOCHS"] = f"{c.schedule_epochs}  # {c.lr_schedule} schedule period"
    loss_key = ("mse", head) if head == "regression" else (c.loss, head)
    params = c.to_params()
    if "data" in params:  # thousands of characters: the points themselves are at the end
        params["data"] = "(own points, below)"
    settings = textwrap.fill(" ".join(f"{k}={v}" for k, v in params.items())
                             or "(all defaults)", 88, initial_indent="    ",
                             subsequent_indent="    ", break_on_hyphens=False)
    checked = stability(c, epochs)
    return SCRIPT.substitute(
        settings=settings, reproducible=checked.reproducible,
        stability=textwrap.fill(checked.sentence(), 88), epochs=int(epochs), sizes=sizes,
        inputs=inputs,
        dropout=list(c.dropout),
        constants="\n".join(f"{name} = {value}" for name, value in constants.items()),
        init_seed=c.init_seed,
        activations=", ".join(f"nn.{ACTIVATIONS[name].module()!r}" for name in c.activation),
        init=_indented(INIT_CODE[c.init], 12),
        loss=f"{LOSS_CODE[loss_key]}  # {LOSSES[loss_key[0]]}",
        penalty=(f"\n\ndef penalty(model: MLP) -> torch.Tensor:\n    return {penalty}\n"
                 if penalty else ""),
        metric=HEADS[head].metric_name, metric_code=METRIC_CODE[head],
        schedule=SCHEDULE_CODE[c.lr_schedule], target=TARGET_CODE[head],
        optimizer=OPTIMIZER_CODE[c.optimizer],
        batch_loss="loss_fn(model(x_train[batch]), y_train[batch])"
                   + (" + penalty(model)" if penalty else ""),
        x_train=_matrix_code(x_train[fit]), y_train=_labels_code(y_train[fit]),
        x_test=_matrix_code(x_test), y_test=_labels_code(np.asarray(data.y_test)),
        x_val=_matrix_code(x_train[held]), y_val=_labels_code(y_train[held]))
