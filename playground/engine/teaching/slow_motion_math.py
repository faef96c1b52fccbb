"""The scalar arithmetic of the slow-motion step: activations and losses on plain floats.

``slow_motion.py`` walks one example through a tiny network neuron by neuron, so
its arithmetic is written on Python floats (float64), apart from the torch code
that trains: the point of the view is to show every multiplication, and the
tests compare it with autograd. Each loss rule is keyed like the trainer's
``OBJECTIVES`` and returns, besides its numbers, the lines that explain them
(LaTeX with the actual numbers) for the page.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from playground.engine.nn.activations import LEAKY_SLOPE
from playground.engine.nn.losses import TF_LOSS


def number(x: float, digits: int = 4) -> str:
    """A short decimal for a formula (4 significant digits)."""
    text = f"{x:.{digits}g}"
    if "e" in text:  # LaTeX would show 1.2e-05 as it is; write the power of ten instead
        mantissa, power = text.split("e")
        text = rf"{mantissa}\cdot 10^{{{int(power)}}}"
    return text


def factor(x: float) -> str:
    """A number inside a product or sum: negative ones in parentheses, so that
    "0.31 · (−0.52)" reads as a product, not a subtraction."""
    return f"({number(x)})" if x < 0 else number(x)


def _sigmoid(z: float) -> float:
    # two branches keep exp() from overflowing for large |z|
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


# torch's softplus is z itself above this (its default threshold), and so is the trainer's
SOFTPLUS_LINEAR_ABOVE = 20.0


def _softplus(z: float) -> float:
    return z if z > SOFTPLUS_LINEAR_ABOVE else math.log1p(math.exp(z))


def _softplus_slope(z: float, a: float) -> float:
    return 1.0 if z > SOFTPLUS_LINEAR_ABOVE else _sigmoid(z)


def _normal_cdf(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def _normal_pdf(z: float) -> float:
    return math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)


@dataclass(frozen=True)
class ScalarActivation:
    forward: Callable[[float], float]
    slope: Callable[[float, float], float]  # f'(z) from z and a = f(z)
    slope_formula: str  # f'(z) in LaTeX, in terms of z and a


SCALAR_ACTIVATIONS: dict[str, ScalarActivation] = {
    "tanh": ScalarActivation(math.tanh, lambda z, a: 1.0 - a * a, "1 - a^2"),
    "relu": ScalarActivation(lambda z: max(z, 0.0), lambda z, a: float(z > 0),
                             r"[z > 0]"),
    "sigmoid": ScalarActivation(_sigmoid, lambda z, a: a * (1.0 - a), "a(1 - a)"),
    "linear": ScalarActivation(lambda z: z, lambda z, a: 1.0, "1"),
    "leaky_relu": ScalarActivation(lambda z: z if z > 0 else LEAKY_SLOPE * z,
                                   lambda z, a: 1.0 if z > 0 else LEAKY_SLOPE,
                                   rf"(1 \text{{ if }} z > 0 \text{{ else }} {LEAKY_SLOPE})"),
    "elu": ScalarActivation(lambda z: z if z > 0 else math.expm1(z),
                            lambda z, a: 1.0 if z > 0 else a + 1.0,
                            r"(1 \text{ if } z > 0 \text{ else } a + 1)"),
    "gelu": ScalarActivation(lambda z: z * _normal_cdf(z),
                             lambda z, a: _normal_cdf(z) + z * _normal_pdf(z),
                             r"\Phi(z) + z\,\varphi(z)"),
    "silu": ScalarActivation(lambda z: z * _sigmoid(z),
                             lambda z, a: _sigmoid(z) * (1.0 + z * (1.0 - _sigmoid(z))),
                             r"\sigma(z)\,(1 + z(1 - \sigma(z)))"),
    "softplus": ScalarActivation(_softplus, _softplus_slope, r"\sigma(z)"),
}


@dataclass(frozen=True)
class OutputStep:
    """What the loss makes of the raw outputs z for one example."""

    prediction: tuple[float, ...]  # probability, tanh output or value, per output
    loss: float
    deltas: tuple[float, ...]  # dL/dz per output
    loss_line: str  # LaTeX: the loss with its numbers
    delta_lines: tuple[str, ...]  # LaTeX: each output's dL/dz with its numbers


def _binary_cross_entropy(z: list[float], y: float) -> OutputStep:
    (logit,), p = z, _sigmoid(z[0])
    # the stable form of -[y ln p + (1-y) ln(1-p)], as torch computes it from the logit
    loss = max(logit, 0.0) - logit * y + math.log1p(math.exp(-abs(logit)))
    return OutputStep(
        (p,), loss, (p - y,),
        rf"L = -[y\ln \hat y + (1-y)\ln(1-\hat y)] = -[{number(y)}\ln {number(p)} + "
        rf"{number(1 - y)}\ln {number(1 - p)}] = {number(loss)}",
        (rf"\delta = \frac{{\partial L}}{{\partial z}} = \hat y - y = {number(p)} - "
         rf"{number(y)} = {number(p - y)}",))


def _binary_squared(z: list[float], y: float) -> OutputStep:
    p = _sigmoid(z[0])
    delta = 2.0 * (p - y) * p * (1.0 - p)
    return OutputStep(
        (p,), (p - y) ** 2, (delta,),
        rf"L = (\hat y - y)^2 = ({number(p)} - {number(y)})^2 = {number((p - y) ** 2)}",
        (rf"\delta = 2(\hat y - y)\,\hat y(1 - \hat y) = 2 \cdot {factor(p - y)} \cdot "
         rf"{number(p)} \cdot {number(1 - p)} = {number(delta)}",))


def _tf_binary_squared(z: list[float], y: float) -> OutputStep:
    t, sign = math.tanh(z[0]), 2.0 * y - 1.0  # TF's output node is tanh, its labels ±1
    delta = (t - sign) * (1.0 - t * t)
    loss = 0.5 * (t - sign) ** 2
    return OutputStep(
        (t,), loss, (delta,),
        rf"L = \tfrac12(\hat y - s)^2,\ \hat y = \tanh z:\ L = "
        rf"\tfrac12({number(t)} - {factor(sign)})^2 "
        rf"= {number(loss)}",
        (rf"\delta = (\hat y - s)(1 - \hat y^2) = {factor(t - sign)} \cdot "
         rf"{number(1 - t * t)} = {number(delta)}",))


def _squared_error(z: list[float], y: float) -> OutputStep:
    out = z[0]
    return OutputStep(
        (out,), (out - y) ** 2, (2.0 * (out - y),),
        rf"L = (\hat y - y)^2,\ \hat y = z:\ L = ({number(out)} - {factor(y)})^2 "
        rf"= {number((out - y) ** 2)}",
        (rf"\delta = 2(\hat y - y) = 2 \cdot {factor(out - y)} = {number(2.0 * (out - y))}",))


def _tf_squared_error(z: list[float], y: float) -> OutputStep:
    out = z[0]
    loss = 0.5 * (out - y) ** 2
    return OutputStep(
        (out,), loss, (out - y,),
        rf"L = \tfrac12(\hat y - y)^2,\ \hat y = z:\ L = \tfrac12({number(out)} - "
        rf"{factor(y)})^2 = {number(loss)}",
        (rf"\delta = \hat y - y = {number(out)} - {factor(y)} = {number(out - y)}",))


def _softmax(z: list[float]) -> list[float]:
    top = max(z)
    exps = [math.exp(v - top) for v in z]
    total = sum(exps)
    return [e / total for e in exps]


def _multiclass_cross_entropy(z: list[float], y: float) -> OutputStep:
    p, label = _softmax(z), int(y)
    top = max(z)
    loss = top + math.log(sum(math.exp(v - top) for v in z)) - z[label]  # -log softmax
    deltas = tuple(p_k - (k == label) for k, p_k in enumerate(p))
    return OutputStep(
        tuple(p), loss, deltas,
        rf"L = -\ln \hat y_{{{label + 1}}} = -\ln {number(p[label])} = {number(loss)}",
        tuple(rf"\delta_{{{k + 1}}} = \hat y_{{{k + 1}}} - [y = {k + 1}] = {number(p_k)} - "
              rf"{int(k == label)} = {number(deltas[k])}" for k, p_k in enumerate(p)))


def _multiclass_squared(z: list[float], y: float) -> OutputStep:
    p, label, count = _softmax(z), int(y), len(z)
    error = [p_k - (k == label) for k, p_k in enumerate(p)]
    loss = sum(e * e for e in error) / count
    # dL/dp_k, then back through the softmax: dL/dz_j = p_j (g_j - sum_k p_k g_k)
    g = [2.0 * e / count for e in error]
    mixed = sum(p_k * g_k for p_k, g_k in zip(p, g))
    deltas = tuple(p_j * (g_j - mixed) for p_j, g_j in zip(p, g))
    return OutputStep(
        tuple(p), loss, deltas,
        rf"L = \tfrac1{{{count}}}\sum_k (\hat y_k - [y = k])^2 = {number(loss)}",
        tuple(rf"\delta_{{{j + 1}}} = \hat y_{{{j + 1}}}\,(g_{{{j + 1}}} - "
              rf"\textstyle\sum_k \hat y_k g_k) "
              rf"= {number(p[j])} \cdot ({number(g[j])} - {factor(mixed)}) = {number(d)}"
              rf"\quad (g_k = \tfrac{{2}}{{{count}}}(\hat y_k - [y = k]))"
              for j, d in enumerate(deltas)))


# keyed like losses.OBJECTIVES: every objective the trainer can use has its rule here
OUTPUT_RULES: dict[tuple[str, str], Callable[[list[float], float], OutputStep]] = {
    ("cross_entropy", "binary"): _binary_cross_entropy,
    ("cross_entropy", "multiclass"): _multiclass_cross_entropy,
    ("mse", "binary"): _binary_squared,
    ("mse", "multiclass"): _multiclass_squared,
    ("mse", "regression"): _squared_error,
    (TF_LOSS, "binary"): _tf_binary_squared,
    (TF_LOSS, "regression"): _tf_squared_error,
}

# the derivative of each weight penalty at a weight, for a rate of 1 (biases have none)
PENALTY_SLOPES: dict[str, Callable[[float], float]] = {
    "none": lambda w: 0.0,
    "l1": lambda w: float((w > 0) - (w < 0)),
    "l2": lambda w: w,
}
