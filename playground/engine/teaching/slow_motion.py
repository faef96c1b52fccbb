"""Inside one step: one training example through a tiny network, in slow motion.

For one example of the training set this computes, neuron by neuron on plain
floats (float64): the forward values z and a, the loss, every neuron's delta by
the chain rule, every weight's and bias's gradient, and the gradient-descent
update ``w - lr * dL/dw``. It is written as explicit loops, apart from the
trainer's batched ``backprop.py``, because the loops are what the view shows;
next to it, torch autograd differentiates the trainer's own objective from the
same weights, and the two must agree. A walk steps through the training set in
its order, one example and one update at a time (SGD with a batch of one).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from playground.engine.config.config import Config
from playground.engine.data.datasets import DATASETS
from playground.engine.data.features import FEATURES
from playground.engine.nn.activations import ACTIVATIONS
from playground.engine.nn.losses import OBJECTIVES
from playground.engine.nn.optimizers import OPTIMIZER_TITLES
from playground.engine.teaching.slow_motion_math import (
    OUTPUT_RULES,
    PENALTY_SLOPES,
    SCALAR_ACTIVATIONS,
    OutputStep,
)
from playground.engine.train.trainer import Trainer

# beyond this a step no longer fits on a screen as numbers one can follow
MAX_INPUTS = 4
MAX_HIDDEN_LAYERS = 2
MAX_NEURONS = 4
MAX_OUTPUTS = 4


def too_large(config: Config) -> str | None:
    """Why this network is too large to follow by hand (one sentence), or None."""
    outputs = config.layout().sizes[-1]
    widest = max(config.hidden, default=0)
    problems = [text for text, too_many in (
        (f"{config.n_inputs} inputs", config.n_inputs > MAX_INPUTS),
        (f"{len(config.hidden)} hidden layers", len(config.hidden) > MAX_HIDDEN_LAYERS),
        (f"{widest} neurons in a hidden layer", widest > MAX_NEURONS),
        (f"{outputs} outputs", outputs > MAX_OUTPUTS)) if too_many]
    if not problems:
        return None
    return (f"This network has {' and '.join(problems)}, too many to follow by hand: slow "
            f"motion needs at most {MAX_INPUTS} inputs, {MAX_HIDDEN_LAYERS} hidden layers of "
            f"at most {MAX_NEURONS} neurons and {MAX_OUTPUTS} outputs, for example 2-2-1.")


# what the trainer does that a batch-of-one gradient-descent step leaves out
_DIFFERENCES = (
    (lambda c: c.optimizer != "sgd" and not c.tf_math,
     lambda c: f"Training uses {OPTIMIZER_TITLES[c.optimizer]}; this view takes plain "
               "gradient-descent steps."),
    (lambda c: c.batch_size > 1,
     lambda c: f"Training averages the gradient over batches of {c.batch_size} examples; "
               "here every example takes its own step, in the training set's order."),
    (lambda c: any(rate > 0 for rate in c.dropout),
     lambda c: "Dropout is left out here: every neuron takes part in every step."),
    (lambda c: c.lr_schedule != "constant",
     lambda c: "The learning rate is the schedule's value at the session's epoch."),
)


def differences_from_training(config: Config) -> list[str]:
    """One sentence for each way the session's training differs from these steps."""
    return [describe(config) for applies, describe in _DIFFERENCES if applies(config)]


@dataclass(frozen=True)
class Walk:
    """Where a slow-motion walk stands: its own weights and the next example."""

    params: tuple[float, ...]  # flat, in the trainer's layout order
    example: int  # index into the training set
    steps: int  # updates applied since the walk started


@dataclass(frozen=True)
class Neuron:
    z: float  # pre-activation: bias + sum of weight * input
    a: float  # f(z); for an output neuron the raw output z, which the loss reads
    slope: float | None  # f'(z) of a hidden neuron; None for an output


@dataclass(frozen=True)
class BackSum:
    """A hidden neuron's delta: (sum over the next layer of w * delta) * f'(z)."""

    terms: tuple[tuple[float, float], ...]  # (weight to next neuron k, delta of k)
    total: float
    slope: float
    delta: float


@dataclass(frozen=True)
class ParamStep:
    """One weight (``frm`` -> ``to`` of a layer) or bias (of ``to``): its gradient, twice,
    and its update."""

    kind: str  # "weight" or "bias"
    layer: int  # 0: inputs -> first layer
    to: int
    frm: int | None  # None for a bias
    value: float
    delta: float  # dL/dz of neuron ``to``
    source: float  # the activation it multiplies (1 for a bias)
    hand: float  # delta * source, by the chain rule
    autograd: float  # torch autograd on the trainer's objective
    penalty: float  # rate * the weight penalty's derivative (0 for biases)
    updated: float  # value - learning rate * (hand + penalty)

    @property
    def difference(self) -> float:
        return abs(self.hand - self.autograd)


@dataclass(frozen=True)
class Step:
    example: int
    n_examples: int
    inputs: tuple[float, ...]
    input_names: tuple[str, ...]
    head: str  # "binary", "multiclass" or "regression"
    target: float  # the label (class index) or the value
    activations: tuple[str, ...]  # per hidden layer
    layers: tuple[tuple[Neuron, ...], ...]  # every hidden layer, then the output layer
    output: OutputStep
    objective_loss: float  # the trainer's objective on this example, by torch
    back_sums: tuple[tuple[BackSum, ...], ...]  # per hidden layer
    params: tuple[ParamStep, ...]  # in the trainer's flat layout order
    learning_rate: float
    regularization: str
    reg_rate: float

    @property
    def max_difference(self) -> float:
        return max(p.difference for p in self.params)

    @property
    def finite(self) -> bool:
        return all(math.isfinite(p.updated) for p in self.params) and math.isfinite(
            self.output.loss)


def start_walk(trainer: Trainer, example: int = 0) -> Walk:
    """A walk from the trainer's current weights (exact: float32 fits in float64)."""
    return Walk(tuple(trainer.params.double().tolist()), example, 0)


def objective_key(trainer: Trainer) -> tuple[str, str]:
    """The (loss, head) key of the objective the trainer trains with."""
    return next(key for key, value in OBJECTIVES.items() if value is trainer.objective)


def _target(trainer: Trainer, index: int) -> torch.Tensor:
    y = trainer.y_train[index:index + 1]
    return y.double() if y.is_floating_point() else y


def autograd_gradient(trainer: Trainer, params: tuple[float, ...],
                      index: int) -> tuple[float, list[float]]:
    """The trainer's objective on one example and its gradient, by torch autograd."""
    flat = torch.tensor(params, dtype=torch.float64, requires_grad=True)
    weights, biases = trainer.layout.split(flat)
    h = trainer.x_train[index:index + 1].double()
    for w, b, name in zip(weights, biases, trainer.config.activation):
        h = ACTIVATIONS[name].forward(torch.nn.functional.linear(h, w, b))
    out = torch.nn.functional.linear(h, weights[-1], biases[-1])
    loss = trainer.objective.value(out, _target(trainer, index))
    loss.backward()
    return loss.item(), flat.grad.tolist()


def _input_names(config: Config, count: int) -> tuple[str, ...]:
    if DATASETS[config.dataset].n_inputs == 2:
        return tuple(FEATURES[name].label for name in config.features)
    return tuple(f"x{i + 1}" for i in range(count))


def _forward(weights: list, biases: list, activations: tuple[str, ...],
             x: list[float]) -> list[list[Neuron]]:
    layers, a_prev = [], x
    for layer, (w, b) in enumerate(zip(weights, biases)):
        hidden = layer < len(activations)
        neurons = []
        for to, bias in enumerate(b):
            z = bias + sum(w[to][frm] * a_prev[frm] for frm in range(len(a_prev)))
            if hidden:
                rule = SCALAR_ACTIVATIONS[activations[layer]]
                a = rule.forward(z)
                neurons.append(Neuron(z, a, rule.slope(z, a)))
            else:
                neurons.append(Neuron(z, z, None))
        layers.append(neurons)
        a_prev = [n.a for n in neurons]
    return layers


def _backward(weights: list, layers: list[list[Neuron]],
              output_deltas: tuple[float, ...]) -> tuple[list[list[float]], list[list[BackSum]]]:
    """Every layer's deltas, from the output back to the first hidden layer."""
    deltas = [list(output_deltas)]
    back_sums: list[list[BackSum]] = []
    for layer in range(len(weights) - 1, 0, -1):
        w, after = weights[layer], deltas[0]
        sums = []
        for neuron_index, neuron in enumerate(layers[layer - 1]):
            terms = tuple((w[k][neuron_index], after[k]) for k in range(len(after)))
            total = sum(weight * delta for weight, delta in terms)
            sums.append(BackSum(terms, total, neuron.slope, total * neuron.slope))
        back_sums.insert(0, sums)
        deltas.insert(0, [s.delta for s in sums])
    return deltas, back_sums


def explain_step(trainer: Trainer, walk: Walk) -> Step:
    """The whole step for the walk's example, from the walk's weights."""
    config = trainer.config
    refusal = too_large(config)
    if refusal:
        raise ValueError(refusal)
    index = walk.example % trainer.x_train.shape[0]
    split = trainer.layout.split(torch.tensor(walk.params, dtype=torch.float64))
    weights, biases = [w.tolist() for w in split[0]], [b.tolist() for b in split[1]]
    x = trainer.x_train[index].double().tolist()
    target = float(trainer.y_train[index].reshape(-1)[0])
    layers = _forward(weights, biases, config.activation, x)
    output = OUTPUT_RULES[objective_key(trainer)]([n.z for n in layers[-1]], target)
    deltas, back_sums = _backward(weights, layers, output.deltas)
    objective_loss, auto = autograd_gradient(trainer, walk.params, index)
    lr, slope = trainer.learning_rate, PENALTY_SLOPES[config.regularization]
    params, flat_index = [], 0
    for layer, (w, b) in enumerate(zip(weights, biases)):
        sources = x if layer == 0 else [n.a for n in layers[layer - 1]]
        # the flat layout holds a layer's weights row by row, then its biases
        entries = [("weight", to, frm, w[to][frm], sources[frm])
                   for to in range(len(w)) for frm in range(len(sources))]
        entries += [("bias", to, None, b[to], 1.0) for to in range(len(b))]
        for kind, to, frm, value, source in entries:
            hand = deltas[layer][to] * source
            penalty = config.reg_rate * slope(value) if kind == "weight" else 0.0
            params.append(ParamStep(kind, layer, to, frm, value, deltas[layer][to], source,
                                    hand, auto[flat_index], penalty,
                                    value - lr * (hand + penalty)))
            flat_index += 1
    return Step(index, trainer.x_train.shape[0], tuple(x),
                _input_names(config, len(x)), trainer.head_name, target,
                tuple(config.activation),
                tuple(tuple(n) for n in layers), output, objective_loss,
                tuple(tuple(s) for s in back_sums), tuple(params), lr,
                config.regularization, config.reg_rate)


def next_example(trainer: Trainer, walk: Walk, step: Step | None = None) -> Walk:
    """Apply this example's update and move on to the next example (wrapping around);
    ``step``: this example's ``explain_step``, when the caller has it already."""
    step = step or explain_step(trainer, walk)
    return Walk(tuple(p.updated for p in step.params),
                (step.example + 1) % step.n_examples, walk.steps + 1)
