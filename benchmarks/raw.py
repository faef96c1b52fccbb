"""Raw trainer speed: epochs per second of ``Trainer.train_for`` on the default config,
and of the textbook autograd loop on the same data, model and optimizer.

The reference loop is the one ``tests/test_training.py::reference_weights`` checks the
fast path against (model(x), loss.backward(), torch.optim). It only trains: it does
not record the per-epoch metrics, norms and full-set gradients the Trainer records,
so the speed-up it shows is a lower bound.
"""

from __future__ import annotations

import time

import torch

from benchmarks.common import log
from playground.config import Config
from playground.training import Trainer

WARMUP_S = 0.5
MEASURE_S = 3.0


def trainer_rate(config: Config, seconds: float = MEASURE_S) -> float:
    trainer = Trainer(config)
    trainer.train_for(WARMUP_S)
    start = time.perf_counter()
    epochs = trainer.train_for(seconds)
    return epochs / (time.perf_counter() - start)


def reference_epoch(config: Config):
    """One epoch of the textbook loop, as a function to call repeatedly."""
    trainer = Trainer(config)  # only for its data, initial model and objective
    model, objective = trainer.model, trainer.objective
    optimizers = {"sgd": lambda p: torch.optim.SGD(p, lr=config.learning_rate),
                  "adam": lambda p: torch.optim.Adam(p, lr=config.learning_rate)}
    optimizer = optimizers[config.optimizer](model.parameters())
    generator = torch.Generator().manual_seed(config.init_seed + 1)
    n, batch = trainer.x_train.shape[0], config.batch_size

    def epoch() -> None:
        order = torch.randperm(n, generator=generator)
        xs, ys = trainer.x_train[order], trainer.y_train[order]
        for start in range(0, n, batch):
            optimizer.zero_grad()
            loss = objective.value(model(xs[start:start + batch]), ys[start:start + batch])
            loss.backward()
            optimizer.step()

    return epoch


def reference_rate(config: Config, seconds: float = MEASURE_S) -> float:
    epoch = reference_epoch(config)
    deadline = time.perf_counter() + WARMUP_S
    while time.perf_counter() < deadline:
        epoch()
    start = time.perf_counter()
    done = 0
    while time.perf_counter() - start < seconds:
        epoch()
        done += 1
    return done / (time.perf_counter() - start)


def run() -> dict:
    torch.set_num_threads(1)  # as in a trainer process
    results = {}
    for optimizer in ("sgd", "adam"):
        config = Config(optimizer=optimizer)
        fast = trainer_rate(config)
        slow = reference_rate(config)
        results[optimizer] = {"epochs_per_s": fast, "reference_epochs_per_s": slow,
                              "speedup": fast / slow}
        log(f"raw {optimizer}: {fast:.0f} epochs/s, reference {slow:.0f} ({fast / slow:.2f}x)")
    return results
