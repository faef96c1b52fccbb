"""Data sets: the TensorFlow Playground's generators plus a few multi-class ones.

Every generator has the signature ``generate(n, noise, rng) -> (X, y)`` with ``noise`` a
fraction in 0..0.5 (the UI's 0-50 %). The 2-D rules follow the Playground's
``src/dataset.ts`` so the pictures look familiar; its +1/-1 labels become classes 1/0.
Only numpy and scikit-learn here: the data layer must not depend on torch or the UI.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial

import numpy as np
from sklearn.datasets import load_digits

Generator = Callable[[int, float, np.random.Generator], tuple[np.ndarray, np.ndarray]]

BOX = 6.0  # every 2-D point lies in [-BOX, BOX]^2, the area the plots show
# the TF Playground's NUM_SAMPLES_REGRESS (src/playground.ts): its regression data sets have
# 1,200 points (classification: 500, our default); ``Config.points`` applies it under tf_math
TF_REGRESSION_POINTS = 1200
TAU = 2 * np.pi


@dataclass(frozen=True)
class DatasetSpec:
    generate: Generator
    task: str  # "classification" or "regression"
    n_classes: int  # 0 for regression
    n_inputs: int  # 2, or 64 for digits
    title: str  # human name for the UI


@dataclass(frozen=True)
class Dataset:
    name: str
    x_train: np.ndarray  # float32 (n_train, n_inputs)
    y_train: np.ndarray  # int64 class indices, or float32 targets in [-1, 1]
    x_test: np.ndarray
    y_test: np.ndarray
    task: str
    n_classes: int

    @property
    def n_inputs(self) -> int:
        return int(self.x_train.shape[1])


# -- helpers -------------------------------------------------------------------------------
def class_sizes(n: int, k: int) -> list[int]:
    """n points over k classes as evenly as possible (the first classes take the remainder)."""
    return [n // k + (c < n % k) for c in range(k)]


def _class_labels(n: int, k: int) -> np.ndarray:
    return np.repeat(np.arange(k, dtype=np.int64), class_sizes(n, k))


def _jitter(rng: np.random.Generator, n: int, scale: float, noise: float) -> np.ndarray:
    # float32 so that at noise 0 "point + jitter" is bit-identical to the stored point and
    # labels computed from it equal what a caller recomputes from X.
    return (rng.uniform(-scale, scale, (n, 2)) * noise).astype(np.float32)


def _points(xy: np.ndarray) -> np.ndarray:
    """Clip to the plotted box (noise can push gaussian tails out) and store as float32."""
    return np.clip(xy, -BOX, BOX).astype(np.float32)


def _polar(r: np.ndarray, angle: np.ndarray) -> np.ndarray:
    # sin for x and cos for y, as in dataset.ts, so the spirals turn the same way
    return np.column_stack([r * np.sin(angle), r * np.cos(angle)])


# -- TF Playground classification ------------------------------------------------------------
def circle(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    radius = 5.0
    n_out, n_in = class_sizes(n, 2)  # class 1 = inside, as TF's +1
    # the gap between 0.5 and 0.7 radius makes the noiseless problem cleanly separable
    r = np.concatenate([rng.uniform(0, radius * 0.5, n_in),
                        rng.uniform(radius * 0.7, radius, n_out)])
    x = _points(_polar(r, rng.uniform(0, TAU, n)))
    # noise moves the point the label is read from, not the point itself: labels flip near
    # the boundary while the picture keeps its shape
    noisy = x + _jitter(rng, n, radius, noise)
    y = (np.hypot(noisy[:, 0], noisy[:, 1]) < radius * 0.5).astype(np.int64)
    return x, y


def xor(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    v = rng.uniform(-5, 5, (n, 2))
    v += np.where(v > 0, 0.3, -0.3)  # padding keeps points off the axes, the class boundary
    x = _points(v)
    noisy = x + _jitter(rng, n, 5.0, noise)
    y = (noisy[:, 0] * noisy[:, 1] >= 0).astype(np.int64)
    return x, y


def gauss(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    variance = 0.5 + (4 - 0.5) * noise / 0.5  # TF's linear scale 0..0.5 -> 0.5..4
    y = _class_labels(n, 2)
    centres = np.array([[-2.0, -2.0], [2.0, 2.0]])  # class 0 = TF's -1 at (-2, -2)
    x = centres[y] + rng.normal(0, np.sqrt(variance), (n, 2))
    return _points(x), y


def spiral(n: int, noise: float, rng: np.random.Generator, arms: int = 2
           ) -> tuple[np.ndarray, np.ndarray]:
    y = _class_labels(n, arms)
    parts = []
    for c, m in enumerate(class_sizes(n, arms)):
        i = np.arange(m) / max(m, 1)
        # arm c starts at angle 2*pi*(c+1)/arms: with two arms class 1 gets TF's deltaT=0
        # and class 0 its deltaT=pi
        t = 1.75 * i * TAU + TAU * (c + 1) / arms
        parts.append(_polar(i * 5, t))
    x = np.concatenate(parts) + rng.uniform(-1, 1, (n, 2)) * noise
    return _points(x), y


# -- TF Playground regression -----------------------------------------------------------------
def plane(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x = _points(rng.uniform(-BOX, BOX, (n, 2)))
    noisy = x + _jitter(rng, n, BOX, noise)
    # TF maps x+y from [-10, 10] to [-1, 1] without clamping; we clamp the corners where
    # |x+y| > 10 so targets stay in the output range of a tanh head
    y = np.clip((noisy[:, 0] + noisy[:, 1]) / 10, -1, 1)
    return x, y.astype(np.float32)


GAUSSIANS = np.array([[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1],
                      [-4, -2.5, -1], [0, -2.5, 1], [4, -2.5, -1]], dtype=np.float64)


def multigauss_label(points: np.ndarray) -> np.ndarray:
    """TF's regressGaussian label: the signed bump (1 at a centre, 0 from distance 2 on)
    that is largest in absolute value; the first one wins a tie."""
    d = np.hypot(points[:, None, 0] - GAUSSIANS[:, 0], points[:, None, 1] - GAUSSIANS[:, 1])
    bumps = GAUSSIANS[:, 2] * np.clip(1 - d / 2, 0, 1)
    pick = np.argmax(np.abs(bumps), axis=1)
    return bumps[np.arange(len(points)), pick]


def multigauss(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x = _points(rng.uniform(-BOX, BOX, (n, 2)))
    noisy = x + _jitter(rng, n, BOX, noise)
    return x, multigauss_label(noisy).astype(np.float32)


# -- multi-class extras -----------------------------------------------------------------------
def moons(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    y = _class_labels(n, 2)
    # random angles rather than sklearn's linspace, so the seed changes the sample
    t = rng.uniform(0, np.pi, n)
    outer = np.column_stack([np.cos(t), np.sin(t)])
    inner = np.column_stack([1 - np.cos(t), 0.5 - np.sin(t)])
    x = np.where(y[:, None] == 0, outer, inner)
    x = x + rng.normal(0, noise, (n, 2))  # noise as sklearn's std, in moon units
    # moons span x in [-1, 2], y in [-0.5, 1]: centre and scale by 3 to about [-4.5, 4.5]
    return _points((x - [0.5, 0.25]) * 3), y


def blobs3(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    y = _class_labels(n, 3)
    angles = np.pi / 2 + TAU * np.arange(3) / 3
    centres = _polar(np.full(3, 3.5), angles)
    spread = 0.5 + 3 * noise  # 0.5 (well apart) .. 2.0 (overlapping)
    return _points(centres[y] + rng.normal(0, spread, (n, 2))), y


@lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    # load once: parsing the bundled csv each restart would cost ~50 ms
    d = load_digits()
    return (d.data / 16).astype(np.float32), d.target.astype(np.int64)


def digits(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """sklearn's 8x8 digits, pixels in [0, 1]; at most 1797 rows, drawn without replacement."""
    data, target = _digits()
    rows = rng.choice(len(data), size=min(n, len(data)), replace=False)
    x = data[rows]  # fancy indexing copies, so the cache stays untouched
    if noise > 0:
        x = np.clip(x + rng.normal(0, noise, x.shape), 0, 1).astype(np.float32)
    return x, target[rows]


DATASETS: dict[str, DatasetSpec] = {
    "circle": DatasetSpec(circle, "classification", 2, 2, "Circle"),
    "xor": DatasetSpec(xor, "classification", 2, 2, "Exclusive or"),
    "gauss": DatasetSpec(gauss, "classification", 2, 2, "Two gaussians"),
    "spiral": DatasetSpec(spiral, "classification", 2, 2, "Spiral"),
    "plane": DatasetSpec(plane, "regression", 0, 2, "Plane"),
    "multigauss": DatasetSpec(multigauss, "regression", 0, 2, "Multiple gaussians"),
    "moons": DatasetSpec(moons, "classification", 2, 2, "Two moons"),
    "spiral3": DatasetSpec(partial(spiral, arms=3), "classification", 3, 2, "Three-arm spiral"),
    "blobs3": DatasetSpec(blobs3, "classification", 3, 2, "Three blobs"),
    "digits": DatasetSpec(digits, "classification", 10, 64, "Handwritten digits (8x8)"),
}


# -- splitting and loading --------------------------------------------------------------------
def split(x: np.ndarray, y: np.ndarray, train_ratio: float, rng: np.random.Generator
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle, then the first round(n * train_ratio) rows train and the rest test.

    Both sides keep at least one row so losses and metrics are always defined."""
    n = len(x)
    if n < 2:
        raise ValueError(f"need at least 2 points to split into train and test, got {n}")
    n_train = min(max(round(n * train_ratio), 1), n - 1)
    order = rng.permutation(n)
    tr, te = order[:n_train], order[n_train:]
    return x[tr], y[tr], x[te], y[te]


def get_spec(name: str) -> DatasetSpec:
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; choose one of: "
                         f"{', '.join(DATASETS)}") from None


def load_dataset(name: str, n_points: int, noise_percent: float, train_ratio_percent: float,
                 seed: int) -> Dataset:
    """Generate and split; one generator seeded by ``seed`` drives both, so the same
    arguments always give the same arrays."""
    spec = get_spec(name)
    if not 0 <= noise_percent <= 50:
        raise ValueError(f"noise must be within 0..50 percent, got {noise_percent}")
    rng = np.random.default_rng(seed)
    x, y = spec.generate(int(n_points), noise_percent / 100, rng)
    x_train, y_train, x_test, y_test = split(x, y, train_ratio_percent / 100, rng)
    return Dataset(name, x_train, y_train, x_test, y_test, spec.task, spec.n_classes)


# Settings that suit a data set better than the general defaults: the digits' 64
# inputs need a wider network (the 4-2 tanh default reaches 63 % test accuracy,
# 32 ReLU with Adam over 95 %). The URL leaves out what equals its data set's defaults.
DATASET_DEFAULTS: dict[str, dict[str, object]] = {
    "digits": {"hidden": (32,), "activation": ("relu",), "optimizer": "adam",
               "learning_rate": 0.003, "batch_size": 32},
}
