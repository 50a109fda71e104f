"""Selection: k-center diversity (exact and fast), balance, similarity, weights, combinations."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.errors import SieveError
from app.core.selection.partition import partition
from app.core.selection.select import (
    Balancing,
    Diversity,
    Random,
    Similarity,
    Typicality,
    Weighting,
    select,
)
from app.core.store.embedding_sets import l2_normalise


def random_unit(count: int, dim: int, seed: int = 0) -> np.ndarray:
    return l2_normalise(np.random.default_rng(seed).standard_normal((count, dim)))


def clustered(clusters: int = 10, size: int = 50, dim: int = 32, spread: float = 0.02, seed=0):
    """Tight clusters of unit vectors (cluster ``i`` holds rows ``i * size ...``)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    points = np.repeat(centres, size, axis=0) + spread * rng.standard_normal((clusters * size, dim))
    return l2_normalise(points)


def plain_kcenter(vectors: np.ndarray, count: int, preselected=()) -> list[int]:
    """The reference: after every pick, every row's distance to its nearest centre (float64)."""
    vectors = vectors.astype(np.float64)
    nearest = np.full(len(vectors), np.inf)
    for row in preselected:
        nearest = np.minimum(nearest, np.linalg.norm(vectors - vectors[row], axis=1))
    nearest[list(preselected)] = -1.0
    picks = []
    for _ in range(count):
        row = int(np.argmax(nearest))
        picks.append(row)
        nearest = np.minimum(nearest, np.linalg.norm(vectors - vectors[row], axis=1))
        nearest[row] = -1.0
    return picks


def min_pairwise(vectors: np.ndarray) -> float:
    gaps = np.linalg.norm(vectors[:, None] - vectors[None], axis=2)
    return float(gaps[~np.eye(len(vectors), dtype=bool)].min())


def test_diversity_takes_one_sample_per_cluster_and_beats_random() -> None:
    vectors = clustered()
    chosen = select(10, [Diversity(vectors)])
    assert sorted(chosen.indices // 50) == list(range(10))
    random = select(10, [Random(count=len(vectors))], seed=3)
    assert min_pairwise(vectors[chosen.indices]) > 0.8
    assert min_pairwise(vectors[chosen.indices]) > 5 * min_pairwise(vectors[random.indices])
    assert chosen.indices.dtype == np.int64 and chosen.scores.dtype == np.float32
    assert not chosen.stopped_early


@pytest.mark.parametrize(
    ("vectors", "preselected"),
    [
        (random_unit(3000, 16, seed=1), ()),
        (random_unit(2000, 4, seed=2), (5, 17, 1999)),
        (clustered(clusters=60, size=40, dim=6, spread=0.3, seed=3), ()),
        (clustered(clusters=40, size=60, dim=24, spread=0.05, seed=4), tuple(range(0, 600, 7))),
    ],
    ids=["random", "random-preselected", "clustered", "clustered-preselected"],
)
def test_accelerated_diversity_equals_the_plain_loop(vectors, preselected) -> None:
    """Block bounds skip most of the work, and never change a pick (low dimensions and loose
    clusters make the bounds tight: a bound without the block radius fails every case here)."""
    chosen = select(300, [Diversity(vectors)], preselected=preselected)
    assert chosen.indices.tolist() == plain_kcenter(vectors, 300, preselected)
    if preselected:
        gap = np.linalg.norm(vectors[list(preselected)] - vectors[chosen.indices[0]], axis=1)
        assert chosen.distances[0] == pytest.approx(gap.min(), abs=1e-5)


def test_blocks_of_separated_clusters_are_pure_so_bounds_can_prune() -> None:
    vectors = clustered(clusters=30, size=40, dim=32, spread=0.03, seed=20)
    part = partition(vectors, seed=1)
    owners = part.order // 40
    for start, stop in zip(part.starts[:-1], part.starts[1:], strict=True):
        assert len(np.unique(owners[start:stop])) == 1
        assert np.all(np.diff(part.order[start:stop]) > 0)
    assert part.radii.max() < 0.5
    assert sorted(part.order.tolist()) == list(range(1200))


def test_diversity_breaks_ties_by_the_lowest_row() -> None:
    """Three directions, 30 copies each, shuffled: exact ties within and across blocks."""
    direction = np.random.default_rng(13).permutation(np.repeat(np.arange(3), 30))
    vectors = np.eye(3, dtype=np.float32)[direction]
    chosen = select(90, [Diversity(vectors)]).indices.tolist()
    firsts = sorted(int(np.flatnonzero(direction == d)[0]) for d in range(3))
    assert chosen[:3] == firsts
    assert chosen[3:] == [row for row in range(90) if row not in firsts]


def test_diversity_reports_each_picks_distance_and_the_combined_path_agrees() -> None:
    vectors = random_unit(800, 8, seed=5)
    fast = select(60, [Diversity(vectors)])
    slow = select(60, [Diversity(vectors), Balancing(np.ones((len(vectors), 1)))])
    assert fast.indices.tolist() == slow.indices.tolist()
    assert np.isinf(fast.distances[0])
    expected = [
        np.linalg.norm(vectors[fast.indices[:i]] - vectors[fast.indices[i]], axis=1).min()
        for i in range(1, 60)
    ]
    np.testing.assert_allclose(fast.distances[1:], expected, atol=1e-5)
    np.testing.assert_allclose(slow.distances[1:], expected, atol=1e-5)
    assert np.all(np.diff(fast.distances[1:]) <= 1e-6)


@pytest.mark.parametrize("combined", [False, True], ids=["diversity-alone", "combined"])
def test_min_distance_stops_early_and_says_so(combined: bool) -> None:
    vectors = clustered()
    strategies = [Diversity(vectors, min_distance=0.5)]
    if combined:
        strategies.append(Weighting(np.arange(len(vectors), dtype=float), strength=0.1))
    chosen = select(40, strategies)
    assert len(chosen.indices) == 10
    assert sorted(chosen.indices // 50) == list(range(10))
    assert chosen.stopped_early and "min_distance" in chosen.reason
    assert np.all(chosen.distances >= 0.5)


def test_balancing_uniform_target_evens_out_imbalanced_labels() -> None:
    labels = np.array([0] * 900 + [1] * 100)
    chosen = select(100, [Balancing(labels)])
    assert np.bincount(labels[chosen.indices]).tolist() == [50, 50]
    strings = np.where(labels == 0, "cat", "dog")
    chosen = select(100, [Balancing(strings, target={"cat": 0.7, "dog": 0.3})])
    assert np.unique(strings[chosen.indices], return_counts=True)[1].tolist() == [70, 30]


def test_balancing_input_target_keeps_the_input_shares_with_diversity() -> None:
    vectors = random_unit(1000, 8, seed=6)
    labels = np.array([0] * 900 + [1] * 100)
    plain = select(100, [Diversity(vectors)])
    balanced = select(100, [Diversity(vectors), Balancing(labels, target="input", strength=2)])
    assert abs(int((labels[plain.indices] == 1).sum()) - 10) <= 4
    assert np.bincount(labels[balanced.indices]).tolist() == [90, 10]


def test_balancing_counts_preselected_and_ignores_unknown_labels() -> None:
    labels = np.array([0] * 50 + [1] * 50 + [-1] * 20)
    chosen = select(20, [Balancing(labels)], preselected=np.arange(10))
    counts = np.bincount(labels[chosen.indices][labels[chosen.indices] >= 0], minlength=2)
    assert counts.tolist() == [5, 15]
    probabilities = np.zeros((120, 3))
    probabilities[:100, 0] = 1.0
    probabilities[100:, 2] = 0.8
    probabilities[100:, 1] = 0.2
    chosen = select(10, [Balancing(probabilities, target={0: 0.5, 2: 0.5})])
    assert 4 <= (chosen.indices >= 100).sum() <= 5
    as_input = select(10, [Balancing(probabilities, target="input")])
    assert (as_input.indices >= 100).sum() <= 2


def test_similarity_ranks_a_planted_cluster_first_and_last_when_negative() -> None:
    vectors = random_unit(500, 16, seed=7)
    planted = np.arange(40, 60)
    direction = vectors[40].copy()
    vectors[planted] = l2_normalise(direction + 0.1 * random_unit(20, 16, seed=8))
    toward = select(20, [Similarity(vectors, query=np.array([40]))])
    assert sorted(toward.indices.tolist()) == planted.tolist()
    assert toward.indices[0] == 40
    away = select(500, [Similarity(vectors, query=direction[None], strength=-1.0)])
    assert sorted(away.indices[-20:].tolist()) == planted.tolist()


def test_weighting_follows_the_sign_of_its_strength_and_puts_nan_last() -> None:
    values = np.array([3.0, np.nan, -1.0, 7.0, 0.5, 2.0])
    assert select(6, [Weighting(values)]).indices.tolist() == [3, 0, 5, 4, 2, 1]
    assert select(6, [Weighting(values, strength=-1)]).indices.tolist() == [2, 4, 5, 0, 3, 1]
    scores = select(6, [Weighting(values)]).scores
    assert scores[0] == 1.0 and scores[-1] == 0.0 and np.all(np.diff(scores) <= 0)


def test_typicality_prefers_samples_inside_dense_groups() -> None:
    dense = clustered(clusters=3, size=60, dim=16, spread=0.05)
    loners = random_unit(20, 16, seed=9)
    vectors = np.vstack([dense, loners])
    chosen = select(60, [Typicality(vectors, k=10)])
    assert np.all(chosen.indices < 180)
    last = select(200, [Typicality(vectors, k=10)]).indices[-20:]
    assert np.all(last >= 180)


def test_preselected_are_never_returned_and_push_the_picks_away() -> None:
    vectors = clustered()
    preselected = np.arange(0, 250)
    chosen = select(5, [Diversity(vectors)], preselected=preselected)
    assert sorted(chosen.indices // 50) == [5, 6, 7, 8, 9]
    assert chosen.distances[0] > 0.8
    everything = select(1000, [Weighting(np.ones(500))], preselected=preselected)
    assert len(everything.indices) == 250 and everything.stopped_early
    assert not np.isin(everything.indices, preselected).any()
    assert "no candidates" in everything.reason


def test_diversity_with_weighting_leans_towards_heavy_samples() -> None:
    vectors = random_unit(2000, 8, seed=10)
    weights = vectors[:, 0]
    plain = select(50, [Diversity(vectors)])
    weighted = select(50, [Diversity(vectors), Weighting(weights, strength=3)])
    light = select(50, [Diversity(vectors), Weighting(weights, strength=-3)])
    assert weights[weighted.indices].mean() > weights[plain.indices].mean() + 0.2
    assert weights[light.indices].mean() < weights[plain.indices].mean() - 0.2
    assert min_pairwise(vectors[weighted.indices]) > 0.3 * min_pairwise(vectors[plain.indices])
    assert np.all((weighted.scores >= 0) & (weighted.scores <= 1))


def plain_weighted_kcenter(vectors, weights, strengths, count, preselected=()):
    """The reference for diversity x weighting: (d / max d) ** s_d * normalised weight ** s_w."""
    vectors = vectors.astype(np.float64)
    live = np.ones(len(vectors), dtype=bool)
    live[list(preselected)] = False
    low, high = weights[live].min(), weights[live].max()
    factor = ((weights - low) / (high - low)) ** strengths[1]
    nearest = np.full(len(vectors), np.inf)
    for row in preselected:
        nearest = np.minimum(nearest, np.linalg.norm(vectors - vectors[row], axis=1))
    picks, scores = [], []
    for _ in range(count):
        top = nearest[live].max()
        spread = np.isinf(nearest) * 1.0 if np.isinf(top) else nearest / top
        score = np.where(live, spread ** strengths[0] * factor, -np.inf)
        row = int(np.argmax(score))
        picks.append(row)
        scores.append(score[row])
        live[row] = False
        nearest = np.minimum(nearest, np.linalg.norm(vectors - vectors[row], axis=1))
    return picks, scores


@pytest.mark.parametrize("preselected", [(), (3, 99, 1200)], ids=["alone", "preselected"])
def test_diversity_times_weighting_equals_the_plain_loop_on_both_paths(preselected) -> None:
    vectors = random_unit(1500, 6, seed=14)
    weights = np.random.default_rng(15).random(1500)
    picks, scores = plain_weighted_kcenter(vectors, weights, (1.5, 2.0), 120, preselected)
    strategies = [Diversity(vectors, strength=1.5), Weighting(weights, strength=2.0)]
    fast = select(120, strategies, preselected=preselected)
    assert fast.indices.tolist() == picks
    np.testing.assert_allclose(fast.scores, scores, rtol=1e-4, atol=1e-6)
    neutral = Balancing(np.ones((1500, 1)))
    slow = select(120, [*strategies, neutral], preselected=preselected)
    assert slow.indices.tolist() == picks
    np.testing.assert_allclose(slow.scores, scores, rtol=1e-4, atol=1e-6)


def test_rows_with_nan_weights_come_last_even_with_diversity() -> None:
    vectors = random_unit(300, 4, seed=16)
    weights = np.random.default_rng(17).random(300)
    weights[::30] = np.nan
    for extra in ([], [Balancing(np.ones((300, 1)))]):
        chosen = select(300, [Diversity(vectors), Weighting(weights), *extra]).indices
        assert sorted(chosen[-10:].tolist()) == list(range(0, 300, 30))
        scores = select(300, [Diversity(vectors), Weighting(weights), *extra]).scores
        assert np.all(scores[-10:] == 0)


def one_hot(labels: np.ndarray) -> np.ndarray:
    """Labels as class probabilities (unknown: an all-zero row), for the plain path."""
    probabilities = np.zeros((len(labels), labels.max() + 1))
    known = labels >= 0
    probabilities[np.flatnonzero(known), labels[known]] = 1.0
    return probabilities


@pytest.mark.parametrize("diversity", [True, False], ids=["with-diversity", "without"])
def test_label_balance_paths_equal_the_plain_loop(diversity: bool) -> None:
    """Labels take the accelerated paths, the same classes as probabilities the plain loop."""
    rng = np.random.default_rng(18)
    vectors = random_unit(1200, 6, seed=19)
    labels = rng.choice([0, 1, 2, -1], size=1200, p=[0.7, 0.2, 0.05, 0.05])
    weights = rng.random(1200)
    weights[::97] = np.nan
    preselected = [4, 8, 15, 16, 23, 42]
    target = {0: 0.2, 1: 0.3, 2: 0.5}
    head = [Diversity(vectors, strength=0.7)] if diversity else []
    for strength in (1.0, 3.0, -0.5):
        tail = [Weighting(weights, strength=0.5)]
        fast = select(150, [*head, Balancing(labels, target, strength), *tail], preselected)
        plain = Balancing(one_hot(labels), target, strength)
        slow = select(150, [*head, plain, *tail], preselected)
        assert fast.indices.tolist() == slow.indices.tolist()
        np.testing.assert_allclose(fast.scores, slow.scores, rtol=1e-4, atol=1e-6)
    balanced = select(150, [*head, Balancing(labels, target, 3.0)], preselected).indices
    rare = np.flatnonzero(labels == 2)
    assert np.isin(rare, balanced).mean() > 0.8 and (labels[balanced] == 0).mean() < 0.45
    assert (labels[balanced] == -1).mean() < 0.03
    same = np.zeros(1200, dtype=np.int64)
    zero_factor = [*head, Balancing(same, strength=-1.0), Weighting(weights)]
    ties = [r for r in range(1200) if r not in preselected and not np.isnan(weights[r])]
    assert select(20, zero_factor, preselected).indices.tolist() == ties[:20]


def test_the_same_seed_gives_the_same_selection() -> None:
    vectors = random_unit(600, 8, seed=11)
    strategies = [Diversity(vectors), Random(strength=0.5)]
    first = select(30, strategies, seed=1)
    assert first.indices.tolist() == select(30, strategies, seed=1).indices.tolist()
    assert first.indices.tolist() != select(30, strategies, seed=2).indices.tolist()
    shuffled = select(600, [Random(seed=4, count=600)])
    assert sorted(shuffled.indices.tolist()) == list(range(600))
    assert shuffled.indices.tolist() == select(600, [Random(4, count=600)], seed=9).indices.tolist()
    assert shuffled.indices[:20].tolist() != list(range(20))


def test_bad_input_raises_a_readable_error() -> None:
    vectors = random_unit(10, 4)
    cases = [
        lambda: select(-1, [Diversity(vectors)]),
        lambda: select(2.5, [Diversity(vectors)]),
        lambda: select(3, []),
        lambda: select(3, [Diversity(vectors[0])]),
        lambda: select(3, [Diversity(np.vstack([vectors, np.zeros((1, 4))]))]),
        lambda: select(3, [Diversity(np.where(vectors > 0.9, np.nan, vectors))]),
        lambda: select(3, [Diversity(vectors), Weighting(np.ones(9))]),
        lambda: select(3, [Diversity(vectors, min_distance=-0.1)]),
        lambda: select(3, [Diversity(vectors)], preselected=[10]),
        lambda: select(3, [Random()]),
        lambda: select(3, [Typicality(vectors, k=0)]),
        lambda: select(3, [Similarity(vectors, query=np.ones(3))]),
        lambda: select(3, [Balancing(np.arange(10) % 2, target={2: 1.0})]),
        lambda: select(3, [Balancing(np.arange(10) % 2, target="even")]),
        lambda: select(3, [Balancing(-np.ones((10, 2)))]),
        lambda: select(3, [Weighting(np.full(10, np.inf))]),
        lambda: select(3, ["diversity"]),
    ]
    for case in cases:
        with pytest.raises(SieveError):
            case()


def test_more_wanted_than_candidates_returns_them_all() -> None:
    vectors = random_unit(30, 4, seed=12)
    chosen = select(100, [Diversity(vectors)], preselected=[1, 2])
    assert sorted(chosen.indices.tolist()) == [i for i in range(30) if i not in (1, 2)]
    assert chosen.stopped_early and "no candidates" in chosen.reason
    assert len(select(0, [Diversity(vectors)]).indices) == 0
