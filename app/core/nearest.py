"""Exact nearest neighbours of one sample by cosine similarity with numpy, no index needed.

Embeddings are L2-normalised rows, so a dot product is the cosine similarity; one
matrix-vector product and an ``argpartition`` answer a query over ~100k rows in milliseconds,
which suits the detail view's strip (``neighbors`` holds the faiss indexes for everything else).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.core.errors import SieveError
from app.core.store.arrays import ArrayStore
from app.core.store.embedding_sets import IDS, VECTORS, usable_sample_ids
from app.core.store.project import Project

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
