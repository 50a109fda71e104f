"""Nearest neighbours by cosine similarity: exact numpy for one sample, faiss for the rest.

A single query in the detail view or the map (:func:`nearest_ids`) is one matrix-vector product
and an ``argpartition`` over the memory-mapped set, milliseconds at ~100k rows, no index needed.
Everything else uses one faiss index per embedding set (faiss loads on first use, so importing
this module stays cheap for the GUI).

Rows are L2-normalised, so inner product is cosine similarity. Up to :data:`EXACT_LIMIT` rows the
index is exact (``IndexFlatIP``); above it is an HNSW graph (approximate, about a millisecond a
query at 1M rows) for batch work such as kNN graphs. Single queries (a sample's or an image's
neighbours) are always exact, searched in the graph's flat storage. The index is saved next to
the embeddings and reloaded while they and the set's live rows are unchanged: an index is
built over :meth:`EmbeddingSet.live` rows, so it never answers with a sample that is gone.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from app.core.errors import SieveError
from app.core.jobs import CancelToken, Job, Progress, run_job
from app.core.store.arrays import ArrayStore, atomic_file
from app.core.store.embedding_sets import (
    IDS,
    VECTORS,
    EmbeddingSet,
    LiveRows,
    l2_normalise,
    usable_sample_ids,
)
from app.core.store.project import Project

if TYPE_CHECKING:
    import faiss

EXACT_LIMIT = 200_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128
INDEX_FILE = "index.faiss"
CHUNK_SECONDS = 0.5  # what one chunk of adds or queries aims to take, between cancel checks
FIRST_ADD_CHUNK = 4096
FIRST_QUERY_CHUNK = 64  # faiss answers 20 or more queries at once with BLAS
MAX_CHUNK = 1 << 20
# An exact kNN graph searches 4096 queries at a time (faiss's BLAS block: a third faster than
# 1024) against the rows in shards of 32768, merged in a heap; one call stays well under a
# second here, so cancel is noticed between calls.
EXACT_QUERY_BLOCK = 4096
EXACT_SHARD_ROWS = 32768


def index_kind(count: int) -> str:
    """``"exact"`` up to :data:`EXACT_LIMIT` rows, ``"hnsw"`` above."""
    return "exact" if count <= EXACT_LIMIT else "hnsw"


def build_index(
    vectors: np.ndarray, kind: str = "auto", cancel: CancelToken | None = None
) -> faiss.Index:
    """An inner-product faiss index over ``vectors`` (N x D float32, normalised rows).

    Rows are added in chunks of about :data:`CHUNK_SECONDS` each, so ``cancel`` is noticed
    promptly (JobCancelled) even while an HNSW graph is built.
    """
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    kind = index_kind(len(vectors)) if kind == "auto" else kind
    dim = vectors.shape[1]
    if kind == "exact":
        index = _faiss().IndexFlatIP(dim)
    elif kind == "hnsw":
        index = _faiss().IndexHNSWFlat(dim, HNSW_M, _faiss().METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    else:
        raise ValueError(f"unknown index kind {kind!r}: exact, hnsw or auto")
    _add_in_chunks(index, vectors, cancel)
    if kind == "hnsw":
        index.hnsw.efSearch = HNSW_EF_SEARCH
    return index


def _add_in_chunks(index: faiss.Index, vectors: np.ndarray, cancel: CancelToken | None) -> None:
    for start, stop in _timed_chunks(len(vectors), FIRST_ADD_CHUNK):
        if cancel is not None:
            cancel.raise_if_cancelled()
        index.add(vectors[start:stop])


def search(index: faiss.Index, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(rows Q x k int64, similarities Q x k float32)``, best first; -1 pads missing rows."""
    queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
    k = max(1, min(int(k), index.ntotal))
    similarities, rows = index.search(queries, k)
    return rows.astype(np.int64, copy=False), similarities


def knn_graph(
    vectors: np.ndarray,
    k: int,
    index: faiss.Index | None = None,
    cancel: CancelToken | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` nearest rows, itself in column 0: ``(rows N x k, similarities N x k)``.

    Built in chunks (memory N x k, never N x N). Maps and scores share it. An approximate index
    may miss a row's own entry; it is put back in column 0 with similarity 1. ``cancel`` is
    checked between chunks (JobCancelled).
    """
    return run_job(knn_graph_job(vectors, k, index, cancel or CancelToken()))


def knn_graph_job(
    vectors: np.ndarray, k: int, index: faiss.Index | None, cancel: CancelToken
) -> Job[tuple[np.ndarray, np.ndarray]]:
    """:func:`knn_graph` as a job: progress per chunk of queries, cancellable between chunks."""
    vectors = np.asarray(vectors, dtype=np.float32)
    count = len(vectors)
    k = max(1, min(int(k), count))
    if index is None:
        yield Progress("neighbours", 0, count, f"indexing {count:,} embeddings")
        index = build_index(vectors, cancel=cancel)
    rows = np.empty((count, k), dtype=np.int64)
    similarities = np.empty((count, k), dtype=np.float32)
    exact = isinstance(index, _faiss().IndexFlat)
    chunks = (
        _fixed_chunks(count, EXACT_QUERY_BLOCK)
        if exact
        else _timed_chunks(count, FIRST_QUERY_CHUNK)
    )
    for start, stop in chunks:
        cancel.raise_if_cancelled()
        if exact:
            found, sims = _exact_search(vectors, vectors[start:stop], k, cancel)
        else:
            found, sims = search(index, vectors[start:stop], k)
        rows[start:stop], similarities[start:stop] = _self_first(
            np.arange(start, stop), found, sims
        )
        yield Progress("neighbours", stop, count, f"{k} nearest of {stop:,} / {count:,}")
    return rows, similarities


def _self_first(
    own: np.ndarray, rows: np.ndarray, sims: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Move each query's own row to column 0 (inserting it when the search missed it)."""
    rows, sims = rows.copy(), sims.copy()
    for i, row in enumerate(own):
        hits = np.flatnonzero(rows[i] == row)
        position = hits[0] if len(hits) else rows.shape[1] - 1
        rows[i, 1 : position + 1] = rows[i, :position].copy()
        sims[i, 1 : position + 1] = sims[i, :position].copy()
        rows[i, 0], sims[i, 0] = row, 1.0
    return rows, sims


def _exact_search(
    rows: np.ndarray, queries: np.ndarray, k: int, cancel: CancelToken
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`search` over an exact index of ``rows``, shard by shard (cancel between shards)."""
    faiss = _faiss()
    heap = faiss.ResultHeap(len(queries), k, keep_max=True)
    for start in range(0, len(rows), EXACT_SHARD_ROWS):
        cancel.raise_if_cancelled()
        shard = rows[start : start + EXACT_SHARD_ROWS]
        sims, found = faiss.knn(
            queries, shard, min(k, len(shard)), metric=faiss.METRIC_INNER_PRODUCT
        )
        heap.add_result(sims, found + start)
    heap.finalize()
    return heap.I.astype(np.int64, copy=False), heap.D


def _fixed_chunks(count: int, size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, count, size):
        yield start, min(start + size, count)


def _timed_chunks(count: int, first: int) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` ranges over ``count`` rows, each sized from the rate of the work done on
    the previous one to take about :data:`CHUNK_SECONDS` (never under ``first`` rows, at most
    doubling)."""
    start, size = 0, first
    while start < count:
        stop = min(start + size, count)
        began = time.perf_counter()
        yield start, stop
        rate = (stop - start) / max(time.perf_counter() - began, 1e-6)
        size = int(min(max(rate * CHUNK_SECONDS, first), 2 * size, MAX_CHUNK))
        start = stop


@dataclass
class NeighborIndex:
    """A faiss index over one embedding set, answering in sample ids."""

    index: faiss.Index
    ids: np.ndarray
    vectors: np.ndarray
    embedding_set: EmbeddingSet | None = None

    @property
    def kind(self) -> str:
        return "hnsw" if isinstance(self.index, _faiss().IndexHNSWFlat) else "exact"

    @classmethod
    def for_set(
        cls,
        embedding_set: EmbeddingSet,
        live: LiveRows | None = None,
        cancel: CancelToken | None = None,
    ) -> NeighborIndex:
        """The set's saved index over ``live`` rows (default: every row), or a new one (then
        saved) when missing or stale; ``cancel`` stops a build (JobCancelled)."""
        if live is None:
            ids, vectors = embedding_set.ids(), embedding_set.vectors()
        else:
            ids, vectors = live.ids, live.vectors
        path = embedding_set.folder / INDEX_FILE
        stamp = path.with_suffix(".key")
        key = _vectors_key(embedding_set.folder) + _rows_key(live)
        index = None
        if path.exists() and stamp.exists() and stamp.read_text() == key:
            index = _faiss().read_index(str(path))
            if index.ntotal != len(ids):
                index = None
        if index is None:
            index = build_index(vectors, cancel=cancel)
            _save_index(index, path)
            stamp.write_text(key)
        return cls(index, ids, vectors, embedding_set)

    @property
    def exact_index(self) -> faiss.Index:
        """The flat storage under an HNSW graph (or the exact index itself).

        One query at a time is answered exactly at any size (about 50 ms at 1M x 128 here, fast
        enough for a click); the HNSW graph serves many queries at once (kNN graphs, scores),
        where its recall is traded for speed.
        """
        if isinstance(self.index, _faiss().IndexHNSWFlat):
            return _faiss().downcast_index(self.index.storage)
        return self.index

    def row_of(self, sample_id: int) -> int:
        rows = np.flatnonzero(self.ids == int(sample_id))
        if not len(rows):
            raise SieveError(f"sample {sample_id} has no embedding in this set: embed again")
        return int(rows[0])

    def nearest_to_sample(self, sample_id: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest samples to a sample, itself first: ``(sample ids, similarities)``."""
        row = self.row_of(sample_id)
        query = np.asarray(self.vectors[row : row + 1], dtype=np.float32)
        rows, sims = search(self.exact_index, query, k)
        rows, sims = _self_first(np.array([row]), rows, sims)
        return self._answer(rows[0], sims[0])

    def nearest_to_vector(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest samples to a backbone output (brought into the set's space here)."""
        if self.embedding_set is not None:
            query = self.embedding_set.to_set_space(vector)
        else:
            query = l2_normalise(np.atleast_2d(vector))
        rows, sims = search(self.exact_index, query, k)
        return self._answer(rows[0], sims[0])

    def _answer(self, rows: np.ndarray, sims: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        keep = rows >= 0
        return self.ids[rows[keep]].astype(np.int64), sims[keep].astype(np.float32)


def _vectors_key(folder: Path) -> str:
    """Identifies the vectors file's content cheaply: size, mtime and the first 1 MiB."""
    path = folder / "vectors.npy"
    stat = path.stat()
    with path.open("rb") as handle:
        head = hashlib.sha1(handle.read(1 << 20)).hexdigest()
    return f"{stat.st_size}:{stat.st_mtime_ns}:{head}"


def _rows_key(live: LiveRows | None) -> str:
    """Identifies which rows an index holds: empty for all of them, else a digest of the rows."""
    if live is None or not live.dropped:
        return ""
    return ":" + hashlib.sha1(np.ascontiguousarray(live.rows).tobytes()).hexdigest()


def _save_index(index: faiss.Index, path: Path) -> None:
    with atomic_file(path) as handle:
        handle.write(_faiss().serialize_index(index).tobytes())


def _faiss():
    """The faiss module, imported on first use."""
    import faiss

    return faiss


_NO_IDS = np.empty(0, dtype=np.int64)
_NO_SIMS = np.empty(0, dtype=np.float32)


def load_embeddings(folder: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """Memory-mapped ``(embeddings N x D, sample ids N)`` of the set in ``folder``, or None."""
    arrays = ArrayStore(folder)
    if not (arrays.exists(VECTORS) and arrays.exists(IDS)):
        return None
    embeddings = arrays.load(VECTORS, mmap=True)
    ids = arrays.load(IDS, mmap=True)
    if embeddings is None or ids is None:
        return None
    if embeddings.ndim != 2 or ids.ndim != 1 or len(embeddings) != len(ids):
        raise SieveError(
            f"the embeddings in {folder} do not match their ids "
            f"({embeddings.shape} vs {ids.shape}): embed the dataset again"
        )
    return embeddings, ids


def nearest_ids(
    embeddings: np.ndarray,
    ids: np.ndarray,
    sample_id: int,
    k: int,
    usable: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` samples most similar to ``sample_id``, best first, without itself.

    Returns ``(sample ids int64, cosine similarities float32)``; both empty when ``sample_id``
    has no embedding. ``embeddings`` rows must be L2-normalised; a memory map is fine.
    ``usable``: per row, whether it may be answered (see :func:`usable_rows`); default all.
    """
    if len(embeddings) != len(ids):
        raise ValueError(f"{len(embeddings)} embeddings but {len(ids)} ids")
    own = np.flatnonzero(np.asarray(ids) == sample_id)
    allowed = np.ones(len(ids), dtype=bool) if usable is None else np.array(usable, dtype=bool)
    allowed[own] = False
    k = min(int(k), int(allowed.sum()))
    if not len(own) or k <= 0:
        return _NO_IDS, _NO_SIMS
    query = np.asarray(embeddings[own[0]], dtype=np.float32)
    similarities = np.asarray(embeddings @ query, dtype=np.float32)
    similarities[~allowed] = -np.inf
    top = np.argpartition(-similarities, k - 1)[:k]
    top = top[np.argsort(-similarities[top], kind="stable")]
    return np.asarray(ids[top], dtype=np.int64), similarities[top]


def usable_rows(project: Project, ids: np.ndarray) -> np.ndarray:
    """Per id: whether its sample is still usable in ``project`` (rows of gone samples: False)."""
    return np.isin(ids, usable_sample_ids(project))
