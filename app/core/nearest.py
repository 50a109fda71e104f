"""Exact nearest neighbours by cosine similarity with numpy (until a faiss index exists).

Embeddings are L2-normalised rows, so a dot product is the cosine similarity; one
matrix-vector product and an ``argpartition`` answer a query over ~100k rows in milliseconds.
"""

from __future__ import annotations

import numpy as np

from app.core.errors import SieveError
from app.core.store.arrays import ArrayStore

EMBEDDINGS = "embeddings"
EMBEDDING_IDS = "embedding_ids"
_NO_IDS = np.empty(0, dtype=np.int64)
_NO_SIMS = np.empty(0, dtype=np.float32)


def has_embeddings(arrays: ArrayStore) -> bool:
    """Whether the project holds embeddings and their sample ids."""
    return arrays.exists(EMBEDDINGS) and arrays.exists(EMBEDDING_IDS)


def load_embeddings(arrays: ArrayStore) -> tuple[np.ndarray, np.ndarray] | None:
    """Memory-mapped ``(embeddings N x D, sample ids N)``, or None when there are none."""
    if not has_embeddings(arrays):
        return None
    embeddings = arrays.load(EMBEDDINGS, mmap=True)
    ids = arrays.load(EMBEDDING_IDS, mmap=True)
    if embeddings is None or ids is None:
        return None
    if embeddings.ndim != 2 or ids.ndim != 1 or len(embeddings) != len(ids):
        raise SieveError(
            f"the embeddings in {arrays.folder} do not match their ids "
            f"({embeddings.shape} vs {ids.shape}): embed the dataset again"
        )
    return embeddings, ids


def nearest_ids(
    embeddings: np.ndarray, ids: np.ndarray, sample_id: int, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` samples most similar to ``sample_id``, best first, without itself.

    Returns ``(sample ids int64, cosine similarities float32)``; both empty when ``sample_id``
    has no embedding. ``embeddings`` rows must be L2-normalised; a memory map is fine.
    """
    if len(embeddings) != len(ids):
        raise ValueError(f"{len(embeddings)} embeddings but {len(ids)} ids")
    own = np.flatnonzero(np.asarray(ids) == sample_id)
    k = min(int(k), len(ids) - len(own))
    if not len(own) or k <= 0:
        return _NO_IDS, _NO_SIMS
    query = np.asarray(embeddings[own[0]], dtype=np.float32)
    similarities = np.asarray(embeddings @ query, dtype=np.float32)
    similarities[own] = -np.inf
    top = np.argpartition(-similarities, k - 1)[:k]
    top = top[np.argsort(-similarities[top], kind="stable")]
    return np.asarray(ids[top], dtype=np.int64), similarities[top]
