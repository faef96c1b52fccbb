"""Grid evaluation: the plane's points in the documented order, and maps equal to the
model's own forward pass (and to hidden activations computed by hand)."""

import numpy as np
import pytest
import torch

from playground.engine.data.features import feature_matrix
from playground.engine.nn.model import MLP, ParamLayout, init_params
from playground.engine.train.inference import (
    EXTENT,
    evaluate_grid,
    evaluate_grids,
    feature_maps,
    grid_points,
)

RES = 7


def build_model(n_in, n_out, hidden, activations, dropout, init, seed) -> MLP:
    layout = ParamLayout((n_in, *hidden, n_out))
    return MLP.from_flat(layout, activations, dropout, init_params(layout, init, seed))


def model_for(n_inputs: int, n_outputs: int, hidden=(5, 3), activation=("tanh", "relu"),
              dropout=None, seed=3):
    dropout = dropout or (0.0,) * len(hidden)
    model = build_model(n_inputs, n_outputs, hidden, activation, dropout, "xavier", seed)
    with torch.no_grad():  # non-zero biases, so a dropped bias would show
        for layer in model.layers:
            layer.bias.uniform_(-0.5, 0.5, generator=torch.Generator().manual_seed(seed))
    return model


def oracle(model, features, res=RES) -> torch.Tensor:
    """The model's nn.Module forward on the same points, (res², n_outputs)."""
    x = torch.from_numpy(feature_matrix(grid_points(res), features))
    with torch.no_grad():
        return model.eval()(x)


def test_grid_points_shape_range_and_order():
    g = grid_points(RES)
    assert g.shape == (RES * RES, 2) and g.dtype == np.float32
    axis = np.linspace(-6, 6, RES)
    assert g.min() == -EXTENT == -6 and g.max() == EXTENT == 6
    rows = g.reshape(RES, RES, 2)  # row by row from the bottom
    for i in range(RES):
        assert np.allclose(rows[i, :, 1], axis[i])  # one x2 per row, rising
        assert np.allclose(rows[i, :, 0], axis)  # x1 increasing along the row
    assert g[0].tolist() == [-6, -6] and g[RES - 1].tolist() == [6, -6]
    assert g[-1].tolist() == [6, 6]


def test_grid_points_default_resolution_is_square():
    g = grid_points()
    n = int(round(np.sqrt(len(g))))
    assert n * n == len(g) and n >= 50


@pytest.mark.parametrize("features", [("x1", "x2"), ("x1sq", "x2sq", "x1x2", "sinx1")])
def test_binary_output_is_sigmoid_of_forward(features):
    model = model_for(len(features), 1)
    maps = evaluate_grid(model.net(), "binary", features, RES)
    expected = torch.sigmoid(oracle(model, features))[:, 0].numpy().reshape(RES, RES)
    assert maps.classes is None
    assert maps.output.shape == (RES, RES)
    np.testing.assert_allclose(maps.output, expected, rtol=1e-5, atol=1e-6)
    assert np.all((maps.output >= 0) & (maps.output <= 1))


def test_output_orientation_rows_along_x2():
    # a net that outputs x1 + 10 * x2: rows must grow by 10 steps, columns by 1
    model = build_model(2, 1, (), (), (), "xavier", 0)
    with torch.no_grad():
        model.layers[0].weight.copy_(torch.tensor([[1.0, 10.0]]))
        model.layers[0].bias.zero_()
    out = evaluate_grid(model.net(), "regression", ("x1", "x2"), RES).output
    axis = np.linspace(-6, 6, RES)
    np.testing.assert_allclose(out, axis[None, :] + 10 * axis[:, None], rtol=1e-5, atol=1e-5)


def test_multiclass_classes_sum_to_one_and_output_is_max():
    features = ("x1", "x2", "x1x2")
    model = model_for(3, 4)
    maps = evaluate_grid(model.net(), "multiclass", features, RES)
    assert maps.classes.shape == (4, RES, RES)
    np.testing.assert_allclose(maps.classes.sum(axis=0), 1.0, atol=1e-5)
    np.testing.assert_array_equal(maps.output, maps.classes.max(axis=0))
    expected = torch.softmax(oracle(model, features), dim=1).numpy()  # (res², 4)
    for k in range(4):
        np.testing.assert_allclose(maps.classes[k], expected[:, k].reshape(RES, RES),
                                   rtol=1e-5, atol=1e-6)


def test_regression_output_is_forward():
    features = ("x1", "x2")
    model = model_for(2, 1, hidden=(4,), activation=("elu",))
    maps = evaluate_grid(model.net(), "regression", features, RES)
    expected = oracle(model, features)[:, 0].numpy().reshape(RES, RES)
    np.testing.assert_allclose(maps.output, expected, rtol=1e-5, atol=1e-6)


def test_neuron_maps_are_hidden_activations_by_hand():
    model = build_model(2, 1, (2, 2), ("tanh", "relu"), (0.0, 0.0), "xavier", 0)
    w1, b1 = np.array([[0.5, -1.0], [0.25, 0.75]]), np.array([0.1, -0.2])
    w2, b2 = np.array([[1.0, 2.0], [-1.5, 0.5]]), np.array([0.3, 0.0])
    with torch.no_grad():
        for layer, (w, b) in zip(model.layers, ((w1, b1), (w2, b2))):
            layer.weight.copy_(torch.tensor(w))
            layer.bias.copy_(torch.tensor(b))
    maps = evaluate_grid(model.net(), "binary", ("x1", "x2"), RES)
    x = grid_points(RES).astype(np.float64)
    a1 = np.tanh(x @ w1.T + b1)
    a2 = np.maximum(a1 @ w2.T + b2, 0.0)
    assert [m.shape for m in maps.neurons] == [(2, RES, RES), (2, RES, RES)]
    for layer, acts in zip(maps.neurons, (a1, a2)):
        for j in range(2):
            np.testing.assert_allclose(layer[j], acts[:, j].reshape(RES, RES), atol=1e-5)
    assert (maps.neurons[1] >= 0).all() and (maps.neurons[1] == 0).any()


def test_dropout_does_not_touch_the_picture():
    model = model_for(2, 1, dropout=(0.5, 0.5))
    model.train()
    first = evaluate_grid(model.net(), "binary", ("x1", "x2"), RES)
    second = evaluate_grid(model.net(), "binary", ("x1", "x2"), RES)
    np.testing.assert_array_equal(first.output, second.output)
    expected = torch.sigmoid(oracle(model, ("x1", "x2")))[:, 0].numpy().reshape(RES, RES)
    np.testing.assert_allclose(first.output, expected, rtol=1e-5, atol=1e-6)


def test_no_hidden_layers_gives_no_neuron_maps():
    model = build_model(2, 1, (), (), (), "xavier", 0)
    assert evaluate_grid(model.net(), "binary", ("x1", "x2"), RES).neurons == []


def test_feature_maps():
    maps = feature_maps(("x1", "x2sq", "sinx1"), RES)
    assert maps.shape == (3, RES, RES)
    axis = np.linspace(-6, 6, RES)
    np.testing.assert_allclose(maps[0], np.broadcast_to(axis[None, :], (RES, RES)), atol=1e-6)
    np.testing.assert_allclose(maps[1], np.broadcast_to(axis[:, None] ** 2, (RES, RES)),
                               rtol=1e-6)
    np.testing.assert_allclose(maps[2], np.broadcast_to(np.sin(axis)[None, :], (RES, RES)),
                               atol=1e-6)


def test_cached_grids_cannot_be_corrupted_by_a_caller():
    features = ("x1", "x2")
    model = model_for(2, 1)
    before = evaluate_grid(model.net(), "binary", features, RES).output.copy()
    with pytest.raises(ValueError):
        grid_points(RES)[0, 0] = 99.0  # read-only: the grid is shared by every caller
    maps = feature_maps(features, RES)
    maps[:] = 0.0  # a caller's scratch work on its thumbnails
    np.testing.assert_array_equal(feature_maps(features, RES)[0][0],
                                  np.linspace(-6, 6, RES, dtype=np.float32))
    after = evaluate_grid(model.net(), "binary", features, RES).output
    np.testing.assert_array_equal(after, before)


def test_a_stack_of_networks_gives_each_its_own_maps():
    models = [model_for(2, 1, seed=s) for s in range(3)]
    features = [("x1", "x2"), ("x1sq", "x2sq"), ("x1", "x2")]
    stack = models[0].net()
    stack.weights = [torch.stack(ws) for ws in zip(*(m.net().weights for m in models))]
    stack.biases = [torch.stack(bs) for bs in zip(*(m.net().biases for m in models))]
    with torch.no_grad():
        together = evaluate_grids(stack, "binary", features, RES)
    for model, f, maps in zip(models, features, together):
        alone = evaluate_grid(model.net(), "binary", f, RES)
        np.testing.assert_allclose(maps.output, alone.output, rtol=1e-5, atol=1e-6)
        for a, b in zip(maps.neurons, alone.neurons):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
