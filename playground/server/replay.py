"""The replay of a run: snapshots of the output over the plane and the weights, bounded.

The session offers it every picture of its session; it keeps at most ``MAX_SNAPSHOTS``
of them in at most ``MAX_BYTES`` of memory. Like the metric history, a full replay
keeps every other snapshot and from then on takes one only every ``stride`` epochs,
so a 100,000-epoch run keeps a couple of hundred spread over the whole run. The first
snapshot stays, and the newest picture is always the replay's last one.
"""

from __future__ import annotations

import base64
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from playground.server.render import picture_png

MAX_SNAPSHOTS = 200
# a snapshot holds 5-8 KB (measured on real frames: a 1.5-8 KB boundary PNG, the weights),
# up to ~10 KB for six hidden layers: 200 usually fit in 1.5 MiB; busier outputs or
# deeper networks make the replay thin earlier rather than grow
MAX_BYTES = 3 << 19
# frames come 10-40 times a second; a replay needs a few snapshots a second at most,
# and each one kept costs the merge thread a decode
MIN_INTERVAL_S = 0.25
PNG_PREFIX = "data:image/png;base64,"
SNAPSHOT_OVERHEAD = 64  # the Snapshot object itself (slots) and its epoch


class Snapshot(NamedTuple):
    """One moment of a run: its epoch, the output over the plane (PNG bytes, row 0 at
    the top of the plane), and each layer's weights ([out][in]) and biases. A tuple of
    bytes and arrays: Python's garbage collector stops watching it (a server holds
    tens of thousands; each full collection would walk them all)."""

    epoch: int
    png: bytes
    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]

    @property
    def boundary(self) -> str:
        """The output as a PNG data URL, as the live view shows it."""
        return PNG_PREFIX + base64.b64encode(self.png).decode("ascii")

    @property
    def nbytes(self) -> int:
        """Memory held, the objects' headers included (an array's is ~100 bytes: a deep
        network's fourteen of them weigh as much as its weights)."""
        parts = (self.png, self.weights, self.biases, *self.weights, *self.biases)
        return SNAPSHOT_OVERHEAD + sum(sys.getsizeof(part) for part in parts)

    @classmethod
    def from_picture(cls, epoch: int, picture: dict) -> Snapshot:
        """From a frame's picture (its boundary palette indices, ``render.GridPicture``, or
        a PNG data URL; its weights nested lists). Kept as a PNG: a few KB, not 10."""
        boundary = picture["boundary"]
        png = (picture_png(boundary) if isinstance(boundary, dict)
               else base64.b64decode(boundary.split(",", 1)[1]))
        return cls(epoch, png, _arrays(picture.get("weights", [])),
                   _arrays(picture.get("biases", [])))


def _arrays(layers: Sequence) -> tuple[np.ndarray, ...]:
    # float32 arrays: a tenth of the memory of nested lists of Python floats
    return tuple(np.asarray(layer, dtype=np.float32) for layer in layers)


class Replay:
    """Snapshots of one run, thinned as it grows; safe to read from another thread."""

    def __init__(self, max_snapshots: int = MAX_SNAPSHOTS, max_bytes: int = MAX_BYTES,
                 min_interval_s: float = MIN_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_snapshots < 2:
            raise ValueError("a replay needs room for at least two snapshots")
        self.max_snapshots = max_snapshots
        self.max_bytes = max_bytes
        self.min_interval_s = min_interval_s
        self.clock = clock
        self.lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        """Forget the run (training restarted at epoch 0)."""
        with self.lock:
            # plain tuples (a Snapshot's fields): the garbage collector ignores them
            self.kept: list[tuple] = []
            self.kept_bytes = 0
            self.stride = 1  # epochs between kept snapshots, at least
            self.kept_at = float("-inf")  # clock time of the last kept snapshot
            # the latest picture, converted only when kept or asked for: the session holds
            # it anyway, and thinning may drop it from ``kept``
            self.newest: tuple[int, dict] | None = None
            self.newest_snapshot: Snapshot | None = None

    def add(self, epoch: int, picture: dict, now: float | None = None) -> None:
        """Offer a frame's picture; one without a boundary (no plane to draw) is ignored."""
        if not picture.get("boundary"):
            return
        now = self.clock() if now is None else now
        with self.lock:
            if self.kept and epoch < self.kept[-1][0]:
                # training went back (a restarted worker resumed from an earlier state)
                self.kept = [s for s in self.kept if s[0] <= epoch]
                self.kept_bytes = sum(Snapshot._make(s).nbytes for s in self.kept)
            self.newest, self.newest_snapshot = (epoch, picture), None
            due = (not self.kept or (epoch >= self.kept[-1][0] + self.stride
                                     and now - self.kept_at >= self.min_interval_s))
            if due:
                self.newest_snapshot = Snapshot.from_picture(epoch, picture)
                self._keep(self.newest_snapshot)
                self.kept_at = now

    def _keep(self, snapshot: Snapshot) -> None:
        self.kept.append(tuple(snapshot))
        self.kept_bytes += snapshot.nbytes
        # one place stays free for the newest picture
        while len(self.kept) > 1 and (len(self.kept) > self.max_snapshots - 1
                                      or self.kept_bytes > self.max_bytes):
            self.kept = self.kept[::2]  # the first one stays
            self.kept_bytes = sum(Snapshot._make(s).nbytes for s in self.kept)
            # frames arrive at uneven epochs (and a few a second), so the new stride
            # follows the gaps actually left, never less than twice the old one
            span = self.kept[-1][0] - self.kept[0][0]
            self.stride = max(2 * self.stride, span // max(1, len(self.kept) - 1))

    def snapshots(self) -> list[Snapshot]:
        """The kept snapshots in epoch order, ending with the newest picture."""
        with self.lock:
            kept = [Snapshot._make(s) for s in self.kept]
            newest, converted = self.newest, self.newest_snapshot
        if newest is None:
            return kept
        epoch, picture = newest
        # the newest replaces one kept at its epoch (itself, or the picture before an edit)
        while kept and kept[-1].epoch >= epoch:
            kept.pop()
        return [*kept, converted or Snapshot.from_picture(epoch, picture)]

    def epochs(self) -> list[int]:
        """The epochs of ``snapshots()``, cheaply: the newest picture is not converted."""
        with self.lock:
            kept, newest = [s[0] for s in self.kept], self.newest
        if newest is None:
            return kept
        return [epoch for epoch in kept if epoch < newest[0]] + [newest[0]]

    def __len__(self) -> int:
        return len(self.epochs())

    @property
    def nbytes(self) -> int:
        """Bytes held by the kept snapshots; the newest picture is not counted until it
        is kept, as the session holds it anyway (its current picture)."""
        return self.kept_bytes
