"""Own data from a CSV file: two numeric feature columns and a label column.

The header is optional (a first row with no number in it). Commas, semicolons or
tabs separate the cells; the text may be UTF-8 or, as Excel's "Unicode text"
saves it, UTF-16 with its byte-order mark. Every problem a file can have gets its
own one-sentence ``DataProblem``, naming the point by its row (the header not
counted) and its line in the file, and nothing is half-read: either all points
are usable or none is. Points outside the plotted box are rescaled into it (and
regression values outside -1..1 into that range), in float64 even for values
near float64's limit, and the result says how. The points keep float32
precision: what trains and downloads is the file's numbers as float32.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from playground.engine.config.limits import LIMITS, Limits
from playground.engine.data.datasets import BOX, DATASETS
from playground.engine.data.own_points import MIN_POINTS, DataProblem, decode_points
from playground.engine.data.points import float32_text, own_text, require_plane

if TYPE_CHECKING:
    from playground.engine.config.config import Config

MAX_CSV_BYTES = 256 * 1024  # 2,000 rows of three long numbers take about 100 KB
FIT = 5.0  # rescaled points span -5..5 as the generated ones do, clear of the plot's edge
PREVIEW_ROWS = 10
DELIMITERS = ("\t", ";", ",")  # a tab or a semicolon first: either may sit beside a comma
UTF16_MARKS = (b"\xff\xfe", b"\xfe\xff")  # UTF-16's byte-order marks, little and big endian


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
        if data.startswith(UTF16_MARKS):  # Excel's "Unicode text": UTF-16, tab-separated
            text = data.decode("utf-16")
        elif b"\0" in data:
            raise UnicodeError("a NUL byte")
        else:
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


def _where(row: int, line: int) -> str:
    """A point as a student counts it, the header and blank lines not counted, and where
    an editor shows it: "row 57 (line 58 of the file)"."""
    return f"row {row}" + ("" if row == line else f" (line {line} of the file)")


def _cell(where: str, column: int, cell: str) -> float:
    where = f"{where[0].upper()}{where[1:]}, column {column}"
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


def _table(lines: list[tuple[int, list[str]]], label: str, limits: Limits
           ) -> tuple[np.ndarray, tuple[str, ...] | None, list[str]]:
    """The numbers, the header if any, and where each point is in the file."""
    header, rows = None, lines
    if all(_number(cell) is None for cell in rows[0][1]):
        header = tuple(rows[0][1])
        rows = lines[1:]
        if len(header) != 3:
            raise DataProblem(f"The file needs three columns (x1, x2 and the {label}); its "
                              f"header has {len(header)}.")
    if not rows:
        raise DataProblem("The file has a header but no points.")
    if len(rows) > limits.max_points:
        raise DataProblem(f"The file has {len(rows):,} points; this server takes at most "
                          f"{limits.max_points:,}.")
    wheres = [_where(row, line) for row, (line, _) in enumerate(rows, start=1)]
    first = rows[0][1]
    if len(first) != 3:
        raise DataProblem(f"Each row needs three columns (x1, x2 and the {label}); "
                          f"{wheres[0]} has {len(first)}.")
    for where, (_, cells) in zip(wheres, rows):
        if len(cells) != 3:
            raise DataProblem(f"{where[0].upper()}{where[1:]} has {len(cells)} columns, but "
                              "the rows before it have 3.")
    if len(rows) < MIN_POINTS:
        raise DataProblem(f"The file has {len(rows)} points; at least {MIN_POINTS} are needed "
                          "(some to train on, some to test).")
    table = np.array([[_cell(where, column, cell) for column, cell in enumerate(cells, 1)]
                      for where, (_, cells) in zip(wheres, rows)])
    return table, header, wheres


def _classes(labels: np.ndarray, wheres: list[str], dataset: str) -> np.ndarray:
    spec = DATASETS[dataset]
    wrong = (labels != np.round(labels)) | (labels < 0) | (labels >= spec.n_classes)
    if wrong.any():
        i = int(np.argmax(wrong))
        raise DataProblem(f"The label of {wheres[i]}, {labels[i]:g}, is not a class of "
                          f"{spec.title}: its classes are the whole numbers 0 to "
                          f"{spec.n_classes - 1}.")
    classes = labels.astype(np.int64)
    if len(set(classes.tolist())) < 2:
        raise DataProblem(f"Every point has the label {classes[0]}, but a classification needs "
                          "at least two classes; check the label column.")
    return classes


def _fit(values: np.ndarray, limit: float, target: float, name: str
         ) -> tuple[np.ndarray, str | None]:
    """Values beyond ±limit mapped linearly from their range onto -target..target.

    In halves: ``hi - lo`` of values near ±1.8e308 would overflow to infinity (and put
    every point at the edge or make it NaN), while their halves' difference is finite."""
    if np.abs(values).max() <= limit:
        return values, None
    lo, hi = float(values.min()), float(values.max())
    if hi == lo:  # one value for every point: no range to map, so to the middle
        return values * 0, f"{name} moved from {lo:g} to 0"
    scaled = (values / 2 - lo / 2) / (hi / 2 - lo / 2) * 2 * target - target
    if not np.isfinite(scaled).all():  # not expected; a NaN must never reach the points
        raise DataProblem(f"The {name} values span {lo:g}..{hi:g}, too wide to rescale.")
    return scaled, f"{name} from {lo:g}..{hi:g} to {-target:g}..{target:g}"


def parse_csv(data: bytes, config: Config, limits: Limits = LIMITS) -> CsvData:
    """The points of a CSV file for this Config's data set; DataProblem if unusable."""
    require_plane(config)
    classes = config.task == "classification"
    label = "label" if classes else "value"
    rows = _rows(_text(data))
    table, header, wheres = _table(rows, label, limits)
    notes = []
    columns = []
    for column, name in ((0, "x1"), (1, "x2")):
        fitted, note = _fit(table[:, column], BOX, FIT, name)
        columns.append(fitted)
        notes.append(note)
    if classes:
        y: np.ndarray = _classes(table[:, 2], wheres, config.dataset)
    else:
        y, note = _fit(table[:, 2], 1.0, 1.0, "value")
        notes.append(note)
    text = own_text(config, np.column_stack(columns), y)
    points = decode_points(text)  # what the Trainer will see: the values as float32
    def shown(value: float) -> float:  # the float32 as its shortest text reads
        return float(float32_text(value))

    preview = [{"x1": shown(a), "x2": shown(b), label: int(c) if classes else shown(c)}
               for (a, b), c in zip(points.x[:PREVIEW_ROWS], points.y[:PREVIEW_ROWS])]
    notes = [note for note in notes if note]
    scaling = (f"Rescaled to fit the plot: {'; '.join(notes)}." if notes else None)
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
