"""Exact cosine nearest neighbours with numpy, and loading the project's embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.embeddings.neighbours import load_embeddings, nearest_ids
from app.core.errors import SieveError
from app.core.store.arrays import ArrayStore


def normalised(n: int, d: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_matches_a_full_sort_best_first_without_itself() -> None:
    embeddings = normalised(500, 16)
    ids = np.arange(1000, 1500, dtype=np.int64)[::-1].copy()  # ids need not be rows
    found, sims = nearest_ids(embeddings, ids, 1234, 12)
    row = int(np.flatnonzero(ids == 1234)[0])
    expected = embeddings @ embeddings[row]
    expected[row] = -np.inf
    order = np.argsort(-expected)[:12]
    assert found.dtype == np.int64 and sims.dtype == np.float32
    assert found.tolist() == ids[order].tolist()
    np.testing.assert_allclose(sims, expected[order], rtol=1e-5)
    assert 1234 not in found
    assert np.all(np.diff(sims) <= 0)


def test_near_duplicate_comes_first() -> None:
    embeddings = normalised(200, 32, seed=3)
    embeddings[150] = embeddings[7] + 0.01
    embeddings[150] /= np.linalg.norm(embeddings[150])
    ids = np.arange(200, dtype=np.int64)
    found, sims = nearest_ids(embeddings, ids, 7, 5)
    assert found[0] == 150 and sims[0] > 0.99 and sims[1] < 0.9


def test_k_larger_than_the_rest_and_unknown_ids() -> None:
    embeddings = normalised(4, 8)
    ids = np.array([5, 6, 7, 8], dtype=np.int64)
    found, sims = nearest_ids(embeddings, ids, 6, 12)
    assert sorted(found.tolist()) == [5, 7, 8] and len(sims) == 3
    for sample_id, k in ((99, 3), (6, 0)):
        found, sims = nearest_ids(embeddings, ids, sample_id, k)
        assert len(found) == 0 and len(sims) == 0
    with pytest.raises(ValueError):
        nearest_ids(embeddings, ids[:3], 6, 2)


def test_load_embeddings_memory_maps_and_checks_shapes(tmp_path) -> None:
    arrays = ArrayStore(tmp_path)
    assert load_embeddings(tmp_path) is None
    arrays.save("vectors", normalised(10, 4))
    assert load_embeddings(tmp_path) is None  # ids missing
    arrays.save("ids", np.arange(10, dtype=np.int64))
    embeddings, ids = load_embeddings(tmp_path)
    assert isinstance(embeddings, np.memmap) and embeddings.shape == (10, 4)
    assert nearest_ids(embeddings, ids, 3, 2)[0].shape == (2,)
    arrays.save("ids", np.arange(9, dtype=np.int64))
    with pytest.raises(SieveError, match="do not match"):
        load_embeddings(tmp_path)
