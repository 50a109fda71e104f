"""How well a subset covers the pool: the mean distance from a sample to its nearest pick.

For a subset in pick order, :func:`coverage_curve` gives that mean for its first ``k`` picks at
a few sizes ``k`` (log-spaced by :func:`log_sizes`); lower is better. Random subsets of the same
sizes (a few seeds, averaged) are the baseline. The minimum distances are updated incrementally
as picks are added, over chunks of the pool, so memory stays at ``chunk x batch`` floats and no
N x N matrix is ever formed. Pools larger than ``max_points`` are measured on a seeded uniform
sample of that many rows (an unbiased estimate of the mean).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from app.core.jobs import CancelToken, Job, Progress

BLOCK_FLOATS = 1 << 22  # one distance block: 4M floats, 16 MiB
MAX_POINTS = 50_000


@dataclass(frozen=True, eq=False)
class Coverage:
    """Mean nearest-pick distance at each subset size, for the subset and for random ones."""

    sizes: np.ndarray
    selected: np.ndarray
    random: np.ndarray
    random_seeds: int
    points: int

    def gain(self) -> float:
        """How much closer the subset brings the pool than random at the largest size (0..1)."""
        if not len(self.sizes) or self.random[-1] <= 0:
            return 0.0
        return float(1.0 - self.selected[-1] / self.random[-1])


def log_sizes(n: int, count: int = 20) -> np.ndarray:
    """About ``count`` distinct subset sizes from 1 to ``n``, log-spaced, always ending at ``n``."""
    if n < 1:
        return np.empty(0, dtype=np.int64)
    sizes = np.unique(np.round(np.geomspace(1, n, num=max(2, count))).astype(np.int64))
    return sizes[(sizes >= 1) & (sizes <= n)]


def coverage_curve(
    points: np.ndarray,
    picks: np.ndarray,
    sizes: Sequence[int] | np.ndarray,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """Mean distance from each row of ``points`` to its nearest among the first ``k`` ``picks``
    (vectors, in pick order), for every ``k`` in ``sizes`` (ascending, at most ``len(picks)``).
    """
    points = np.asarray(points, dtype=np.float32)
    picks = np.asarray(picks, dtype=np.float32)
    sizes = np.asarray(sizes, dtype=np.int64)
    if len(sizes) and (sizes[0] < 1 or sizes[-1] > len(picks) or np.any(np.diff(sizes) <= 0)):
        raise ValueError(f"sizes must rise within 1..{len(picks)}")
    nearest = np.full(len(points), np.inf, dtype=np.float32)
    point_norms = np.einsum("ij,ij->i", points, points)
    out = np.empty(len(sizes), dtype=np.float64)
    done = 0
    for position, size in enumerate(sizes):
        if cancel is not None:
            cancel.raise_if_cancelled()
        _update_nearest(nearest, points, point_norms, picks[done:size])
        done = size
        out[position] = float(np.mean(nearest, dtype=np.float64)) if len(points) else 0.0
    return out


def _update_nearest(
    nearest: np.ndarray, points: np.ndarray, point_norms: np.ndarray, batch: np.ndarray
) -> None:
    """Lower ``nearest`` (in place) to each point's distance to the closest row of ``batch``."""
    if not len(batch) or not len(points):
        return
    batch_norms = np.einsum("ij,ij->i", batch, batch)
    for start in range(0, len(batch), BLOCK_FLOATS):
        part = batch[start : start + BLOCK_FLOATS]
        part_norms = batch_norms[start : start + BLOCK_FLOATS]
        rows = max(1, BLOCK_FLOATS // len(part))
        for first in range(0, len(points), rows):
            chunk = slice(first, first + rows)
            squared = points[chunk] @ part.T
            squared *= -2.0
            squared += point_norms[chunk, None]
            squared += part_norms[None, :]
            closest = np.sqrt(np.maximum(squared.min(axis=1), 0.0))
            np.minimum(nearest[chunk], closest, out=nearest[chunk])


def coverage_job(
    vectors: np.ndarray,
    pick_rows: np.ndarray,
    cancel: CancelToken,
    candidates: np.ndarray | None = None,
    seeds: int = 3,
    count: int = 20,
    max_points: int = MAX_POINTS,
) -> Job[Coverage]:
    """Coverage of ``pick_rows`` (rows of ``vectors``, pick order) against random subsets of
    ``candidates`` (rows; default all) of the same sizes, averaged over ``seeds`` seeds."""
    vectors = np.asarray(vectors)
    pick_rows = np.asarray(pick_rows, dtype=np.int64)
    pool = np.arange(len(vectors)) if candidates is None else np.asarray(candidates, np.int64)
    sizes = log_sizes(len(pick_rows), count)
    measured = _measured_rows(len(vectors), max_points)
    points = np.asarray(vectors[measured], dtype=np.float32)
    total = 1 + seeds
    yield Progress("coverage", 0, total, f"coverage of {len(pick_rows):,} picks")
    picks = np.asarray(vectors[np.sort(pick_rows)], dtype=np.float32)[_rank(pick_rows)]
    selected = coverage_curve(points, picks, sizes, cancel)
    randoms = []
    for seed in range(seeds):
        yield Progress("coverage", 1 + seed, total, f"random subsets ({seed + 1} of {seeds})")
        rng = np.random.default_rng(seed)
        rows = rng.choice(pool, size=min(len(pool), len(pick_rows)), replace=False)
        picked = np.asarray(vectors[np.sort(rows)], dtype=np.float32)[_rank(rows)]
        randoms.append(coverage_curve(points, picked, sizes[sizes <= len(rows)], cancel))
    random = _mean_curves(randoms, len(sizes))
    yield Progress("coverage", total, total, "coverage done")
    return Coverage(sizes, selected, random, seeds, len(points))


def _measured_rows(count: int, max_points: int) -> np.ndarray:
    if count <= max_points:
        return np.arange(count)
    return np.sort(np.random.default_rng(0).choice(count, size=max_points, replace=False))


def _rank(rows: np.ndarray) -> np.ndarray:
    """Positions that put ``vectors[sorted rows]`` back into ``rows``' order (sorted reads are
    kinder to memory-mapped arrays)."""
    return np.argsort(np.argsort(rows, kind="stable"), kind="stable")


def _mean_curves(curves: list[np.ndarray], length: int) -> np.ndarray:
    """The mean of curves that may be shorter than ``length`` (a pool smaller than the subset)."""
    out = np.full(length, np.nan)
    if not curves:
        return out
    stacked = np.full((len(curves), length), np.nan)
    for i, curve in enumerate(curves):
        stacked[i, : len(curve)] = curve
    known = ~np.all(np.isnan(stacked), axis=0)
    out[known] = np.nanmean(stacked[:, known], axis=0)
    return out
