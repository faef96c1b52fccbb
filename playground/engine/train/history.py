"""The metric history of one run: a row per recorded epoch, bounded in memory.

The keys are listed here once; the trainer fills them, frames carry them, the
server keeps them for a reconnecting page, and the live view draws them.
"""

from __future__ import annotations

from bisect import bisect_right

HISTORY_KEYS = ("epoch", "train_loss", "test_loss", "train_metric", "test_metric",
                "weight_norms", "grad_norms", "val_loss", "near_zero")
# val_loss: the loss on the held-out validation points (None without a validation share);
# near_zero: the share of the weights within NEAR_ZERO of zero (what an L1 penalty does)
NEAR_ZERO = 0.01
MAX_ROWS = 2000  # as many points as a curve can show; a long run keeps every 2nd, 4th, ...


class History:
    """Rows of metrics; past ``max_rows`` every other row goes and from then on only
    every ``stride``-th epoch is kept, so a 100,000-epoch run holds at most
    ``max_rows`` rows. ``last`` is always the newest row, kept or not."""

    def __init__(self, max_rows: int = MAX_ROWS) -> None:
        self.max_rows = max_rows
        self.columns: dict[str, list] = {key: [] for key in HISTORY_KEYS}
        self.stride = 1
        self.last: dict | None = None

    def __len__(self) -> int:
        return len(self.columns["epoch"])

    def __getattr__(self, name: str) -> list:
        if name in HISTORY_KEYS:
            return self.__dict__["columns"][name]
        raise AttributeError(name)

    def append(self, row: dict) -> None:
        self.last = row
        if row["epoch"] % self.stride:
            return
        for key in HISTORY_KEYS:
            value = row[key]
            # per-layer norms as tuples: a tuple of floats leaves the garbage collector's
            # watch, a list never does (a server holds thousands of rows per session)
            self.columns[key].append(tuple(value) if isinstance(value, list) else value)
        if len(self) > self.max_rows:
            self.stride *= 2
            keep = [i for i, epoch in enumerate(self.columns["epoch"]) if epoch % self.stride == 0]
            self.columns = {key: [values[i] for i in keep] for key, values in self.columns.items()}

    def extend(self, rows: dict[str, list]) -> None:
        """Rows in column form (as ``since`` gives them)."""
        for i in range(len(rows["epoch"])):
            self.append({key: rows[key][i] for key in HISTORY_KEYS})

    def since(self, epoch: int) -> dict[str, list]:
        """The kept rows after ``epoch``, in column form."""
        start = bisect_right(self.columns["epoch"], epoch)
        return {key: values[start:] for key, values in self.columns.items()}

    def copy(self) -> History:
        """A copy that another thread may keep reading while this one grows."""
        other = History(self.max_rows)
        other.columns = {key: list(values) for key, values in self.columns.items()}
        other.stride, other.last = self.stride, self.last
        return other

    def truncate_after(self, epoch: int) -> None:
        """Forget rows after ``epoch`` (training resumed from an earlier snapshot)."""
        end = bisect_right(self.columns["epoch"], epoch)
        self.columns = {key: values[:end] for key, values in self.columns.items()}
        if self.last and self.last["epoch"] > epoch:
            self.last = None
