"""Data sets: shapes and dtypes, label sets, the plotted box, balance, determinism,
the noiseless rules of the TF Playground, and the train/test split."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from playground.engine.data.datasets import (
    DATASETS,
    Dataset,
    class_sizes,
    load_dataset,
    multigauss_label,
    split,
)

NAMES = list(DATASETS)
# class counts are fixed by construction here (TF's circle only without noise, since
# noise moves the point its label is read from)
BALANCED = ["gauss", "spiral", "moons", "spiral3", "blobs3"]
N = 300


def sort_rows(a: np.ndarray) -> np.ndarray:
    return a[np.lexsort(a.T[::-1])]


def generate(name: str, n: int = N, noise: float = 0.2, seed: int = 0):
    return DATASETS[name].generate(n, noise, np.random.default_rng(seed))


def test_registry_order_and_specs():
    assert NAMES == ["circle", "xor", "gauss", "spiral", "plane", "multigauss",
                     "moons", "spiral3", "blobs3", "digits"]
    for spec in DATASETS.values():
        assert spec.task in ("classification", "regression")
        assert (spec.n_classes == 0) == (spec.task == "regression")
        assert spec.title


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("noise", [0.0, 0.25, 0.5])
def test_shapes_dtypes_labels_and_box(name, noise):
    spec = DATASETS[name]
    x, y = generate(name, noise=noise)
    assert x.dtype == np.float32 and x.shape == (N, spec.n_inputs)
    assert y.shape == (N,)
    if spec.task == "classification":
        assert y.dtype == np.int64
        assert set(np.unique(y)) == set(range(spec.n_classes))
    else:
        assert y.dtype == np.float32
        assert np.all(np.abs(y) <= 1)
    if spec.n_inputs == 2:
        assert np.all(np.abs(x) <= 6)
    else:  # digits: pixels stay in [0, 1] even with noise
        assert x.min() >= 0 and x.max() <= 1


@pytest.mark.parametrize("name", BALANCED)
@pytest.mark.parametrize("n", [20, 301, 500])
def test_balanced_classes(name, n):
    _, y = generate(name, n=n, noise=0.5)
    k = DATASETS[name].n_classes
    counts = np.bincount(y, minlength=k)
    assert counts.sum() == n
    assert np.all(np.abs(counts - n / k) <= 1)


def test_circle_balanced_without_noise():
    _, y = generate("circle", n=301, noise=0.0)
    assert abs(int(y.sum()) - 301 / 2) <= 1


@pytest.mark.parametrize("n, k", [(10, 3), (11, 2), (7, 10), (0, 3)])
def test_class_sizes(n, k):
    sizes = class_sizes(n, k)
    assert sum(sizes) == n and max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_per_seed(name):
    a = load_dataset(name, 200, 20, 50, seed=7)
    b = load_dataset(name, 200, 20, 50, seed=7)
    c = load_dataset(name, 200, 20, 50, seed=8)
    for field in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.x_train, c.x_train)


@pytest.mark.parametrize("name", [n for n in NAMES if n != "spiral" and n != "spiral3"])
def test_generator_depends_on_seed(name):
    # the spirals' noiseless points are fixed by the rule; every other set samples them
    assert not np.array_equal(generate(name, seed=1)[0], generate(name, seed=2)[0])


# -- noise 0 reproduces the TF rules exactly --------------------------------------------------
def test_circle_noiseless_rule():
    x, y = generate("circle", n=1000, noise=0.0)
    r = np.hypot(x[:, 0], x[:, 1])
    np.testing.assert_array_equal(y, (r < 2.5).astype(np.int64))
    assert not np.any((r > 2.5 + 1e-5) & (r < 3.5 - 1e-5))  # the gap between the classes
    assert r.max() <= 5 + 1e-5


def test_xor_noiseless_rule():
    x, y = generate("xor", n=1000, noise=0.0)
    np.testing.assert_array_equal(y, (x[:, 0] * x[:, 1] >= 0).astype(np.int64))
    assert np.all(np.abs(x) >= 0.3 - 1e-6) and np.all(np.abs(x) <= 5.3 + 1e-6)


def test_plane_noiseless_rule():
    x, y = generate("plane", n=1000, noise=0.0)
    expected = (x[:, 0] + x[:, 1]) / 10
    inside = np.abs(expected) <= 1
    np.testing.assert_array_equal(y[inside], expected[inside])
    # corners beyond |x1 + x2| = 10 are clamped to the target range
    np.testing.assert_array_equal(y[~inside], np.sign(expected[~inside]))


def test_multigauss_noiseless_rule():
    x, y = generate("multigauss", n=1000, noise=0.0)
    np.testing.assert_allclose(y, multigauss_label(x.astype(np.float64)), atol=1e-6)
    # at a centre the label is that gaussian's sign; far from all of them it is 0
    centres = np.array([[-4, 2.5], [0, 2.5], [4, 2.5], [-4, -2.5], [0, -2.5], [4, -2.5]])
    np.testing.assert_array_equal(multigauss_label(centres), [1, -1, 1, -1, 1, -1])
    assert multigauss_label(np.array([[-6.0, 0.0]]))[0] == 0


def test_gauss_centres():
    x, y = generate("gauss", n=2000, noise=0.0)
    np.testing.assert_allclose(x[y == 1].mean(axis=0), [2, 2], atol=0.15)
    np.testing.assert_allclose(x[y == 0].mean(axis=0), [-2, -2], atol=0.15)


@pytest.mark.parametrize("name", ["spiral", "spiral3"])
def test_spiral_noiseless_radius(name):
    x, y = generate(name, n=600, noise=0.0)
    r = np.hypot(x[:, 0], x[:, 1])
    for c in range(DATASETS[name].n_classes):
        arm = r[y == c]
        assert np.all(np.diff(arm) > 0) and arm.max() < 5  # each arm winds outwards


@pytest.mark.parametrize("name, rule", [
    ("circle", lambda x: np.hypot(x[:, 0], x[:, 1]) < 2.5),
    ("xor", lambda x: x[:, 0] * x[:, 1] >= 0),
])
def test_noise_flips_some_labels(name, rule):
    x, y = generate(name, n=1000, noise=0.5)
    flipped = np.mean(y != rule(x))
    assert 0 < flipped < 0.5


def test_plane_noise_moves_labels():
    x, y = generate("plane", n=500, noise=0.3)
    assert not np.allclose(y, np.clip((x[:, 0] + x[:, 1]) / 10, -1, 1))


def test_digits():
    x, y = generate("digits", n=5000, noise=0.0)
    assert x.shape == (1797, 64)  # capped at the size of the set, drawn without repeats
    assert len(np.unique(x, axis=0)) > 1700
    assert x.max() == 1 and x.min() == 0
    np.testing.assert_array_equal(x * 16, np.round(x * 16))  # sklearn's 17 grey levels
    noisy, _ = generate("digits", n=100, noise=0.3)
    assert noisy.dtype == np.float32 and 0 < np.mean((noisy > 0) & (noisy < 1))


# -- split and load ----------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(n=st.integers(2, 400), ratio=st.floats(0.0, 1.0), seed=st.integers(0, 2**32 - 1))
def test_split_property(n, ratio, seed):
    x = np.arange(2 * n, dtype=np.float32).reshape(n, 2)
    y = np.arange(n)
    x_tr, y_tr, x_te, y_te = split(x, y, ratio, np.random.default_rng(seed))
    assert len(x_tr) == min(max(round(n * ratio), 1), n - 1)
    assert len(x_tr) + len(x_te) == n
    # rows stay paired, and train and test together are the whole set without overlap
    np.testing.assert_array_equal(x_tr[:, 0], 2 * y_tr)
    np.testing.assert_array_equal(x_te[:, 0], 2 * y_te)
    assert not set(y_tr) & set(y_te)
    assert sorted([*y_tr, *y_te]) == list(range(n))


def test_split_needs_two_points():
    with pytest.raises(ValueError, match="at least 2"):
        split(np.zeros((1, 2)), np.zeros(1), 0.5, np.random.default_rng(0))


@pytest.mark.parametrize("ratio", [10, 33, 50, 75, 90])
@pytest.mark.parametrize("name", ["circle", "plane", "digits"])
def test_load_dataset(name, ratio):
    d = load_dataset(name, 250, 10, ratio, seed=3)
    spec = DATASETS[name]
    assert isinstance(d, Dataset)
    assert (d.name, d.task, d.n_classes, d.n_inputs) == (name, spec.task, spec.n_classes,
                                                        spec.n_inputs)
    assert len(d.x_train) == round(250 * ratio / 100) == len(d.y_train)
    assert len(d.x_train) + len(d.x_test) == 250 == len(d.y_train) + len(d.y_test)
    # train and test are a partition of the generated rows (same stream before the split)
    x, _ = generate(name, n=250, noise=0.1, seed=3)
    np.testing.assert_array_equal(sort_rows(np.concatenate([d.x_train, d.x_test])),
                                  sort_rows(x))


def test_unknown_dataset():
    with pytest.raises(ValueError, match="unknown dataset 'foo'; choose one of: circle, xor"):
        load_dataset("foo", 100, 0, 50, 0)


def test_noise_out_of_range():
    with pytest.raises(ValueError, match="noise"):
        load_dataset("circle", 100, 60, 50, 0)
