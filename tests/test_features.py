"""Input features: each against its formula, column order and shape, digits pass-through."""

import numpy as np
import pytest

from playground.engine.data.features import FEATURES, feature_matrix

ORACLE = {
    "x1": lambda a, b: a,
    "x2": lambda a, b: b,
    "x1sq": lambda a, b: a**2,
    "x2sq": lambda a, b: b**2,
    "x1x2": lambda a, b: a * b,
    "sinx1": lambda a, b: np.sin(a),
    "sinx2": lambda a, b: np.sin(b),
}


@pytest.fixture
def points() -> np.ndarray:
    return np.random.default_rng(0).uniform(-6, 6, (257, 2)).astype(np.float32)


def test_registry_order_and_labels():
    assert list(FEATURES) == list(ORACLE)
    assert [f.label for f in FEATURES.values()] == ["x₁", "x₂", "x₁²", "x₂²", "x₁x₂",
                                                    "sin(x₁)", "sin(x₂)"]


@pytest.mark.parametrize("name", list(ORACLE))
def test_feature_matches_formula(name, points):
    a, b = points[:, 0].astype(np.float64), points[:, 1].astype(np.float64)
    out = feature_matrix(points, [name])
    assert out.shape == (len(points), 1) and out.dtype == np.float32
    np.testing.assert_allclose(out[:, 0], ORACLE[name](a, b), rtol=1e-6, atol=1e-7)


def test_order_and_shape(points):
    names = ["sinx2", "x1", "x1x2", "x1"]  # any order, repeats allowed
    out = feature_matrix(points, names)
    assert out.shape == (len(points), 4) and out.dtype == np.float32
    for j, name in enumerate(names):
        np.testing.assert_array_equal(out[:, j], feature_matrix(points, [name])[:, 0])
    assert feature_matrix(points, []).shape == (len(points), 0)


def test_float64_input(points):
    out = feature_matrix(points.astype(np.float64), ["x1", "x2"])
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, points)


def test_digits_pass_through():
    x = np.random.default_rng(1).uniform(0, 1, (10, 64))
    out = feature_matrix(x, ["x1", "x2"])
    assert out.dtype == np.float32 and out.shape == (10, 64)
    np.testing.assert_array_equal(out, x.astype(np.float32))


def test_unknown_feature(points):
    with pytest.raises(ValueError, match="'cosx1'"):
        feature_matrix(points, ["x1", "cosx1"])


def test_bad_shape():
    with pytest.raises(ValueError, match="shape"):
        feature_matrix(np.zeros(5), ["x1"])
