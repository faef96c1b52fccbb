"""Own data: points a visitor drew or uploaded, carried in the Config's ``data`` field.

The points travel as compact URL-safe text, so a teacher's drawn example fits in a
link: a kind letter (``c`` classes, ``v`` values), a dot, then base64url of the
quantized points: every x1, every x2 (16 bits over the plotted box), then every
label (a class byte, or 16 bits over -1..1 for a regression target). Empty text
means the data set's own generator. The data set still says the task and the
classes: own points on a classification data set are classes of that set.

Reading a CSV file is in ``own_csv.py``; this module encodes, checks and turns
points into the Trainer's Dataset.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from playground.engine.config.limits import LIMITS, Limits
from playground.engine.data.datasets import BOX, DATASETS, Dataset, load_dataset

if TYPE_CHECKING:  # config.py imports this module: a runtime import would be circular
    from playground.engine.config.config import Config

URL_MAX_POINTS = 200  # own data sets up to this size travel in the page's link
MIN_POINTS = 4  # some to train on and some to test
LEVELS = 65534  # an even count of steps: 0, the box's edges and ±1 are exact
KINDS = {"classification": "c", "regression": "v"}  # the first letter of the text
TASKS = {letter: task for task, letter in KINDS.items()}
LABEL_BYTES = {"c": 1, "v": 2}
COORD_BYTES = 4  # x1 and x2, 16 bits each
BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


class DataProblem(ValueError):
    """Own data that cannot be used; the message is one sentence for the visitor."""


@dataclass(frozen=True)
class Points:
    x: np.ndarray  # float32 (n, 2), inside the box
    y: np.ndarray  # int64 class indices, or float32 targets in [-1, 1]
    task: str

    def __len__(self) -> int:
        return len(self.x)


# -- the text form ---------------------------------------------------------------------------
def _quantize(values: np.ndarray, edge: float) -> np.ndarray:
    scaled = (np.clip(np.asarray(values, np.float64), -edge, edge) + edge) / (2 * edge)
    return np.round(scaled * LEVELS).astype("<u2")


def _dequantize(codes: np.ndarray, edge: float) -> np.ndarray:
    return (codes.astype(np.float64) / LEVELS * (2 * edge) - edge).astype(np.float32)


def encode_points(x: np.ndarray, y: np.ndarray, task: str) -> str:
    """The URL-safe text of these points (coordinates clipped to the box, values to ±1)."""
    letter = KINDS[task]
    x = np.asarray(x, np.float64).reshape(-1, 2)
    labels = (np.asarray(y).astype(np.uint8) if letter == "c"
              else _quantize(np.asarray(y, np.float64), 1.0))
    raw = _quantize(x[:, 0], BOX).tobytes() + _quantize(x[:, 1], BOX).tobytes() + labels.tobytes()
    return f"{letter}." + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def count_points(text: str) -> int:
    """How many points the text holds, read from its length alone (no decoding)."""
    if not text:
        return 0
    letter, _, payload = text.partition(".")
    size = len(payload) * 3 // 4  # base64 without padding
    return size // (COORD_BYTES + LABEL_BYTES.get(letter, 1))


def decode_points(text: str) -> Points:
    """The points of a text from ``encode_points``; DataProblem if it is not one."""
    letter, dot, payload = text.partition(".")
    unreadable = DataProblem("The data is not a set of points this page can read.")
    # base64 would skip a stray character silently: a typo must not pass for points
    if not dot or letter not in TASKS or len(payload) % 4 == 1 or not BASE64URL.fullmatch(
            payload):
        raise unreadable
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    per_point = COORD_BYTES + LABEL_BYTES[letter]
    if len(raw) % per_point:
        raise unreadable
    n = len(raw) // per_point
    codes = np.frombuffer(raw, dtype="<u2", count=2 * n)
    if codes.size and codes.max() > LEVELS:
        raise unreadable
    x = np.column_stack([_dequantize(codes[:n], BOX), _dequantize(codes[n:], BOX)])
    if letter == "c":
        y = np.frombuffer(raw, dtype=np.uint8, offset=4 * n).astype(np.int64)
    else:
        values = np.frombuffer(raw, dtype="<u2", offset=4 * n)
        if values.size and values.max() > LEVELS:
            raise unreadable
        y = _dequantize(values, 1.0)
    return Points(x, y, TASKS[letter])


# -- checks (the Config's field and cross-field checks call these) ---------------------------
def max_data_text(limits: Limits) -> int:
    """Text longer than this is refused unread: twice the text of the most points allowed,
    so that a set a little too large is still read and told its number of points."""
    return 2 * (len("v.") + -(-limits.max_points * (COORD_BYTES + LABEL_BYTES["v"]) * 4 // 3))


def data_problem(text: object, limits: Limits = LIMITS) -> str | None:
    """Why this ``data`` value cannot be used whatever the data set, or None."""
    if not text:
        return None
    try:
        n = len(decode_points(str(text)))
    except DataProblem:
        return "not a set of points this page can read"
    if n > limits.max_points:
        return f"has {n:,} points; at most {limits.max_points:,} are allowed"
    if n < MIN_POINTS:
        return f"has {n} points; at least {MIN_POINTS} are needed"
    return None


def dataset_problem(text: str, dataset: str) -> str | None:
    """Why these points do not fit this data set (its inputs, task or classes), or None."""
    if not text:
        return None
    spec = DATASETS[dataset]
    if spec.n_inputs != 2:
        return f"own points need a 2-D data set, and {spec.title} has {spec.n_inputs} inputs"
    try:
        points = decode_points(text)
    except DataProblem:
        return None  # the field's own check says so
    if points.task != spec.task:
        carried = "classes" if points.task == "classification" else "values"
        return f"these points carry {carried}, but {spec.title} is a {spec.task} data set"
    if points.task == "classification" and len(points) and points.y.max() >= spec.n_classes:
        return (f"a point has class {int(points.y.max())}, but {spec.title} has only the "
                f"classes 0 to {spec.n_classes - 1}")
    return None


def require_plane(config: Config) -> None:
    """DataProblem unless the data set has two inputs, the plane one can draw on."""
    spec = DATASETS[config.dataset]
    if spec.n_inputs != 2:
        raise DataProblem(f"Own data needs a 2-D data set; {spec.title} has {spec.n_inputs} "
                          "inputs, so choose another data set first.")


# -- the points of a Config ------------------------------------------------------------------
def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: well-spread bits from nearby keys (uint64 wraps on purpose)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def train_mask(x: np.ndarray, train_ratio: float, seed: int) -> np.ndarray:
    """Which points train: the round(n * ratio) with the smallest hash of their position
    and the seed. A point's hash does not depend on the others, so adding or erasing a
    point moves at most one other point between training and test."""
    n = len(x)
    keys = ((_quantize(x[:, 0], BOX).astype(np.uint64) << np.uint64(16))
            | _quantize(x[:, 1], BOX).astype(np.uint64)) + (np.uint64(seed) << np.uint64(32))
    order = np.lexsort((np.arange(n), _mix(keys)))  # equal points: the earlier first
    n_train = min(max(round(n * train_ratio), 1), n - 1)
    mask = np.zeros(n, dtype=bool)
    mask[order[:n_train]] = True
    return mask


def points_dataset(config: Config) -> Dataset:
    """The Trainer's data: the own points split by ``train_ratio`` and ``data_seed``, or
    the data set's generated points when there are none."""
    if not config.data:
        return load_dataset(config.dataset, config.points(), config.noise, config.train_ratio,
                            config.data_seed)
    points = decode_points(config.data)
    spec = DATASETS[config.dataset]
    train = train_mask(points.x, config.train_ratio / 100, config.data_seed)
    return Dataset(config.dataset, points.x[train], points.y[train], points.x[~train],
                   points.y[~train], spec.task, spec.n_classes)


def all_points(config: Config) -> tuple[np.ndarray, np.ndarray]:
    """Every point, training and test (generated or own), to edit or to download."""
    require_plane(config)
    if config.data:
        points = decode_points(config.data)
        return points.x, points.y
    data = points_dataset(config)
    return (np.concatenate([data.x_train, data.x_test]),
            np.concatenate([data.y_train, data.y_test]))


def points_csv(config: Config) -> str:
    """The current points as CSV text with a header: x1, x2 and the label or value."""
    x, y = all_points(config)
    classes = config.task == "classification"
    lines = ["x1,x2,label" if classes else "x1,x2,value"]
    label = "{:d}" if classes else "{:.6f}"
    # six decimals are far finer than the 16-bit steps (0.00018): reading back is exact
    lines += [f"{a:.6f},{b:.6f}," + label.format(c) for (a, b), c in
              zip(x.tolist(), y.tolist())]
    return "\n".join(lines) + "\n"


def fits_in_link(config: Config) -> bool:
    """Whether the page's link can carry this Config's own points (generated ones always)."""
    return count_points(config.data) <= URL_MAX_POINTS


def link_params(config: Config) -> dict[str, str]:
    """The URL params of the page's link: every setting, without own points too many to
    carry (``fits_in_link``)."""
    params = config.to_params()
    if not fits_in_link(config):
        params.pop("data", None)
    return params


def summary_params(config: Config) -> dict[str, str]:
    """The params a live frame carries: own points as their count and a fingerprint, not
    thousands of characters on every frame (the worker gets them once, with the change)."""
    params = config.to_params()
    if config.data:
        digest = hashlib.blake2s(config.data.encode(), digest_size=4).hexdigest()
        params["data"] = f"{count_points(config.data)} points #{digest}"
    return params
