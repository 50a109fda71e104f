"""Coverage curves: exact on small inputs, memory-chunked, and diversity beats random."""

from __future__ import annotations

import numpy as np
import pytest

import app.core.selection.coverage as coverage
from app.core.errors import JobCancelled
from app.core.jobs import CancelToken, run_job
from app.core.selection.coverage import coverage_curve, coverage_job, log_sizes
from app.core.selection.select import Diversity, select
from app.core.store.embedding_sets import l2_normalise


def clustered(count: int = 600, clusters: int = 12, dim: int = 16, seed: int = 0) -> np.ndarray:
    """Unit vectors around ``clusters`` centres of very different sizes."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim))
    shares = rng.dirichlet(np.full(clusters, 0.3))
    members = rng.choice(clusters, size=count, p=shares)
    return l2_normalise(centres[members] + 0.08 * rng.standard_normal((count, dim)))


def brute_force(points: np.ndarray, picks: np.ndarray, k: int) -> float:
    distances = np.linalg.norm(points[:, None, :] - picks[None, :k, :], axis=2)
    return float(distances.min(axis=1).mean())


def test_log_sizes_rise_from_one_to_n() -> None:
    sizes = log_sizes(500, 20)
    assert sizes[0] == 1 and sizes[-1] == 500
    assert np.all(np.diff(sizes) > 0) and 15 <= len(sizes) <= 20
    assert log_sizes(3).tolist() == [1, 2, 3]
    assert log_sizes(0).tolist() == []


def test_the_curve_matches_brute_force_with_tiny_blocks(monkeypatch) -> None:
    rng = np.random.default_rng(1)
    points = rng.standard_normal((57, 5)).astype(np.float32)
    picks = rng.standard_normal((13, 5)).astype(np.float32)
    sizes = np.array([1, 2, 5, 13])
    monkeypatch.setattr(coverage, "BLOCK_FLOATS", 7)  # forces many chunks and batch parts
    curve = coverage_curve(points, picks, sizes)
    expected = [brute_force(points, picks, k) for k in sizes]
    assert curve == pytest.approx(expected, rel=1e-4)
    assert np.all(np.diff(curve) <= 1e-7)


def test_sizes_beyond_the_picks_are_refused() -> None:
    with pytest.raises(ValueError):
        coverage_curve(np.zeros((3, 2)), np.zeros((2, 2)), [1, 3])


def test_a_diversity_selection_covers_clustered_data_better_than_random() -> None:
    vectors = clustered()
    picked = select(30, Diversity(vectors)).indices
    result = run_job(coverage_job(vectors, picked, CancelToken(), seeds=3))
    assert result.sizes[-1] == 30 and len(result.selected) == len(result.random)
    later = result.sizes >= 5
    assert np.all(result.selected[later] < result.random[later])
    assert result.gain() > 0.05
    assert result.selected[later].mean() < 0.8 * result.random[later].mean()


def test_a_sampled_pool_estimates_the_same_curve() -> None:
    vectors = clustered(count=900)
    picked = select(20, Diversity(vectors)).indices
    full = run_job(coverage_job(vectors, picked, CancelToken(), seeds=1))
    sampled = run_job(coverage_job(vectors, picked, CancelToken(), seeds=1, max_points=300))
    assert sampled.points == 300 and full.points == 900
    assert sampled.selected == pytest.approx(full.selected, rel=0.15)


def test_random_subsets_come_from_the_candidates_and_cancel_stops() -> None:
    vectors = clustered(count=100)
    picks = np.arange(10)
    result = run_job(coverage_job(vectors, picks, CancelToken(), candidates=np.arange(5)))
    assert np.isnan(result.random[-1]) and not np.isnan(result.random[0])
    token = CancelToken()
    token.cancel()
    with pytest.raises(JobCancelled):
        run_job(coverage_job(vectors, picks, token))
