"""Uncertainty scorers, the linear probe, the next batch to label, and recorded rounds."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.active.loop import RECOMMENDED, STRATEGIES, next_batch
from app.core.active.probe import fit_probe
from app.core.active.rounds import (
    active_round_job,
    held_out_accuracy,
    list_rounds,
    project_labels,
)
from app.core.active.uncertainty import (
    Detections,
    classification_scores,
    detection_scores,
    entropy,
    least_confidence,
    margin,
    softmax,
)
from app.core.errors import SieveError
from app.core.jobs import CancelToken, run_job

PROBABILITIES = np.array([[0.7, 0.2, 0.1], [1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3]])


def test_classification_scores_match_hand_computed_values() -> None:
    np.testing.assert_allclose(least_confidence(PROBABILITIES), [0.45, 0.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(margin(PROBABILITIES), [0.5, 0.0, 1.0], atol=1e-6)
    bits = -(0.7 * np.log2(0.7) + 0.2 * np.log2(0.2) + 0.1 * np.log2(0.1))
    np.testing.assert_allclose(entropy(PROBABILITIES), [bits / np.log2(3), 0.0, 1.0], atol=1e-6)
    assert set(classification_scores(PROBABILITIES)) == {
        "uncertainty_least_confidence",
        "uncertainty_margin",
        "uncertainty_entropy",
    }


def test_one_column_is_the_first_of_two_classes() -> None:
    one = np.array([[0.8]])
    np.testing.assert_allclose(least_confidence(one), [0.4], atol=1e-6)
    np.testing.assert_allclose(margin(one), [0.4], atol=1e-6)
    np.testing.assert_allclose(entropy(one), [0.7219281], atol=1e-6)


def test_softmax_turns_logits_into_rows_summing_to_one() -> None:
    probabilities = softmax(np.array([[2.0, 1.0, 0.0], [1000.0, 0.0, 0.0]]))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(probabilities[0], [0.66524, 0.24473, 0.09003], atol=1e-5)
    np.testing.assert_allclose(probabilities[1], [1.0, 0.0, 0.0])


def toy_detections() -> Detections:
    return Detections(
        count=3,
        image=np.array([0, 0, 0, 1]),
        boxes=np.zeros((4, 4), np.float32),
        probabilities=np.array([[0.9, 0.1], [0.6, 0.4], [0.8, 0.2], [0.3, 0.7]], np.float32),
        objectness=np.array([1.0, 0.5, 0.5, 0.9], np.float32),
    )


def test_detection_scores_follow_lightly_and_reduce_by_max_or_mean() -> None:
    lightly = detection_scores(toy_detections())
    np.testing.assert_allclose(lightly["object_frequency"], [1.0, 0.9 + 0.1 / 1.5, 0.9], atol=1e-6)
    np.testing.assert_allclose(
        lightly["objectness_least_confidence"], [1.4 / 3, 0.37, 0], atol=1e-6
    )
    np.testing.assert_allclose(lightly["uncertainty_margin"], [0.8, 0.6, 0.0], atol=1e-6)
    np.testing.assert_allclose(lightly["uncertainty_least_confidence"], [0.8, 0.6, 0], atol=1e-6)
    means = detection_scores(toy_detections(), reduce="mean")
    np.testing.assert_allclose(means["uncertainty_margin"], [1.4 / 3, 0.6, 0.0], atol=1e-6)
    maxima = detection_scores(toy_detections(), reduce="max")
    np.testing.assert_allclose(maxima["objectness_least_confidence"], [0.7, 0.37, 0], atol=1e-6)
    with pytest.raises(ValueError, match="max or mean"):
        detection_scores(toy_detections(), reduce="median")


def test_object_frequency_penalises_repeats_of_a_class() -> None:
    found = toy_detections()
    found.probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.8, 0.2], [0.3, 0.7]], np.float32)
    scores = detection_scores(found, frequency_penalty=0.5, min_score=0.0)
    np.testing.assert_allclose(scores["object_frequency"], [1.0, 1 / 2.5, 0.0], atol=1e-6)


def blobs(count: int = 400, dim: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two separable classes of unit vectors around opposite centres."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, count)
    centre = np.eye(dim)[0] * 3
    points = rng.standard_normal((count, dim)) + np.where(labels[:, None] == 1, centre, -centre)
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32), labels


def test_probe_learns_a_separable_problem_and_is_deterministic() -> None:
    points, labels = blobs()
    train, test = slice(0, 100), slice(100, None)
    probe = fit_probe(points[train], labels[train] + 5)
    assert (probe.predict(points[test]) == labels[test] + 5).mean() > 0.95
    again = fit_probe(points[train], labels[train] + 5)
    np.testing.assert_array_equal(probe.weight, again.weight)
    np.testing.assert_array_equal(probe.bias, again.bias)
    probabilities = probe.probabilities(points)
    assert probabilities.shape == (400, 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_probe_with_one_class_is_certain() -> None:
    points, _ = blobs(20)
    probe = fit_probe(points, np.full(20, 3))
    np.testing.assert_array_equal(probe.predict(points), 3)
    np.testing.assert_array_equal(probe.probabilities(points), 1.0)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_next_batch_returns_n_unlabelled_rows(strategy: str) -> None:
    points = np.random.default_rng(1).standard_normal((200, 8)).astype(np.float32)
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    labelled = np.arange(0, 200, 7)
    labels = labelled % 3
    picked = next_batch(points, labelled, labels, 20, strategy, seed=2)
    assert picked.dtype == np.int64 and len(picked) == 20 and len(set(picked.tolist())) == 20
    assert not np.isin(picked, labelled).any()
    assert np.array_equal(picked, next_batch(points, labelled, labels, 20, strategy, seed=2))
    everything = next_batch(points, labelled, labels, 500, strategy, seed=2)
    assert sorted(everything.tolist()) == sorted(set(range(200)) - set(labelled.tolist()))


def test_uncertainty_picks_points_near_the_decision_boundary() -> None:
    angle = np.linspace(0, np.pi / 2, 201)
    points = np.stack([np.cos(angle), np.sin(angle)], axis=1).astype(np.float32)
    labelled = np.array([0, 5, 10, 190, 195, 200])
    labels = (angle[labelled] > np.pi / 4).astype(np.int64)
    picked = next_batch(points, labelled, labels, 6, "uncertainty")
    assert np.abs(angle[picked] - np.pi / 4).max() < 0.05
    picked_random = next_batch(points, labelled, labels, 6, "random", seed=0)
    assert np.abs(angle[picked_random] - np.pi / 4).max() > 0.05


def test_unknown_strategy_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown strategy 'best'"):
        next_batch(np.eye(3, dtype=np.float32), np.array([0]), np.array([0]), 1, "best")


def test_held_out_accuracy_needs_enough_labels() -> None:
    points, labels = blobs()
    rows = np.arange(0, 200)
    accuracy, count = held_out_accuracy(points, rows, labels[rows])
    assert count == 40 and accuracy > 0.95
    assert held_out_accuracy(points, rows[:9], labels[:9]) == (None, 0)


def label_with_tags(project, per_class: int = 2) -> dict[str, list[int]]:
    ids = [row.id for row in project.samples()]
    chosen = {"cat": ids[:per_class], "dog": ids[6 : 6 + per_class]}
    for name, members in chosen.items():
        project.add_tag(project.create_tag(name), members)
    return chosen


def test_labels_come_from_folders_or_tags(embedded_project) -> None:
    project, embedding_set = embedded_project
    ids = embedding_set.ids()
    labels, names = project_labels(project, ids)
    assert names == ["cats", "dogs"] and labels.tolist() == [0] * 6 + [1] * 6
    label_with_tags(project)
    labels, names = project_labels(project, ids, ["dog", "cat"])
    assert names == ["dog", "cat"] and labels.tolist() == [1, 1] + [-1] * 4 + [0, 0] + [-1] * 4
    project.add_tag(project.tag_id("dog"), [int(ids[0])])
    with pytest.raises(SieveError, match="tagged both 'dog' and 'cat'"):
        project_labels(project, ids, ["dog", "cat"])
    with pytest.raises(SieveError, match="no tag named 'bird'"):
        project_labels(project, ids, ["bird"])


def test_a_round_is_stored_tagged_and_listed(embedded_project) -> None:
    project, embedding_set = embedded_project
    chosen = label_with_tags(project)
    labelled = set(chosen["cat"] + chosen["dog"])
    first = run_job(
        active_round_job(project, 3, CancelToken(), label_tags=["cat", "dog"], tag="next")
    )
    assert first.number == 1 and first.strategy == RECOMMENDED
    assert (first.labelled, first.classes, first.accuracy) == (4, 2, None)
    assert len(first.picked) == 3 and not labelled & set(first.picked.tolist())
    assert project.tagged(project.tag_id("next")) == sorted(first.picked.tolist())
    second = run_job(
        active_round_job(project, 2, CancelToken(), "random", label_tags=["cat", "dog"], seed=1)
    )
    rounds = list_rounds(project)
    assert [r.number for r in rounds] == [1, 2] and rounds[1].strategy == "random"
    np.testing.assert_array_equal(rounds[0].picked, first.picked)
    assert rounds[1].created == second.created and rounds[0].embedding_set == embedding_set.id


def test_a_round_refuses_a_bad_request(embedded_project) -> None:
    project, _ = embedded_project
    with pytest.raises(SieveError, match="unknown strategy"):
        run_job(active_round_job(project, 3, CancelToken(), "best"))
    with pytest.raises(SieveError, match="at least one sample"):
        run_job(active_round_job(project, 0, CancelToken()))
    with pytest.raises(SieveError, match="all 12 samples have a label already"):
        run_job(active_round_job(project, 3, CancelToken()))
