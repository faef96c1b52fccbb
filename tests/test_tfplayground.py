"""The TensorFlow Playground: its links become Configs, and TF math trains exactly as its
published algorithm (src/nn.ts forwardProp, backProp and updateWeights, driven by oneStep in
src/playground.ts), re-implemented below in plain scalar loops as the oracle."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from playground.engine.config.config import Config
from playground.engine.formats.tfplayground import config_from_hash, seed_from_tf
from playground.engine.train.group import Group, train_epochs
from playground.engine.train.trainer import Trainer

TF_LINK = ("#activation=tanh&batchSize=10&dataset=circle&regDataset=reg-plane&learningRate=0.03"
           "&regularizationRate=0&noise=0&networkShape=4,2&seed=0.80260&showTestData=false"
           "&discretize=false&percTrainData=50&x=true&y=true&xTimesY=false&xSquared=false"
           "&ySquared=false&cosX=false&sinX=false&cosY=false&sinY=false&collectStats=false"
           "&problem=classification&initZero=false&hideText=false")


# -- links --------------------------------------------------------------------------------------
def test_the_default_tf_link_is_our_default_with_tf_math():
    config, notes = config_from_hash(TF_LINK)
    assert notes == []
    assert config == Config(tf_math=True, data_seed=80260, init_seed=80260)
    # a whole address works as well as its hash
    assert config_from_hash("https://playground.tensorflow.org/" + TF_LINK)[0] == config


def test_a_regression_link_maps_every_setting():
    link = ("#activation=relu&batchSize=25&dataset=xor&regDataset=reg-gauss&learningRate=0.01"
            "&regularizationRate=0.003&regularization=L2&noise=15&networkShape=8,8,3&seed=0.5"
            "&showTestData=true&discretize=true&percTrainData=70&x=false&y=true&xTimesY=true"
            "&xSquared=false&ySquared=true&sinX=false&sinY=true&problem=regression")
    config, notes = config_from_hash(link)
    assert notes == []
    assert config == Config(
        dataset="multigauss", activation=("relu",) * 3, hidden=(8, 8, 3), batch_size=25,
        learning_rate=0.01, regularization="l2", reg_rate=0.003, noise=15, train_ratio=70,
        features=("x2", "x2sq", "x1x2", "sinx2"), show_test=True, discretize=True,
        data_seed=50000, init_seed=50000, tf_math=True)
    assert config.points() == 1200  # TF's regression data sets have 1,200 points


def test_what_cannot_be_carried_over_is_named_key_by_key():
    link = ("#cosX=true&activation=softsign&networkShape=4,9&noise=80&initZero=true"
            "&batchSize=ten&problem=regression&regDataset=reg-maximum&colour=blue"
            "&playButton_hide=true&learningRate=0.3&hideText=false&collectStats=false"
            "&tutorial_hide=true")
    config, notes = config_from_hash(link)
    assert [note.split(":")[0].split("=")[0] for note in notes] == [
        "Ignored cosX", "Ignored activation", "Ignored networkShape", "Ignored noise",
        "Ignored initZero", "Ignored batchSize", "Ignored regDataset",
        "Ignored unknown setting 'colour'.", "Ignored tutorial_hide"]
    assert notes[2] == "Ignored networkShape=4,9: at most 8 neurons per layer."
    assert notes[3] == "Ignored noise=80: must be at most 50."
    # what was understood is kept; the rest stays at its default
    assert config == Config(dataset="plane", learning_rate=0.3, tf_math=True,
                            hide=("transport",))  # TF's playButton_hide


def test_no_input_feature_falls_back_to_x_and_y_and_says_so():
    config, notes = config_from_hash("#x=false&y=false")
    assert config.features == ("x1", "x2") and len(notes) == 1 and "x and y" in notes[0]
    assert config_from_hash("#networkShape=")[0].hidden == ()  # TF allows no hidden layer


@pytest.mark.parametrize("garbage", [
    "", "#", "&&&", "=", "==&=", "#%zz=%%", "#networkShape=,,,", "#networkShape=1e400",
    "#batchSize=Infinity&learningRate=NaN&noise=-5", "#seed=", "#seed=-1e300", "#x",
    "#problem=regression&regDataset=", "#dataset=__proto__", "?a=b#c=d#e=f", "#" + "&" * 10_000,
])
def test_garbage_never_raises(garbage):
    config, notes = config_from_hash(garbage)
    config.validate()
    assert config.tf_math and all(isinstance(n, str) for n in notes)


@given(st.text(max_size=200))
@settings(max_examples=200, deadline=None)
def test_any_text_gives_a_valid_config(text):
    config, notes = config_from_hash(text)
    config.validate()
    assert all(isinstance(n, str) and n for n in notes)


def test_seeds_map_deterministically():
    assert seed_from_tf("0.80260") == 80260
    assert seed_from_tf("hello") == seed_from_tf("hello") != seed_from_tf("hullo")


# -- the oracle: TF's nn.ts and oneStep, point by point, in float64 --------------------------
TF_ACTIVATIONS = {
    "tanh": (math.tanh, lambda x: 1 - math.tanh(x) ** 2),
    "relu": (lambda x: max(0.0, x), lambda x: 0.0 if x <= 0 else 1.0),
    "sigmoid": (lambda x: 1 / (1 + math.exp(-x)),
                lambda x: (1 / (1 + math.exp(-x))) * (1 - 1 / (1 + math.exp(-x)))),
    "linear": (lambda x: x, lambda x: 1.0),
}
TF_REGULARIZATIONS = {"none": None,
                      "l1": lambda w: -1.0 if w < 0 else (1.0 if w > 0 else 0.0),
                      "l2": lambda w: w}


class Node:
    def __init__(self, bias, activation):
        self.bias, self.activation = bias, activation
        self.input_links, self.outputs = [], []
        self.total_input = self.output = self.output_der = self.input_der = 0.0
        self.acc_input_der, self.num_accumulated_ders = 0.0, 0


class Link:
    def __init__(self, source, dest, weight, regularization):
        self.source, self.dest, self.weight = source, dest, weight
        self.regularization, self.is_dead = regularization, False
        self.error_der = self.acc_error_der = 0.0
        self.num_accumulated_ders = 0


def build_network(trainer):
    """nn.ts buildNetwork with the trainer's initial weights (TF draws its own)."""
    c = trainer.config
    output = "linear" if trainer.dataset.task == "regression" else "tanh"
    network = [[Node(0.0, None) for _ in range(trainer.layout.sizes[0])]]
    for layer, (w, b) in enumerate(zip(trainer.weights(), trainer.biases())):
        last = layer == len(trainer.weights()) - 1
        act = TF_ACTIVATIONS[output if last else c.activation[layer]]
        nodes = []
        for i in range(w.shape[0]):
            node = Node(float(b[i]), act)
            for j, source in enumerate(network[-1]):
                link = Link(source, node, float(w[i, j]), TF_REGULARIZATIONS[c.regularization])
                source.outputs.append(link)
                node.input_links.append(link)
            nodes.append(node)
        network.append(nodes)
    return network


def forward_prop(network, inputs):
    for node, value in zip(network[0], inputs):
        node.output = value
    for layer in network[1:]:
        for node in layer:
            node.total_input = node.bias
            for link in node.input_links:
                node.total_input += link.weight * link.source.output
            node.output = node.activation[0](node.total_input)
    return network[-1][0].output


def back_prop(network, target):
    out = network[-1][0]
    out.output_der = out.output - target  # Errors.SQUARE.der
    for layer_idx in range(len(network) - 1, 0, -1):
        layer = network[layer_idx]
        for node in layer:
            node.input_der = node.output_der * node.activation[1](node.total_input)
            node.acc_input_der += node.input_der
            node.num_accumulated_ders += 1
        for node in layer:
            for link in node.input_links:
                if link.is_dead:
                    continue
                link.error_der = node.input_der * link.source.output
                link.acc_error_der += link.error_der
                link.num_accumulated_ders += 1
        if layer_idx == 1:
            continue
        for node in network[layer_idx - 1]:
            node.output_der = sum(link.weight * link.dest.input_der for link in node.outputs)


def update_weights(network, learning_rate, regularization_rate, l1):
    for layer in network[1:]:
        for node in layer:
            if node.num_accumulated_ders > 0:
                node.bias -= learning_rate * node.acc_input_der / node.num_accumulated_ders
                node.acc_input_der, node.num_accumulated_ders = 0.0, 0
            for link in node.input_links:
                if link.is_dead:
                    continue
                regul_der = link.regularization(link.weight) if link.regularization else 0.0
                if link.num_accumulated_ders > 0:
                    link.weight -= (learning_rate / link.num_accumulated_ders) * link.acc_error_der
                    new_weight = link.weight - (learning_rate * regularization_rate) * regul_der
                    if l1 and link.weight * new_weight < 0:
                        link.weight, link.is_dead = 0.0, True
                    else:
                        link.weight = new_weight
                    link.acc_error_der, link.num_accumulated_ders = 0.0, 0


def tf_oracle(trainer, epochs):
    """oneStep ``epochs`` times; returns the network and TF's train loss after each epoch."""
    c = trainer.config
    network = build_network(trainer)
    xs = trainer.x_train.double().tolist()
    labels = trainer.dataset.y_train.astype(float).tolist()
    if trainer.dataset.task == "classification":
        labels = [1.0 if y == 1 else -1.0 for y in labels]  # class 1 is TF's +1, class 0 its -1
    losses = []
    for _ in range(epochs):
        for i, (x, y) in enumerate(zip(xs, labels)):
            forward_prop(network, x)
            back_prop(network, y)
            if (i + 1) % c.batch_size == 0:
                update_weights(network, c.learning_rate, c.reg_rate, c.regularization == "l1")
        losses.append(sum(0.5 * (forward_prop(network, x) - y) ** 2
                          for x, y in zip(xs, labels)) / len(xs))
    return network, losses


def network_params(network):
    """The flat vector in our layout: per layer, weights [out, in] row by row, then biases."""
    flat = []
    for layer in network[1:]:
        flat += [link.weight for node in layer for link in node.input_links]
        flat += [node.bias for node in layer]
    return torch.tensor(flat, dtype=torch.float64)


ORACLE_CASES = {
    # 35 training points in batches of 10: 5 points carried over every epoch
    "circle tanh 2-4-2-1": dict(dataset="circle", n_points=70, hidden=(4, 2),
                                learning_rate=0.3),
    "xor relu L1, links die": dict(dataset="xor", n_points=62, hidden=(4, 3), activation="relu",
                                   regularization="l1", reg_rate=0.1, learning_rate=0.3,
                                   features=("x1", "x2", "x1x2")),
    "gauss sigmoid L2": dict(dataset="gauss", n_points=40, hidden=(3,), activation="sigmoid",
                             regularization="l2", reg_rate=0.3, learning_rate=1.0, batch_size=7),
    # 1,200 points: 600 to train, batches of 7 leave 5 over
    "plane regression": dict(dataset="plane", hidden=(4, 2), learning_rate=0.03, batch_size=7,
                             noise=20, features=("x1", "x2", "sinx1")),
}


@pytest.mark.parametrize("changes", ORACLE_CASES.values(), ids=ORACLE_CASES)
def test_tf_math_equals_the_tf_playground_algorithm(changes):
    trainer = Trainer(Config.from_values({"tf_math": True, "init_seed": 3, **changes}))
    n = trainer.x_train.shape[0]
    assert n % trainer.config.batch_size, "the case must leave a partial batch over"
    start = trainer.params.clone()
    network, losses = tf_oracle(trainer, epochs=3)
    assert train_epochs(trainer, 3) == 3
    torch.testing.assert_close(trainer.params.double(), network_params(network),
                               atol=1e-5, rtol=0)
    assert trainer.history.train_loss == pytest.approx(losses, abs=1e-5)
    assert not torch.allclose(trainer.params, start, atol=1e-3)  # it did learn something
    if changes.get("regularization") == "l1":
        dead = [link for layer in network for node in layer for link in node.outputs
                if link.is_dead]
        assert dead and all(trainer.params[int(i)] == 0
                            for i in trainer.slots["dead"].nonzero())
        assert int(trainer.slots["dead"].sum()) == len(dead)


def test_tf_math_uses_tfs_init_and_one_fixed_order():
    config = Config(tf_math=True, n_points=60)
    trainer = Trainer(config)
    for w, b in zip(trainer.weights(), trainer.biases()):
        assert w.abs().max() <= 0.5 and torch.all(b == 0.1)
    assert Trainer(config.replace(dataset="plane")).x_train.shape[0] == 600  # of 1,200
    assert config.replace(dataset="spiral3").changed_fields(config) == ["dataset"]
    with pytest.raises(ValueError, match="two-class or regression"):
        config.replace(dataset="spiral3").validate()


# -- groups -------------------------------------------------------------------------------------
def _tf_members() -> list[Config]:
    base = Config(tf_math=True, dataset="xor", n_points=66, hidden=(4, 3), activation="relu",
                  regularization="l1", reg_rate=0.05, learning_rate=0.3)
    return [base, base.replace(data_seed=4, init_seed=9, learning_rate=0.1, reg_rate=0.2),
            base.replace(data_seed=7, init_seed=2, features=("x1sq", "x2sq"), momentum=0.1)]


def test_a_group_of_tf_math_sessions_ends_where_each_would_alone():
    alone = [Trainer(c) for c in _tf_members()]
    together = [Trainer(c) for c in _tf_members()]
    for trainer in alone:
        train_epochs(trainer, 4)
    with Group(together) as group:
        assert group.run_epochs(4) == 4
    for a, b in zip(alone, together):
        assert a.epoch == b.epoch == 4
        torch.testing.assert_close(b.params, a.params, atol=1e-6, rtol=1e-6)
        for name in a.slots:
            torch.testing.assert_close(b.slots[name], a.slots[name], atol=1e-6, rtol=1e-6)
        assert b.history.train_loss == pytest.approx(a.history.train_loss, rel=1e-5)


def test_tf_math_and_normal_sessions_never_share_a_group():
    tf, normal = Trainer(Config(tf_math=True)), Trainer(Config())
    assert tf.group_key != normal.group_key
    with pytest.raises(ValueError, match="one shape"):
        Group([tf, normal])
    # TF math ignores the optimizer: sessions that differ only there still train together
    assert Trainer(Config(tf_math=True, optimizer="adam")).group_key == tf.group_key


def test_tf_math_state_and_restore_continue_exactly():
    """The carried-over sums are part of the state."""
    config = _tf_members()[0]
    first = Trainer(config)
    train_epochs(first, 3)
    assert first.slots["count"].max() > 0  # a partial batch waits for the next epoch
    second = Trainer(config)
    second.restore(first.state())
    train_epochs(first, 2)
    train_epochs(second, 2)
    assert torch.equal(first.params, second.params)
