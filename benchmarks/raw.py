"""Raw trainer speed: epochs per second of ``train_seconds`` on the default config,
of the textbook autograd loop on the same data, model and optimizer, and per session
of groups of S sessions trained as one batched computation (``Group``).

The reference loop is the one ``tests/test_training.py::reference_weights`` checks the
fast path against (model(x), loss.backward(), torch.optim). It only trains: it does
not record the per-epoch metrics, norms and full-set gradients the Trainer records,
so the speed-up it shows is a lower bound.

The 3 s of each are split into three 1 s windows, alternating fast and reference, and
the best window counts: on a shared machine other load only ever slows a window
down, and alternating exposes both paths to the same background.
"""

from __future__ import annotations

import time

import torch

from benchmarks.common import log, median
from playground.engine.config.config import Config
from playground.engine.nn.model import MLP
from playground.engine.nn.optimizers import TORCH_OPTIMIZERS
from playground.engine.teaching.study import race, sweep
from playground.engine.train.group import Group, train_seconds
from playground.engine.train.trainer import Trainer
from playground.server import protocol as p
from playground.server.frames import FrameBuilder, pictures
from playground.server.worker import Worker

WARMUP_S = 0.5
WINDOWS = 3
WINDOW_S = 1.0


def reference_epoch(config: Config):
    """One epoch of the textbook loop, as a function to call repeatedly."""
    trainer = Trainer(config)  # only for its data, initial weights and objective
    model = MLP.from_flat(trainer.layout, config.activation, config.dropout, trainer.params)
    objective = trainer.objective
    optimizer = TORCH_OPTIMIZERS[config.optimizer](model.parameters(), config.learning_rate,
                                                   config.momentum)
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


def reference_for(epoch, seconds: float) -> int:
    start, done = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        epoch()
        done += 1
    return done


def timed(run_for, *args) -> float:
    """Epochs per second of run_for(*args, WINDOW_S), which returns the epochs it ran."""
    start = time.perf_counter()
    epochs = run_for(*args, WINDOW_S)
    return epochs / (time.perf_counter() - start)


def frame_build_ms(trainer: Trainer, repeats: int = 200, rounds: int = 5) -> float:
    """Milliseconds a worker spends on one session's frame (pictures, its message and all);
    this time is taken from training. CPU time, the best of a few rounds: on a machine
    shared with others, wall time measures them too."""
    builder = FrameBuilder()
    builder.build(trainer, True)  # the first frame also carries the data points
    best = float("inf")
    with torch.no_grad():
        for _ in range(rounds):
            start = time.process_time()
            for _ in range(repeats):
                frame = builder.build(trainer, True, pictures([trainer], [False])[0])
                p.pack_frames({"frames": [["sid", frame]]})
            best = min(best, time.process_time() - start)
    return best / repeats * 1000


GROUP_SIZES = (1, 8, 15, 30, 100)  # 15: half a class of 30, one group a core
SWEEP_EPOCHS = 5000  # longer than a window: the sweep trains throughout


def group_speeds() -> dict:
    """Epochs per second per session of S default sessions trained as one group."""
    speeds = {}
    for size in GROUP_SIZES:
        members = [Trainer(Config(init_seed=i, data_seed=i)) for i in range(size)]
        with Group(members) as group:
            group.run_for(WARMUP_S / 2)
            rates = [timed(group.run_for) for _ in range(WINDOWS)]
        speeds[size] = max(rates)
        log(f"group of {size}: {max(rates):.0f} epochs/s per session {rates}")
    return speeds


def train_while(worker: Worker, seconds: float) -> None:
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        worker.train()


def study_speeds(single: float) -> dict:
    """Epochs per second of each member of a 16-point learning-rate sweep and of a
    5-optimizer race, against one session alone (``single``): what a study costs."""
    base = Config()
    studies = {"sweep16": sweep("learning_rate:0.0001..10", 16, SWEEP_EPOCHS),
               "race5": race("optimizer:sgd,momentum,rmsprop,adagrad,adam")}
    speeds = {}
    for name, study in studies.items():
        rates = []
        for _ in range(WINDOWS):
            worker = Worker(None)  # a worker's own grouping, without its pipe
            worker.open("s", {"params": base.to_params(), "study": study.to_params()})
            session = worker.hosted["s"]
            worker.command("s", p.PLAY, [])
            train_while(worker, WARMUP_S / 4)
            start, first = time.perf_counter(), session.epoch
            train_while(worker, WINDOW_S)
            rates.append((session.epoch - first) / (time.perf_counter() - start))
        speeds[name] = {"members": len(study.values), "epochs_per_s": max(rates),
                        "sessions_worth": single / max(rates)}
        log(f"{name}: {max(rates):.0f} epochs/s per member; costs "
            f"{single / max(rates):.2f} sessions")
    return speeds


def run() -> dict:
    torch.set_num_threads(1)  # as in a worker process
    results = {}
    for optimizer in ("sgd", "adam"):
        config = Config(optimizer=optimizer)
        trainer, reference = Trainer(config), reference_epoch(config)
        train_seconds(trainer, WARMUP_S)
        reference_for(reference, WARMUP_S)
        fast, slow = [], []
        for _ in range(WINDOWS):
            fast.append(timed(train_seconds, trainer))
            slow.append(timed(reference_for, reference))
        results[optimizer] = {
            "epochs_per_s": max(fast), "reference_epochs_per_s": max(slow),
            "speedup": max(fast) / max(slow), "windows": [round(r, 1) for r in fast],
            "reference_windows": [round(r, 1) for r in slow],
            "median_epochs_per_s": median(fast), "frame_build_ms": frame_build_ms(trainer)}
        log(f"raw {optimizer}: {max(fast):.0f} epochs/s {results[optimizer]['windows']}, "
            f"reference {max(slow):.0f} ({max(fast) / max(slow):.2f}x), "
            f"frame build {results[optimizer]['frame_build_ms']} ms")
    results["groups"] = group_speeds()
    results["studies"] = study_speeds(results["sgd"]["epochs_per_s"])
    return results
