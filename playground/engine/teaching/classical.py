"""Classical baselines beside the network: scikit-learn's logistic regression and k-NN.

The lesson "a neural network versus a classical model" fits, on the very points the
Trainer trains on (the same split), a plain logistic regression on x₁ and x₂ (one
line), one on polynomial features of x₁ and x₂ (a curve), and k-nearest neighbours
(a vote of the closest training points: no fixed shape at all), and draws each one's
class probabilities over the plot's grid next to the network's boundary. The last one
keeps the comparison honest: a network beats logistic regression on the spiral, but
not every classical model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler

from playground.engine.config.config import Config
from playground.engine.data.datasets import DATASETS
from playground.engine.data.points import points_dataset
from playground.engine.train.inference import RESOLUTION, grid_points

POLYNOMIAL_DEGREE = 3  # degree 2 already holds a circle; 3 also bends a line once more
MAX_ITERATIONS = 5000  # lbfgs on scaled features converges long before this
NEIGHBOURS = 5  # on the spiral: 96-99 % test accuracy (15 neighbours blur the arms: 86-89 %)


class ClassicalError(ValueError):
    """Why the classical models cannot be fitted to this data, in one sentence."""


@dataclass(frozen=True)
class ClassicalModel:
    title: str
    build: Callable[[], Pipeline]


# Inputs are standardised first: the plane's ±6 cubed reaches 216, and unscaled
# columns that far apart slow lbfgs down and skew the L2 penalty towards small terms.
CLASSICAL_MODELS: dict[str, ClassicalModel] = {
    "logistic": ClassicalModel(
        "Logistic regression",
        lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=MAX_ITERATIONS))),
    "polynomial": ClassicalModel(
        f"Logistic regression, polynomial features (degree {POLYNOMIAL_DEGREE})",
        lambda: make_pipeline(PolynomialFeatures(POLYNOMIAL_DEGREE, include_bias=False),
                              StandardScaler(), LogisticRegression(max_iter=MAX_ITERATIONS))),
    # x₁ and x₂ share one scale: distances need no scaling
    "knn": ClassicalModel(f"k-nearest neighbours (k = {NEIGHBOURS})",
                          lambda: make_pipeline(KNeighborsClassifier(NEIGHBOURS))),
}


@dataclass(frozen=True)
class ClassicalFit:
    name: str  # a key of CLASSICAL_MODELS
    title: str
    test_accuracy: float
    probabilities: np.ndarray  # (n_classes, res, res) over the grid, rows from the bottom


def classical_problem(config: Config) -> str | None:
    """Why the classical comparison does not apply to this Config, or None."""
    spec = DATASETS[config.dataset]
    if spec.task != "classification":
        return (f"The classical comparison needs a classification data set; {spec.title} is a "
                "regression one.")
    if spec.n_inputs != 2:
        return (f"The classical comparison draws the plane of x₁ and x₂; {spec.title} has "
                f"{spec.n_inputs} inputs.")
    return None


def _grid_probabilities(model: Pipeline, n_classes: int, resolution: int) -> np.ndarray:
    """(n_classes, res, res); a class missing from the training points gets 0."""
    proba = model.predict_proba(grid_points(resolution))
    full = np.zeros((len(proba), n_classes))
    full[:, model.classes_] = proba
    return full.T.reshape(n_classes, resolution, resolution)


def fit_classical(config: Config, resolution: int = RESOLUTION) -> list[ClassicalFit]:
    """Every classical model fitted to the Config's training points (raw x₁, x₂), with
    its accuracy on the test points; ClassicalError when the data does not allow it."""
    if problem := classical_problem(config):
        raise ClassicalError(problem)
    data = points_dataset(config)
    if len(np.unique(data.y_train)) < 2:
        raise ClassicalError("The training points hold only one class; a classifier needs "
                             "at least two, so add points of another class.")
    n_classes = DATASETS[config.dataset].n_classes
    fits = []
    for name, spec in CLASSICAL_MODELS.items():
        model = spec.build().fit(data.x_train, data.y_train)
        accuracy = float(np.mean(model.predict(data.x_test) == data.y_test))
        fits.append(ClassicalFit(name, spec.title, accuracy,
                                 _grid_probabilities(model, n_classes, resolution)))
    return fits
