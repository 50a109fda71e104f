"""Scores from a kNN graph: duplicates, typicality, uniqueness, outliers, and their storage."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.embeddings.neighbours import knn_graph
from app.core.embeddings.scores import duplicate_groups, outliers, score_job, typicality, uniqueness
from app.core.errors import SieveError
from app.core.jobs import CancelToken, run_job
from app.core.store import catalog
from app.core.store.embedding_sets import create_embedding_set, finish_embedding_set, l2_normalise


def clustered(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((5, 16)) * 3
    return l2_normalise(np.repeat(centres, 40, 0) + rng.standard_normal((200, 16)))


def test_duplicate_groups_join_chains_and_keep_the_lowest_row() -> None:
    vectors = clustered()
    vectors[50] = vectors[10]
    vectors[120] = vectors[10]
    vectors[199] = vectors[3]
    rows, sims = knn_graph(vectors, 6)
    group, keeper = duplicate_groups(rows, sims, threshold=0.999)
    assert group[10] == group[50] == group[120] != group[3]
    assert group[3] == group[199]
    assert sorted(np.flatnonzero(keeper).tolist()) == [3, 10]
    assert (group >= 0).sum() == 5
    assert group[3] == 0 and group[10] == 1


def test_no_duplicates_when_nothing_reaches_the_threshold() -> None:
    rows, sims = knn_graph(clustered(), 6)
    group, keeper = duplicate_groups(rows, sims, threshold=0.9999)
    assert (group == -1).all() and not keeper.any()


def test_typicality_is_the_mean_similarity_to_the_k_nearest_others() -> None:
    vectors = clustered()
    rows, sims = knn_graph(vectors, 21)
    brute = np.sort(vectors @ vectors.T, axis=1)[:, ::-1][:, 1:21].mean(1)
    np.testing.assert_allclose(typicality(sims, 20), brute, atol=1e-5)


def test_uniqueness_follows_fiftyones_weights_and_peaks_at_one() -> None:
    vectors = clustered()
    vectors[0] = l2_normalise(np.ones((1, 16)) * np.arange(16))[0]
    rows, sims = knn_graph(vectors, 4)
    scores = uniqueness(sims)
    distance = np.sqrt(np.clip(2 - 2 * sims[:, 1:4], 0, None))
    raw = distance @ np.array([0.6, 0.3, 0.1])
    np.testing.assert_allclose(scores, raw / raw.max(), atol=1e-5)
    assert scores.max() == pytest.approx(1.0)


def test_an_isolated_point_is_an_outlier() -> None:
    vectors = clustered()
    vectors[77] = l2_normalise(-np.ones((1, 16)))[0]
    _, sims = knn_graph(vectors, 21)
    typical = typicality(sims, 20)
    flags = outliers(typical)
    assert flags[77] and typical.argmin() == 77
    assert flags.sum() < 0.1 * len(flags)


def test_score_job_stores_scores_per_sample(embedded_project) -> None:
    project, embedding_set = embedded_project
    ids = embedding_set.ids()
    vectors = np.array(embedding_set.vectors())
    vectors[5] = vectors[2]
    copy = create_embedding_set(project, {"source": "with a copy"})
    finish_embedding_set(project, copy, ids, vectors)
    scores = run_job(score_job(project, copy, CancelToken(), threshold=0.99, k=5))
    assert scores.duplicate_group[2] == scores.duplicate_group[5] == 0
    table = catalog.load_table(project)
    stored = catalog.scores(project, "duplicate_keeper", table)
    by_id = dict(zip(table.ids.tolist(), stored.tolist(), strict=True))
    assert by_id[int(ids[2])] == 1 and by_id[int(ids[5])] == 0
    assert {"typicality", "uniqueness", "outlier", "duplicate_group"} <= set(
        catalog.score_keys(project)
    )
    group = catalog.scores(project, "duplicate_group", table)
    assert np.isnan(group).sum() == len(ids) - 2


def test_score_job_refuses_a_bad_threshold(embedded_project) -> None:
    project, embedding_set = embedded_project
    with pytest.raises(SieveError, match="threshold"):
        run_job(score_job(project, embedding_set, CancelToken(), threshold=1.5))
