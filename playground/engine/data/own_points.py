"""Own data: points a visitor drew or uploaded, carried in the Config's ``data`` field.

The points travel as compact URL-safe text, so a teacher's drawn example fits in a
link: a kind letter (``C`` classes, ``V`` values), the training ratio and data seed
the split was made for, then base64url of the points: every x1, every x2 and (for
values) every target as float32, so an uploaded 1.8994 trains and downloads as
float32's 1.8994, each class as a byte, and one bit per point for the test set.
Each point keeps its set through every edit: a drawn point trains (unless the
visitor sends it to the test set) and no other point moves. Only a new training
ratio or data seed deals the points again (``train_mask``).

Empty text means the data set's own generator. The data set still says the task and
the classes: own points on a classification data set are classes of that set. The
first form (``c.``/``v.``: 16-bit coordinates, split by ``train_mask``) is still read,
so old links open as they did.

Reading a CSV file is in ``own_csv.py``; this module encodes and checks the text (the
Config's checks call it); ``points.py`` turns a Config's points into the Trainer's Dataset.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

import numpy as np

from playground.engine.config.limits import LIMITS, Limits
from playground.engine.data.datasets import BOX, DATASETS

URL_MAX_POINTS = 200  # own data sets up to this size travel in the page's link
MIN_POINTS = 4  # some to train on and some to test
LEVELS = 65534  # the first form: an even count of steps, so 0, the box's edges and ±1 are exact
KINDS = {"classification": "C", "regression": "V"}  # the first letter of the text
QUANTIZED_KINDS = {"classification": "c", "regression": "v"}  # the first form's letters
TASKS = {letter: task for kinds in (KINDS, QUANTIZED_KINDS) for task, letter in kinds.items()}
# bytes per point: x1 and x2, then the label; the first form has 16-bit numbers
LABEL_BYTES = {"C": 1, "V": 4, "c": 1, "v": 2}
COORD_BYTES = {"C": 8, "V": 8, "c": 4, "v": 4}
BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
NUMBER = re.compile(r"[0-9]{1,10}")


class DataProblem(ValueError):
    """Own data that cannot be used; the message is one sentence for the visitor."""


@dataclass(frozen=True)
class Points:
    x: np.ndarray  # float32 (n, 2), inside the box
    y: np.ndarray  # int64 class indices, or float32 targets in [-1, 1]
    task: str
    test: np.ndarray | None = None  # bool per point: in the test set (None: the first form)
    made_for: tuple[int, int] | None = None  # (train_ratio, data_seed) the split was made for

    def __len__(self) -> int:
        return len(self.x)


# -- the text form ---------------------------------------------------------------------------
def _quantize(values: np.ndarray, edge: float) -> np.ndarray:
    scaled = (np.clip(np.asarray(values, np.float64), -edge, edge) + edge) / (2 * edge)
    return np.round(scaled * LEVELS).astype("<u2")


def _dequantize(codes: np.ndarray, edge: float) -> np.ndarray:
    return (codes.astype(np.float64) / LEVELS * (2 * edge) - edge).astype(np.float32)


def _float32(values: np.ndarray, edge: float) -> np.ndarray:
    return np.clip(np.asarray(values, np.float64), -edge, edge).astype("<f4")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def encode_points(x: np.ndarray, y: np.ndarray, task: str, test: np.ndarray | None = None,
                  train_ratio: int = 50, data_seed: int = 0) -> str:
    """The URL-safe text of these points (coordinates clipped to the box, values to ±1),
    with ``test`` saying which are test points, a split made for this training ratio and
    data seed; without ``test``, ``train_mask``'s split for them."""
    letter = KINDS[task]
    x = _float32(np.asarray(x, np.float64).reshape(-1, 2), BOX)
    if test is None:
        test = ~train_mask(x, train_ratio / 100, data_seed)
    test = np.asarray(test, bool).reshape(-1)
    if len(test) != len(x):
        raise ValueError("one set flag per point")
    labels = (np.asarray(y).astype(np.uint8) if letter == "C"
              else _float32(np.asarray(y, np.float64), 1.0))
    raw = (x[:, 0].tobytes() + x[:, 1].tobytes() + labels.tobytes()
           + np.packbits(test, bitorder="little").tobytes())
    return f"{letter}.{int(train_ratio)}.{int(data_seed)}.{_b64(raw)}"


def _parts(text: str) -> tuple[str, tuple[int, int] | None, str] | None:
    """(kind letter, what the split was made for, payload), or None if not of either form."""
    fields = text.split(".")
    if len(fields) == 2 and fields[0] in QUANTIZED_KINDS.values():
        return fields[0], None, fields[1]
    if (len(fields) == 4 and fields[0] in KINDS.values() and NUMBER.fullmatch(fields[1])
            and NUMBER.fullmatch(fields[2])):
        return fields[0], (int(fields[1]), int(fields[2])), fields[3]
    return None


def _count(letter: str, size: int) -> int:
    per_point = COORD_BYTES[letter] + LABEL_BYTES[letter]
    if letter in QUANTIZED_KINDS.values():
        return size // per_point
    return 8 * size // (8 * per_point + 1)  # and one bit a point, rounded up to a byte


def count_points(text: str) -> int:
    """How many points the text holds, read from its length alone (no decoding)."""
    parts = _parts(text) if text else None
    if parts is None:
        return 0
    letter, _, payload = parts
    return _count(letter, len(payload) * 3 // 4)  # base64 without padding


def decode_points(text: str) -> Points:
    """The points of a text from ``encode_points``; DataProblem if it is not one."""
    parts = _parts(text)
    unreadable = DataProblem("The data is not a set of points this page can read.")
    # base64 would skip a stray character silently: a typo must not pass for points
    if parts is None or len(parts[2]) % 4 == 1 or not BASE64URL.fullmatch(parts[2]):
        raise unreadable
    letter, made_for, payload = parts
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    n = _count(letter, len(raw))
    per_point = COORD_BYTES[letter] + LABEL_BYTES[letter]
    if len(raw) != n * per_point + (0 if made_for is None else -(-n // 8)):
        raise unreadable
    if made_for is None:
        return _decode_quantized(raw, n, letter, unreadable)
    x = np.frombuffer(raw, dtype="<f4", count=2 * n).astype(np.float32)
    if not (np.isfinite(x).all() and (np.abs(x) <= BOX).all()):
        raise unreadable
    if letter == "C":
        y = np.frombuffer(raw, dtype=np.uint8, offset=8 * n, count=n).astype(np.int64)
    else:
        y = np.frombuffer(raw, dtype="<f4", offset=8 * n, count=n).astype(np.float32)
        if not (np.isfinite(y).all() and (np.abs(y) <= 1).all()):
            raise unreadable
    bits = np.frombuffer(raw, dtype=np.uint8, offset=per_point * n)
    test = np.unpackbits(bits, count=n, bitorder="little").astype(bool)
    return Points(np.column_stack([x[:n], x[n:]]), y, TASKS[letter], test, made_for)


def _decode_quantized(raw: bytes, n: int, letter: str, unreadable: DataProblem) -> Points:
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
    per_point = COORD_BYTES["V"] + LABEL_BYTES["V"] + 1  # a byte more covers the set bit
    return 2 * (len("V.100.4294967295.") + -(-limits.max_points * per_point * 4 // 3))


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
    test = decode_points(str(text)).test
    for name, in_set in (("training", test is not None and test.all()),
                         ("test", test is not None and not test.any())):
        if in_set:
            return f"has no {name} points; at least one is needed"
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
