"""faiss neighbours: exact and HNSW indexes, the kNN graph, and an index saved per set."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.embeddings import neighbours as neighbors
from app.core.embeddings.neighbours import NeighborIndex, build_index, index_kind, knn_graph, search
from app.core.errors import SieveError
from app.core.store.embedding_sets import create_embedding_set, finish_embedding_set, l2_normalise
from tests.core.cancelling import assert_cancels_quickly


def unit_vectors(count: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    return l2_normalise(np.random.default_rng(seed).standard_normal((count, dim)))


def test_exact_index_equals_brute_force() -> None:
    vectors = unit_vectors(500)
    rows, sims = search(build_index(vectors), vectors[:20], 5)
    brute = vectors[:20] @ vectors.T
    expected = np.argsort(-brute, axis=1)[:, :5]
    np.testing.assert_array_equal(rows, expected)
    np.testing.assert_allclose(sims, np.take_along_axis(brute, expected, 1), atol=1e-5)


def test_index_kind_switches_to_hnsw_above_the_limit() -> None:
    assert index_kind(neighbors.EXACT_LIMIT) == "exact"
    assert index_kind(neighbors.EXACT_LIMIT + 1) == "hnsw"


def test_hnsw_finds_most_true_neighbours_on_clustered_data() -> None:
    rng = np.random.default_rng(1)
    centres = rng.standard_normal((40, 32))
    vectors = l2_normalise(np.repeat(centres, 50, 0) + 0.3 * rng.standard_normal((2000, 32)))
    exact, _ = search(build_index(vectors, "exact"), vectors[:200], 10)
    approx, _ = search(build_index(vectors, "hnsw"), vectors[:200], 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact, approx, strict=True)])
    assert recall > 0.9


def test_knn_graph_puts_each_row_first_even_among_exact_copies() -> None:
    vectors = unit_vectors(300)
    vectors[7] = vectors[3]
    rows, sims = knn_graph(vectors, 4)
    np.testing.assert_array_equal(rows[:, 0], np.arange(300))
    np.testing.assert_allclose(sims[:, 0], 1.0, atol=1e-6)
    assert rows[3, 1] == 7 and rows[7, 1] == 3
    assert np.all(np.diff(sims[:, 1:], axis=1) <= 1e-6)


def test_knn_graph_clamps_k_to_the_number_of_rows() -> None:
    rows, sims = knn_graph(unit_vectors(3), 10)
    assert rows.shape == sims.shape == (3, 3)


def test_neighbor_index_answers_in_sample_ids_and_saves_itself(embedded_project) -> None:
    project, embedding_set = embedded_project
    index = NeighborIndex.for_set(embedding_set)
    ids = embedding_set.ids()
    found, sims = index.nearest_to_sample(int(ids[4]), 3)
    assert found[0] == ids[4] and sims[0] == pytest.approx(1.0, abs=1e-5)
    assert (embedding_set.folder / neighbors.INDEX_FILE).exists()
    again = NeighborIndex.for_set(embedding_set)
    np.testing.assert_array_equal(again.nearest_to_sample(int(ids[4]), 3)[0], found)
    vector = embedding_set.vectors()[4] * 5.0
    assert index.nearest_to_vector(vector, 1)[0][0] == ids[4]
    with pytest.raises(SieveError, match="no embedding"):
        index.nearest_to_sample(10_000, 3)


def test_centred_sets_spread_similarities_and_queries_follow(embedded_project) -> None:
    project, _ = embedded_project
    ids = np.array([row.id for row in project.samples()], dtype=np.int64)
    raw = np.abs(np.random.default_rng(5).standard_normal((len(ids), 32))) + 2.0
    crowded = l2_normalise(raw)
    assert (crowded @ crowded.T).min() > 0.8
    embedding_set = create_embedding_set(project, {"source": "post-ReLU features"})
    finish_embedding_set(project, embedding_set, ids, raw, center=True)
    vectors = embedding_set.vectors()
    sims = vectors @ vectors.T
    assert sims.min() < 0 and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    index = NeighborIndex.for_set(embedding_set)
    found, similarity = index.nearest_to_vector(raw[3] * 7.0, 1)
    assert found[0] == ids[3] and similarity[0] == pytest.approx(1.0, abs=1e-5)


def test_single_queries_are_exact_even_over_an_hnsw_index() -> None:
    vectors = unit_vectors(3000, 64, seed=9)
    ids = np.arange(3000, dtype=np.int64) * 2
    graph = build_index(vectors, "hnsw")
    graph.hnsw.efSearch = 1  # a graph search this narrow misses most true neighbours
    index = NeighborIndex(graph, ids, vectors)
    assert index.kind == "hnsw"
    approx, _ = search(graph, vectors[17:18], 10)
    assert set(approx[0] * 2) != set(ids[np.argsort(-(vectors @ vectors[17]))[:10]])
    brute = vectors @ vectors[17]
    expected = ids[np.argsort(-brute)[:10]]
    found, sims = index.nearest_to_sample(34, 10)
    np.testing.assert_array_equal(found, expected)
    np.testing.assert_allclose(sims, np.sort(brute)[::-1][:10], atol=1e-5)


def test_cancel_stops_an_hnsw_build_between_chunks() -> None:
    vectors = l2_normalise(np.random.default_rng(0).standard_normal((300_000, 64), np.float32))
    assert_cancels_quickly(lambda cancel: build_index(vectors, "hnsw", cancel))


def test_cancel_stops_a_knn_graph_between_query_chunks() -> None:
    vectors = l2_normalise(np.random.default_rng(0).standard_normal((150_000, 64), np.float32))
    index = build_index(vectors, "exact")
    assert_cancels_quickly(lambda cancel: knn_graph(vectors, 20, index, cancel))
