"""Exact duplicates (same file bytes) and near duplicates (close perceptual hashes or embeddings).

Pairs become groups by connected components; each group keeps one member (the most pixels,
then the largest file, then the first indexed) and lists the rest as redundant.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from app.core.quality.stats import hamming

NEAREST_SAMPLE = 4096
_BLOCK_CELLS = 1 << 22  # query x row distances computed at a time (32 MB)


@dataclass(frozen=True)
class Groups:
    """``group`` per row (-1: in none), ``keeper`` per row, and the groups' row lists."""

    group: np.ndarray
    keeper: np.ndarray
    members: list[np.ndarray]
    keepers: np.ndarray

    @property
    def redundant(self) -> np.ndarray:
        return (self.group >= 0) & ~self.keeper


def exact_pairs(content_hash: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row pairs with equal content hashes (each member paired with its group's first row)."""
    present = np.array([h is not None for h in content_hash], dtype=bool)
    rows = np.flatnonzero(present)
    if not len(rows):
        return np.empty(0, np.int64), np.empty(0, np.int64)
    _, first, inverse = np.unique(
        content_hash[rows].astype(str), return_index=True, return_inverse=True
    )
    anchor = rows[first[inverse]]
    keep = anchor != rows
    return anchor[keep], rows[keep]


def nearest_hamming(
    phash: np.ndarray, rows: np.ndarray, sample: int = NEAREST_SAMPLE, seed: int = 0
) -> np.ndarray:
    """Hamming distances from up to ``sample`` of ``rows`` (chosen at random) to their nearest
    other row among ``rows``: the distribution a threshold is read from (exact: numpy XOR and
    popcount in blocks; a few seconds at a million rows)."""
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) < 2:
        return np.full(len(rows), 64, dtype=np.int64)
    chosen = rows
    if len(rows) > sample:
        chosen = np.sort(np.random.default_rng(seed).choice(rows, sample, replace=False))
    codes = phash[rows].astype(np.int64).view(np.uint64)
    out = np.empty(len(chosen), dtype=np.int64)
    block = max(1, _BLOCK_CELLS // len(rows))
    for start in range(0, len(chosen), block):
        queries = phash[chosen[start : start + block]].astype(np.int64).view(np.uint64)
        distances = np.bitwise_count(queries[:, None] ^ codes[None, :]).astype(np.int64)
        own = np.searchsorted(rows, chosen[start : start + block])
        distances[np.arange(len(queries)), own] = 64  # not itself
        out[start : start + len(queries)] = distances.min(axis=1)
    return out


def hamming_pairs(
    phash: np.ndarray, rows: np.ndarray, radius: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of ``rows`` whose hashes differ in at most ``radius`` bits (each pair once)."""
    if len(rows) < 2 or radius < 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    index = _binary_index(phash[rows])
    limits, distances, found = index.range_search(_codes(phash[rows]), int(radius) + 1)
    source = np.repeat(np.arange(len(rows)), np.diff(limits).astype(np.int64))
    keep = found > source
    return rows[source[keep]], rows[found[keep]]


def group_pairs(
    count: int, first: np.ndarray, second: np.ndarray, pixels: np.ndarray, sizes: np.ndarray
) -> Groups:
    """Connected components of the pairs; the keeper of each has the most pixels, then bytes."""
    graph = coo_matrix((np.ones(len(first), dtype=np.int8), (first, second)), shape=(count, count))
    _, component = connected_components(graph, directed=False)
    sizes_of = np.bincount(component, minlength=count)
    grouped = sizes_of[component] > 1
    group = np.full(count, -1, dtype=np.int64)
    keeper = np.zeros(count, dtype=bool)
    members: list[np.ndarray] = []
    keepers: list[int] = []
    rows = np.flatnonzero(grouped)
    order = np.lexsort((rows, -sizes[rows], -pixels[rows], component[rows]))
    rows = rows[order]
    if len(rows):
        starts = np.flatnonzero(np.r_[True, np.diff(component[rows]) != 0])
        for number, (start, stop) in enumerate(zip(starts, [*starts[1:], len(rows)], strict=True)):
            block = rows[start:stop]
            group[block] = number
            keeper[block[0]] = True
            members.append(block)
            keepers.append(int(block[0]))
    return Groups(group, keeper, members, np.asarray(keepers, dtype=np.int64))


def distance_to_keeper(groups: Groups, phash: np.ndarray) -> np.ndarray:
    """Per row: Hamming distance of its hash to its group keeper's (NaN outside groups)."""
    out = np.full(len(groups.group), np.nan)
    inside = groups.group >= 0
    out[inside] = hamming(phash[inside], phash[groups.keepers[groups.group[inside]]])
    return out


def _codes(phash: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(phash, dtype=np.int64)).view(np.uint8).reshape(-1, 8)


def _binary_index(phash: np.ndarray):
    import faiss

    index = faiss.IndexBinaryFlat(64)
    index.add(_codes(phash))
    return index
