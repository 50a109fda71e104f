"""Rows grouped into compact blocks for the k-center greedy's block bounds.

About sqrt(N) blocks from spherical k-means: centres seeded by farthest-point traversal of a
sample (so every well-separated group of rows gets its own block; random seeds merge groups
into wide blocks whose bounds prune nothing), two Lloyd rounds on the sample, then every row
assigned to its most similar centre. Every row of a block lies within ``radius`` of its
``centroid`` (the mean of its rows); the bounds hold for any grouping, compact blocks only make
them useful. Within a block rows keep their input order.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from app.core.jobs import CancelToken

MAX_BLOCKS = 4096
SAMPLE_PER_CLUSTER = 16
LLOYD_ROUNDS = 2
BLOCK_LIMIT = 3
ROW_CHUNK = 4096
SQUARED_SLACK = 1e-6


@dataclass
class Partition:
    """Rows in block order plus per-block centroid, squared centroid norm and radius."""

    vectors: np.ndarray
    order: np.ndarray
    starts: np.ndarray
    centroids: np.ndarray
    centroid_norms: np.ndarray
    radii: np.ndarray


def partition(unit: np.ndarray, seed: int = 0, cancel: CancelToken | None = None) -> Partition:
    """Group the rows of ``unit`` (N x D float32, unit rows) into about sqrt(N) blocks;
    ``cancel`` is checked between chunks of rows and blocks (JobCancelled)."""
    check = cancel.raise_if_cancelled if cancel is not None else _never
    count = len(unit)
    blocks = min(MAX_BLOCKS, max(1, round(math.sqrt(count))))
    labels = _cluster(unit, blocks, np.random.default_rng(seed), check)
    order = np.argsort(labels, kind="stable")
    sizes = np.bincount(labels, minlength=1)
    starts = _split(sizes[sizes > 0], limit=max(1, BLOCK_LIMIT * math.ceil(count / blocks)))
    return _with_bounds(unit[order], order, starts, check)


def _never() -> None:
    """The cancel check when there is nothing to cancel."""


def _cluster(
    unit: np.ndarray, clusters: int, rng: np.random.Generator, check: Callable[[], None]
) -> np.ndarray:
    """Labels in [0, clusters): spherical k-means on a sample (seeded by farthest points),
    then every row assigned to its most similar centre."""
    clusters = min(clusters, len(unit))
    if clusters <= 1:
        return np.zeros(len(unit), dtype=np.int64)
    size = min(len(unit), SAMPLE_PER_CLUSTER * clusters)
    sample = unit[np.sort(rng.choice(len(unit), size, replace=False))]
    centres = _farthest_points(sample, clusters, int(rng.integers(size)), check)
    for _ in range(LLOYD_ROUNDS):
        nearest = np.argmax(sample @ centres.T, axis=1)
        by_label = np.argsort(nearest, kind="stable")
        used, heads = np.unique(nearest[by_label], return_index=True)
        sums = np.add.reduceat(sample[by_label], heads, axis=0)
        centres[used] = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
    labels = np.empty(len(unit), dtype=np.int64)
    for start in range(0, len(unit), ROW_CHUNK):
        check()
        span = slice(start, start + ROW_CHUNK)
        labels[span] = np.argmax(unit[span] @ centres.T, axis=1)
    return labels


def _farthest_points(
    sample: np.ndarray, count: int, first: int, check: Callable[[], None]
) -> np.ndarray:
    """``count`` rows of ``sample`` spread by farthest-point traversal (a copy): every
    separated group of rows gets a seed, which random seeds miss (merged groups make wide
    blocks and weak bounds)."""
    chosen = [first]
    best = sample @ sample[first]
    for _ in range(count - 1):
        check()
        row = int(np.argmin(best))
        chosen.append(row)
        np.maximum(best, sample @ sample[row], out=best)
    return sample[chosen].copy()


def _split(sizes: np.ndarray, limit: int) -> np.ndarray:
    """Block start offsets: each cluster cut into pieces of at most ``limit`` rows."""
    pieces = [np.minimum(limit, size - np.arange(0, size, limit)) for size in sizes]
    lengths = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int64)
    return np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)


def _with_bounds(
    vectors: np.ndarray, order: np.ndarray, starts: np.ndarray, check: Callable[[], None]
) -> Partition:
    """Centroids and radii (an upper bound with float slack) of the blocks."""
    blocks = len(starts) - 1
    centroids = np.empty((blocks, vectors.shape[1]), dtype=np.float32)
    radii = np.empty(blocks, dtype=np.float64)
    for block in range(blocks):
        check()
        rows = vectors[starts[block] : starts[block + 1]]
        centroids[block] = rows.mean(axis=0)
        diff = rows - centroids[block]
        radii[block] = np.einsum("ij,ij->i", diff, diff).max()
    radii = np.sqrt(radii + SQUARED_SLACK)
    norms = np.einsum("ij,ij->i", centroids, centroids).astype(np.float64)
    return Partition(vectors, order, starts, centroids, norms, radii)
