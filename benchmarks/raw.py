"""Raw trainer speed: epochs per second of ``Trainer.train_for`` on the default config,
and of the textbook autograd loop on the same data, model and optimizer.

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
from playground.engine.config import Config
from playground.engine.training import Trainer

WARMUP_S = 0.5
WINDOWS = 3
WINDOW_S = 1.0


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


def frame_build_ms(trainer: Trainer, repeats: int = 20) -> float | None:
    """Milliseconds the trainer process spends building one full frame (pictures and
    all); at 40 frames a second this time is taken from training."""
    try:
        from playground.server.frames import FrameBuilder

        builder = FrameBuilder()
        builder.build(trainer, True)  # the first frame also carries the data points
        start = time.perf_counter()
        for _ in range(repeats):
            builder.build(trainer, True)
        return (time.perf_counter() - start) / repeats * 1000
    except Exception as error:  # the frame API may change; the rest still counts
        log(f"frame build timing skipped: {error!r}")
        return None


def run() -> dict:
    torch.set_num_threads(1)  # as in a trainer process
    results = {}
    for optimizer in ("sgd", "adam"):
        config = Config(optimizer=optimizer)
        trainer, reference = Trainer(config), reference_epoch(config)
        trainer.train_for(WARMUP_S)
        reference_for(reference, WARMUP_S)
        fast, slow = [], []
        for _ in range(WINDOWS):
            fast.append(timed(trainer.train_for))
            slow.append(timed(reference_for, reference))
        results[optimizer] = {
            "epochs_per_s": max(fast), "reference_epochs_per_s": max(slow),
            "speedup": max(fast) / max(slow), "windows": [round(r, 1) for r in fast],
            "reference_windows": [round(r, 1) for r in slow],
            "median_epochs_per_s": median(fast), "frame_build_ms": frame_build_ms(trainer)}
        log(f"raw {optimizer}: {max(fast):.0f} epochs/s {results[optimizer]['windows']}, "
            f"reference {max(slow):.0f} ({max(fast) / max(slow):.2f}x), "
            f"frame build {results[optimizer]['frame_build_ms']} ms")
    return results
