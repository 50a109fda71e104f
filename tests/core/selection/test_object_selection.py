"""Selecting objects: class balance over imbalanced objects, members are their images, object
weights; object scores: label disagreement, near-duplicate objects and rare_objects per image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.core.embeddings.object_scores import (
    label_disagreement,
    object_scores_job,
    rare_object_scores,
    store_rare_objects,
)
from app.core.errors import SieveError
from app.core.ingest.indexing import IndexOptions, index_job
from app.core.jobs import CancelToken, run_job
from app.core.selection.objects import object_selection_job
from app.core.selection.spec import SelectSpec
from app.core.store.embedding_sets import create_embedding_set, finish_embedding_set
from app.core.store.metadata import numeric_scores
from app.core.store.objects import NewObject, object_arrays, replace_source
from app.core.store.project import Project
from app.core.store.selections import get_selection, list_selections, selection_labels
from tests.factories import make_dataset

CLASS_COUNTS = {f"c{i}": n for i, n in enumerate((160, 90, 60, 40, 25, 18, 14, 12))}


@pytest.fixture()
def imbalanced(tmp_path: Path):
    """40 images carrying 419 objects of 8 classes (160 down to 12), one clustered object set."""
    root = make_dataset(tmp_path / "data", {"img": 40}, size=(24, 24))
    project = Project.for_dataset(root)
    run_job(index_job(project, IndexOptions(), CancelToken()))
    samples = [row.id for row in project.samples()]
    rng = np.random.default_rng(0)
    objects = [
        NewObject(samples[int(rng.integers(len(samples)))], label, 1, 1, 10, 10)
        for label, count in CLASS_COUNTS.items()
        for _ in range(count)
    ]
    source = replace_source(project, "ground_truth", "ground_truth", "coco", objects)
    columns = object_arrays(project, source)
    centres = rng.standard_normal((len(CLASS_COUNTS), 16))
    vectors = centres[columns.labels] + 0.3 * rng.standard_normal((len(columns), 16))
    config = {"kind": "objects", "objects_source_id": source, "source": "clustered test vectors"}
    embedding_set = create_embedding_set(project, config)
    finish_embedding_set(project, embedding_set, columns.ids, vectors.astype(np.float32))
    yield project, embedding_set, columns
    project.close()


def select_objects(project, embedding_set, spec, name="picked"):
    return run_job(object_selection_job(project, embedding_set, spec, name, CancelToken()))


def test_a_balanced_selection_of_80_over_8_classes_has_about_10_of_each(imbalanced):
    project, embedding_set, _ = imbalanced
    spec = SelectSpec(
        n=80,
        strategies=[{"kind": "diversity", "strength": 1.0}],
        balance={"by": "label", "target": "uniform"},
    )
    saved = select_objects(project, embedding_set, spec)
    labels = selection_labels(project, saved)
    assert sum(labels.values()) == 80 and set(labels) == set(CLASS_COUNTS)
    assert all(8 <= count <= 12 for count in labels.values()), labels
    default = SelectSpec(n=80, balance={"by": "label", "target": "uniform"})
    balanced = selection_labels(project, select_objects(project, embedding_set, default, "d"))
    assert all(8 <= count <= 12 for count in balanced.values()), balanced
    unbalanced = select_objects(project, embedding_set, SelectSpec(n=80), "plain")
    assert max(selection_labels(project, unbalanced).values()) > 12


def test_class_quotas_give_what_a_small_class_cannot_take_to_the_others():
    from app.core.selection.objects import class_quotas

    assert class_quotas(np.array([100, 100, 3]), np.ones(3), 30).tolist() == [14, 13, 3]
    assert class_quotas(np.array([5, 5]), np.ones(2), 30).tolist() == [5, 5]
    assert class_quotas(np.array([50, 50]), np.array([3.0, 1.0]), 8).tolist() == [6, 2]


def test_an_object_selection_keeps_objects_in_order_and_their_images_as_members(imbalanced):
    project, embedding_set, columns = imbalanced
    saved = select_objects(project, embedding_set, SelectSpec(n=30))
    again = get_selection(project, "picked")
    assert again.kind == "objects" and len(again.objects) == 30
    np.testing.assert_array_equal(again.objects, saved.objects)
    by_id = dict(zip(columns.ids.tolist(), columns.sample_ids.tolist(), strict=True))
    images = list(dict.fromkeys(by_id[int(i)] for i in again.objects))
    assert again.members.tolist() == images
    assert [s.kind for s in list_selections(project)] == ["objects"]


def test_weighting_by_an_object_score_prefers_high_scores(tmp_path):
    root = make_dataset(tmp_path / "data", {"img": 10}, size=(24, 24))
    with Project.for_dataset(root) as project:
        run_job(index_job(project, IndexOptions(), CancelToken()))
        samples = [row.id for row in project.samples()]
        objects = [
            NewObject(s, "x", 0, 0, 5, 5, score=(i % 10) / 10) for i, s in enumerate(samples)
        ]
        source = replace_source(project, "predictions", "predictions", "coco", objects)
        columns = object_arrays(project, source)
        embedding_set = create_embedding_set(
            project, {"kind": "objects", "objects_source_id": source}
        )
        vectors = np.random.default_rng(1).standard_normal((len(columns), 4)).astype(np.float32)
        finish_embedding_set(project, embedding_set, columns.ids, vectors)
        spec = SelectSpec(n=3, strategies=[{"kind": "weight", "score": "score", "strength": 1}])
        saved = select_objects(project, embedding_set, spec)
        scores = dict(zip(columns.ids.tolist(), columns.scores.tolist(), strict=True))
        assert sorted(round(scores[int(i)], 1) for i in saved.objects) == [0.7, 0.8, 0.9]
        with pytest.raises(SieveError, match="no score named"):
            select_objects(
                project,
                embedding_set,
                SelectSpec(n=3, strategies=[{"kind": "weight", "score": "nothing", "strength": 1}]),
                "other",
            )


def test_label_disagreement_is_the_share_of_neighbours_of_another_class():
    rows = np.array([[0, 1, 2], [1, 0, 2], [2, 0, -1]])
    labels = np.array([0, 0, 1])
    np.testing.assert_allclose(label_disagreement(rows, labels), [0.5, 0.5, 1.0])


def test_a_mislabelled_object_scores_high_and_its_score_is_stored(imbalanced):
    project, embedding_set, columns = imbalanced
    flipped = int(np.flatnonzero(columns.labels == 0)[0])
    with project.db:
        project.db.execute(
            "UPDATE objects SET label = 'c7' WHERE id = ?", (int(columns.ids[flipped]),)
        )
    scores = run_job(object_scores_job(project, embedding_set, CancelToken(), k=10))
    row = int(np.flatnonzero(scores.ids == columns.ids[flipped])[0])
    assert scores.disagreement[row] >= 0.9
    assert np.median(scores.disagreement) <= 0.1
    stored = embedding_set.arrays.load("label_disagreement")
    assert stored[row] == pytest.approx(scores.disagreement[row])


def test_identical_objects_form_a_duplicate_group(imbalanced):
    project, embedding_set, columns = imbalanced
    vectors = np.array(embedding_set.vectors())
    vectors[5] = vectors[3]
    finish_embedding_set(project, embedding_set, embedding_set.ids(), vectors)
    scores = run_job(object_scores_job(project, embedding_set, CancelToken(), threshold=0.999))
    assert scores.group[3] == scores.group[5] >= 0
    assert scores.keeper[3] and not scores.keeper[5]
    assert (scores.group >= 0).sum() == 2


def test_rare_objects_sums_inverse_class_frequencies_per_image(imbalanced):
    project, _, columns = imbalanced
    from app.core.store.objects import ground_truth

    samples, values = rare_object_scores(project, ground_truth(project))
    counts = np.bincount(columns.labels)
    first = samples[0]
    expected = sum(
        1 / counts[c] for c, s in zip(columns.labels, columns.sample_ids, strict=True) if s == first
    )
    assert values[0] == pytest.approx(expected)
    store_rare_objects(project, ground_truth(project))
    stored = numeric_scores(project, samples)["rare_objects"]
    np.testing.assert_allclose(stored, values)


def test_iou_with_truth_is_the_best_overlap_with_a_same_class_truth_box(tmp_path):
    from app.core.embeddings.object_scores import iou_with_truth
    from app.core.store.objects import source

    root = make_dataset(tmp_path / "data", {"img": 2}, size=(24, 24))
    with Project.for_dataset(root) as project:
        run_job(index_job(project, IndexOptions(), CancelToken()))
        first, second = (row.id for row in project.samples())
        truth = [NewObject(first, "a", 0, 0, 10, 10), NewObject(first, "b", 10, 10, 10, 10)]
        predictions = [
            NewObject(first, "a", 0, 0, 10, 5, score=0.9),  # half of the "a" box: 0.5
            NewObject(first, "a", 10, 10, 10, 10, score=0.8),  # on the "b" box: another class
            NewObject(second, "a", 0, 0, 10, 10, score=0.7),  # no truth on this image
        ]
        replace_source(project, "ground_truth", "ground_truth", "coco", truth)
        replace_source(project, "predictions", "predictions", "coco", predictions)
        found = object_arrays(project, source(project, "predictions").id)
        best = iou_with_truth(project, found, source(project, "ground_truth"))
        np.testing.assert_allclose(best, [0.5, 0.0, 0.0])
