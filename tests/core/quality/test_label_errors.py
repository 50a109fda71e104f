"""Label errors on separable generated classes with labels flipped on purpose."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.ingest.indexing import IndexOptions, index_job
from app.core.jobs import run_job
from app.core.quality.label_errors import judge, neighbour_votes
from app.core.quality.run import issues_job
from app.core.store.embedding_sets import create_embedding_set, finish_embedding_set
from app.core.store.project import Project
from tests.factories import gradient, write_image

CLASSES = ("ant", "bee", "cat", "dog")


@pytest.fixture()
def flipped_project(tmp_path):
    """160 images in four class folders; 12 sit in the wrong folder (their label is flipped),
    while their embedding comes from their true class."""
    rng = np.random.default_rng(0)
    truth = np.repeat(np.arange(len(CLASSES)), 40)
    given = truth.copy()
    flipped = rng.choice(len(truth), 12, replace=False)
    given[flipped] = (truth[flipped] + rng.integers(1, len(CLASSES), 12)) % len(CLASSES)
    for i, label in enumerate(given):
        write_image(tmp_path / "data" / CLASSES[label] / f"{i:03d}.png", gradient(8, 8, i))
    centres = rng.standard_normal((len(CLASSES), 16)) * 3.0
    project = Project.for_dataset(tmp_path / "data")
    run_job(index_job(project, IndexOptions(workers=2)))
    rows = project.samples()
    index = np.array([int(row.relpath.split("/")[1][:3]) for row in rows])
    vectors = centres[truth[index]] + rng.standard_normal((len(rows), 16))
    embedding_set = create_embedding_set(project, {"source": "separable test vectors"})
    ids = np.array([row.id for row in rows], dtype=np.int64)
    finish_embedding_set(project, embedding_set, ids, vectors.astype(np.float32))
    names = {f"{CLASSES[given[i]]}/{i:03d}.png": CLASSES[truth[i]] for i in flipped}
    yield project, names
    project.close()


def test_flipped_labels_are_found_with_their_true_label_suggested(flipped_project):
    project, flipped = flipped_project
    report = run_job(issues_job(project, ["label_errors", "outliers"]))
    samples = report.to_json()["checks"]["label_errors"]["samples"]
    found = {s["path"]: s["suggested_label"] for s in samples}
    assert len(set(found) & set(flipped)) >= 0.9 * len(flipped)
    assert len(set(found) - set(flipped)) <= 2
    assert all(found[path] == flipped[path] for path in set(found) & set(flipped))
    assert all(s["label"] != s["suggested_label"] for s in samples)
    ranked = [s["path"] for s in samples]
    assert len(set(ranked[: len(flipped)]) & set(flipped)) >= 0.9 * len(flipped)  # worst first


def test_a_row_is_flagged_only_when_neighbours_and_probe_both_disagree():
    codes = np.array([0, 0, 1])
    knn = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7]])
    probe_agrees = np.array([[0.9, 0.1], [0.9, 0.1], [0.3, 0.7]])
    probe_disagrees = np.array([[0.9, 0.1], [0.1, 0.9], [0.3, 0.7]])
    assert not judge(knn, probe_agrees, codes, 0.0).flagged.any()
    verdict = judge(knn, probe_disagrees, codes, 0.0)
    assert verdict.flagged.tolist() == [False, True, False]
    assert verdict.suggested[1] == 1


def test_neighbour_votes_leave_the_row_itself_out():
    knn_rows = np.array([[0, 1, 2], [1, 0, 2], [2, 0, 1]])
    votes = neighbour_votes(knn_rows, np.array([0, 0, 1]), 2)
    assert votes[2].argmax() == 0 and votes[0, 0] == votes[0, 1]
