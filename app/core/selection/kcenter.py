"""Exact k-center greedy (farthest-point) selection, fast at millions of rows.

Each pick is the candidate farthest (euclidean, between unit vectors) from its nearest centre,
the centres being the preselected rows and the picks so far: the same picks as the plain loop
that updates every row's distance after every pick, up to float ties. Rows are grouped into
blocks (:func:`~app.core.selection.partition.partition`) and the work is done lazily:

- per row the largest cosine similarity to a centre (``best``; distance = sqrt(2 - 2 best));
- per block the centres applied so far and ``far``, the largest distance of its live rows.
  Distances only shrink, so a stale block's ``far`` stays an upper bound;
- a pick comes from the block with the highest bound once that block is up to date (no other
  block can hold a farther row); a stale block is first brought up to date with one matrix
  product against the centres it missed (float32 BLAS), skipping every centre that the
  triangle inequality proves too far from the block (centre-to-centroid distance minus block
  radius at least the block's ``far``) to change any of its rows.

Ties (equal distances) go to the lowest row number. ``selection_weighted`` builds on the same
state to weight the distances.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from app.core.jobs import CancelToken
from app.core.selection.partition import Partition, partition

CENTRE_CHUNK = 512
SIMILARITY_SLACK = 1e-5
DOT_SLACK = 4e-5


@dataclass
class KCenterResult:
    """Picked rows (input order), each pick's score and distance to the nearest earlier centre,
    and why it ended early ("" when it did not)."""

    rows: np.ndarray
    scores: np.ndarray
    distances: np.ndarray
    reason: str


def distance_from_similarity(similarity: np.ndarray | float) -> np.ndarray:
    """Euclidean distance between unit vectors from their cosine similarity (-inf -> inf)."""
    return np.sqrt(np.maximum(2.0 - 2.0 * np.asarray(similarity, dtype=np.float64), 0.0))


def kcenter_greedy(
    unit: np.ndarray,
    count: int,
    preselected: np.ndarray,
    min_distance: float | None = None,
    seed: int = 0,
    cancel: CancelToken | None = None,
) -> KCenterResult:
    """Pick ``count`` rows of ``unit`` (N x D float32, unit rows) by k-center greedy.

    ``preselected`` rows are centres from the start and never picked. Stops early when every
    remaining row is closer than ``min_distance`` to a centre, or when none is left. Every pick
    scores 1 (its distance over the largest remaining distance).
    """
    with single_threaded_blas():
        state = KCenterState(partition(unit, seed, cancel), preselected, min_distance)
        return run_greedy(state, state.farthest, count, cancel)


def single_threaded_blas() -> threadpool_limits:
    """BLAS on one thread: the products here are small or skinny, and threading them was 3 to
    15 times slower on a busy 2-core machine."""
    return threadpool_limits(1, user_api="blas")


def run_greedy(
    state: KCenterState,
    pick: Callable[[], tuple[int, float]],
    count: int,
    cancel: CancelToken | None = None,
) -> KCenterResult:
    """Up to ``count`` picks from ``pick`` (a block-order row and its score, -1 to stop);
    ``cancel`` is checked before every pick (JobCancelled)."""
    rows: list[int] = []
    scores: list[float] = []
    distances: list[float] = []
    reason = ""
    while len(rows) < count:
        if cancel is not None:
            cancel.raise_if_cancelled()
        row, score = pick()
        if row < 0:
            reason = state.stop_reason()
            break
        rows.append(int(state.part.order[row]))
        scores.append(score)
        distances.append(float(distance_from_similarity(state.best[row])))
        state.add_centre(row)
    return KCenterResult(
        np.asarray(rows, dtype=np.int64),
        np.asarray(scores, dtype=np.float64),
        np.asarray(distances, dtype=np.float32),
        reason,
    )


class KCenterState:
    """The lazy state: rows in block order, per-row best similarity, per-block ``far``."""

    def __init__(self, part: Partition, preselected: np.ndarray, min_distance: float | None):
        self.part = part
        self.vectors = part.vectors
        self.min_distance = min_distance
        self.best = np.full(len(self.vectors), -np.inf, dtype=np.float32)
        self.position = np.empty(len(self.vectors), dtype=np.int64)
        self.position[part.order] = np.arange(len(self.vectors))
        pre = self.position[np.asarray(preselected, dtype=np.int64)]
        self.best[pre] = np.inf
        self.centres = np.empty((len(pre) + 64, self.vectors.shape[1]), dtype=np.float32)
        self.centres[: len(pre)] = self.vectors[pre]
        self.count = len(pre)
        self.remaining = len(self.vectors) - len(pre)
        heads = part.starts[:-1]
        self.applied = np.zeros(len(heads), dtype=np.int64)
        lowest = np.minimum.reduceat(self.best, heads) if len(heads) else np.zeros(0)
        self.far = -lowest.astype(np.float64)

    def farthest(self) -> tuple[int, float]:
        """The farthest live row, scoring 1 (-1 when none is left or it fails min_distance)."""
        block = self.top_block(self.far, self.farthest_in)
        if block < 0:
            return -1, 0.0
        row = self.farthest_in(block)
        distance = float(distance_from_similarity(self.best[row]))
        if self.min_distance is not None and distance < self.min_distance:
            return -1, 0.0
        return row, 1.0

    def largest_distance(self) -> float:
        """The exact largest distance of a live row (0 when none is left)."""
        block = self.top_block(self.far, self.farthest_in)
        return float(distance_from_similarity(-self.far[block])) if block >= 0 else 0.0

    def stop_reason(self) -> str:
        if self.min_distance is not None and self.remaining > 0:
            return (
                f"min_distance: every remaining candidate is closer than {self.min_distance:g} "
                "to a chosen sample"
            )
        return "no candidates left"

    def top_block(self, bounds: np.ndarray, pick_in: Callable[[int], int]) -> int:
        """The up-to-date block with the highest bound (-1 when none is above -inf).

        Equal bounds go to the block whose best row (``pick_in``) comes first in input order.
        """
        if not len(bounds):
            return -1
        while True:
            block = int(np.argmax(bounds))
            if bounds[block] == -np.inf:
                return -1
            if self.applied[block] < self.count:
                self.update(block)
                continue
            tied = np.flatnonzero(bounds == bounds[block])
            if len(tied) == 1:
                return block
            stale = tied[self.applied[tied] < self.count]
            for other in stale:
                self.update(int(other))
            if len(stale):
                continue
            firsts = [self.part.order[pick_in(int(other))] for other in tied]
            return int(tied[int(np.argmin(firsts))])

    def farthest_in(self, block: int) -> int:
        start, stop = self.part.starts[block], self.part.starts[block + 1]
        return int(start + np.argmin(self.best[start:stop]))

    def add_centre(self, row: int) -> None:
        if self.count == len(self.centres):
            grown = np.empty((2 * len(self.centres), self.centres.shape[1]), dtype=np.float32)
            grown[: self.count] = self.centres[: self.count]
            self.centres = grown
        self.centres[self.count] = self.vectors[row]
        self.count += 1
        self.remaining -= 1
        self.best[row] = np.inf

    def update(self, block: int) -> None:
        """Apply the centres ``block`` missed, skipping those too far to matter."""
        start, stop = self.part.starts[block], self.part.starts[block + 1]
        pending = self.centres[self.applied[block] : self.count]
        bound = float(distance_from_similarity(-self.far[block] - SIMILARITY_SLACK))
        if np.isfinite(bound):
            pending = pending[self._may_reach(block, pending, bound)]
        best = self.best[start:stop]
        rows = self.vectors[start:stop]
        for first in range(0, len(pending), CENTRE_CHUNK):
            chunk = pending[first : first + CENTRE_CHUNK]
            np.maximum(best, (chunk @ rows.T).max(axis=0), out=best)
        self.applied[block] = self.count
        self.far[block] = -float(best.min())
        self.updated(block, start, stop)

    def updated(self, block: int, start: int, stop: int) -> None:
        """Called after ``block`` (rows ``start:stop``) was brought up to date."""

    def _may_reach(self, block: int, centres: np.ndarray, bound: float) -> np.ndarray:
        """Centres not proven too far: (distance to the centroid) - radius < ``bound``.

        The distance is taken low by the float32 dot product's error and ``bound`` high (from a
        similarity lowered by SIMILARITY_SLACK), so rounding never skips a centre that matters.
        """
        centroid = self.part.centroids[block]
        squared = 1.0 + self.part.centroid_norms[block] - 2.0 * (centres @ centroid)
        gap = np.sqrt(np.maximum(squared - DOT_SLACK, 0.0)) - self.part.radii[block]
        return gap < bound
