"""Own data from a CSV file: two numeric feature columns and a label column.

The header is optional (a first row with no number in it). Every problem a file
can have gets its own one-sentence ``DataProblem``, and nothing is half-read:
either all points are usable or none is. Points outside the plotted box are
rescaled into it (and regression values outside -1..1 into that range), and the
result says how.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from playground.engine.config.limits import LIMITS, Limits
from playground.engine.data.datasets import BOX, DATASETS
from playground.engine.data.own_points import (
    MIN_POINTS,
    DataProblem,
    decode_points,
    encode_points,
    require_plane,
)

if TYPE_CHECKING:
    from playground.engine.config.config import Config

MAX_CSV_BYTES = 256 * 1024  # 2,000 rows of three long numbers take about 100 KB
FIT = 5.0  # rescaled points span -5..5 as the generated ones do, clear of the plot's edge
PREVIEW_ROWS = 10
DELIMITERS = (",", ";", "\t")


@dataclass(frozen=True)
class CsvData:
    x: np.ndarray  # float32 (n, 2), as used: rescaled and quantized
    y: np.ndarray  # int64 classes or float32 values
    text: str  # the Config's ``data`` value for these points
    header: tuple[str, ...] | None  # the file's header row, if it had one
    preview: list[dict[str, float | int]]  # the first points as used
    scaling: str | None  # how points were rescaled to the plot, or None


def _text(data: bytes) -> str:
    if not data.strip():
        raise DataProblem("The file is empty.")
    if len(data) > MAX_CSV_BYTES:
        raise DataProblem(f"The file has {math.ceil(len(data) / 1024):,} KB, more than the "
                          f"{MAX_CSV_BYTES // 1024} KB a data file may have.")
    try:
        if b"\0" in data:
            raise UnicodeError("a NUL byte")
        text = data.decode("utf-8-sig")
    except UnicodeError:
        raise DataProblem("The file is not text; save it as CSV (comma-separated values).") \
            from None
    if not text.strip():  # a byte-order mark and nothing else
        raise DataProblem("The file is empty.")
    return text


def _rows(text: str) -> list[tuple[int, list[str]]]:
    """(line number, cells) of every non-blank line, split at the file's delimiter."""
    lines = [(number, line) for number, line in enumerate(text.splitlines(), start=1)
             if line.strip()]
    first = lines[0][1]
    delimiter = next((d for d in DELIMITERS if d in first), ",")
    return [(number, [cell.strip() for cell in next(csv.reader([line], delimiter=delimiter))])
            for number, line in lines]


def _number(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def _cell(number: int, column: int, cell: str) -> float:
    where = f"Row {number}, column {column}"
    if not cell:
        raise DataProblem(f"{where} is empty; every row needs all three values.")
    value = _number(cell)
    if value is None:
        raise DataProblem(f"{where} is '{cell[:20]}', which is not a number.")
    if math.isnan(value):
        raise DataProblem(f"{where} is NaN (a missing value); fill it in or remove the row.")
    if math.isinf(value):
        raise DataProblem(f"{where} is infinite; every value must be a finite number.")
    return value


def _table(rows: list[tuple[int, list[str]]], label: str, limits: Limits
           ) -> tuple[np.ndarray, tuple[str, ...] | None]:
    header = None
    if all(_number(cell) is None for cell in rows[0][1]):
        header = tuple(rows[0][1])
        rows = rows[1:]
        if len(header) != 3:
            raise DataProblem(f"The file needs three columns (x1, x2 and the {label}); its "
                              f"header has {len(header)}.")
    if not rows:
        raise DataProblem("The file has a header but no points.")
    if len(rows) > limits.max_points:
        raise DataProblem(f"The file has {len(rows):,} points; this server takes at most "
                          f"{limits.max_points:,}.")
    first_number, first = rows[0]
    if len(first) != 3:
        raise DataProblem(f"Each row needs three columns (x1, x2 and the {label}); row "
                          f"{first_number} has {len(first)}.")
    for number, cells in rows:
        if len(cells) != 3:
            raise DataProblem(f"Row {number} has {len(cells)} columns, but the rows before it "
                              "have 3.")
    if len(rows) < MIN_POINTS:
        raise DataProblem(f"The file has {len(rows)} points; at least {MIN_POINTS} are needed "
                          "(some to train on, some to test).")
    table = np.array([[_cell(number, column, cell) for column, cell in enumerate(cells, 1)]
                      for number, cells in rows])
    return table, header


def _classes(labels: np.ndarray, rows: list[int], dataset: str) -> np.ndarray:
    spec = DATASETS[dataset]
    wrong = (labels != np.round(labels)) | (labels < 0) | (labels >= spec.n_classes)
    if wrong.any():
        i = int(np.argmax(wrong))
        raise DataProblem(f"Row {rows[i]}'s label {labels[i]:g} is not a class of "
                          f"{spec.title}: its classes are the whole numbers 0 to "
                          f"{spec.n_classes - 1}.")
    classes = labels.astype(np.int64)
    if len(set(classes.tolist())) < 2:
        raise DataProblem(f"Every point has the label {classes[0]}, but a classification needs "
                          "at least two classes; check the label column.")
    return classes


def _fit(values: np.ndarray, limit: float, target: float, name: str
         ) -> tuple[np.ndarray, str | None]:
    """Values beyond ±limit mapped linearly from their range onto -target..target."""
    if np.abs(values).max() <= limit:
        return values, None
    lo, hi = float(values.min()), float(values.max())
    if hi == lo:  # one value for every point: no range to map, so to the middle
        return values * 0, f"{name} moved from {lo:g} to 0"
    scaled = (values - lo) / (hi - lo) * 2 * target - target
    return scaled, f"{name} from {lo:g}..{hi:g} to {-target:g}..{target:g}"


def parse_csv(data: bytes, config: Config, limits: Limits = LIMITS) -> CsvData:
    """The points of a CSV file for this Config's data set; DataProblem if unusable."""
    require_plane(config)
    classes = config.task == "classification"
    label = "label" if classes else "value"
    rows = _rows(_text(data))
    table, header = _table(rows, label, limits)
    line_numbers = [number for number, _ in rows[len(rows) - len(table):]]
    notes = []
    columns = []
    for column, name in ((0, "x1"), (1, "x2")):
        fitted, note = _fit(table[:, column], BOX, FIT, name)
        columns.append(fitted)
        notes.append(note)
    if classes:
        y: np.ndarray = _classes(table[:, 2], line_numbers, config.dataset)
    else:
        y, note = _fit(table[:, 2], 1.0, 1.0, "value")
        notes.append(note)
    text = encode_points(np.column_stack(columns), y, config.task)
    points = decode_points(text)  # what the Trainer will see: quantized
    preview = [{"x1": round(a, 4), "x2": round(b, 4), label: c if classes else round(c, 4)}
               for (a, b), c in zip(points.x[:PREVIEW_ROWS].tolist(),
                                    points.y[:PREVIEW_ROWS].tolist())]
    shown = [note for note in notes if note]
    scaling = (f"Rescaled to fit the plot: {'; '.join(shown)}." if shown else None)
    return CsvData(points.x, points.y, text, header, preview, scaling)


def read_csv_file(path: str, config: Config, limits: Limits = LIMITS) -> CsvData:
    """``parse_csv`` of a file on disk (for the command line); DataProblem if unreadable."""
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_CSV_BYTES + 1)  # one byte more tells "too large"
    except OSError as error:
        raise DataProblem(f"Cannot read {path}: {error.strerror or error}.") from None
    if len(data) > MAX_CSV_BYTES:
        raise DataProblem(f"The file {path} is larger than the {MAX_CSV_BYTES // 1024} KB a "
                          "data file may have.")
    return parse_csv(data, config, limits)
