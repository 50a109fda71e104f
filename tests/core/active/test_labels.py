"""The Qt-free helpers of the active-learning panel: label source, class counts, probe fit."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.active import rounds as active_rounds
from app.core.active.labels import (
    PREDICTED_KEY,
    UNCERTAINTY_KEY,
    LabelSource,
    class_counts,
    label_tags,
    load_label_source,
    save_label_source,
)
from app.core.active.probe_fit import fit_probe_job
from app.core.errors import SieveError
from app.core.jobs import CancelToken, run_job
from app.core.store.embedding_sets import EmbeddingSet
from app.core.store.metadata import numeric_scores
from app.core.store.project import Project


def ids_of(project: Project, folder: str) -> list[int]:
    return [row.id for row in project.samples(label=folder)]


def tag(project: Project, name: str, ids: list[int]) -> None:
    project.add_tag(project.create_tag(name), ids)


def test_label_source_defaults_to_folders_and_is_remembered(embedded_project) -> None:
    project, _ = embedded_project
    assert load_label_source(project) == LabelSource(from_folders=True)
    chosen = LabelSource(from_folders=False, classes=("cat", "dog"))
    save_label_source(project, chosen)
    assert load_label_source(project) == chosen
    project.set_meta("active.label_source", "{not json")
    assert load_label_source(project) == LabelSource(from_folders=True)


def test_class_counts_from_folders_and_from_tags(embedded_project) -> None:
    project, _ = embedded_project
    folders = class_counts(project, LabelSource(from_folders=True))
    assert (folders.names, folders.counts, folders.labelled, folders.total) == (
        ("cats", "dogs"),
        (6, 6),
        12,
        12,
    )
    cats = ids_of(project, "cats")
    tag(project, "cat", cats[:3])
    source = LabelSource(classes=("cat", "dog"))
    counts = class_counts(project, source)
    assert counts.counts == (3, 0) and counts.labelled == 3 and counts.unlabelled == 9
    assert counts.classes_labelled == 1
    assert label_tags(project, source) == ["cat"]  # "dog" has no tag yet
    assert label_tags(project, LabelSource(from_folders=True)) is None


def test_fit_stores_uncertainty_and_prediction_for_every_sample(
    embedded_project: tuple[Project, EmbeddingSet],
) -> None:
    project, embedding_set = embedded_project
    fit = run_job(fit_probe_job(project, CancelToken()))
    assert fit.classes == ("cats", "dogs") and fit.labelled == 12 and fit.samples == 12
    assert fit.accuracy is not None and fit.held_out == 2  # 12 labelled: a fifth held out
    assert sum(fit.predicted) == 12
    scores = numeric_scores(project, embedding_set.ids())
    assert np.isfinite(scores[UNCERTAINTY_KEY]).all()
    assert set(scores[PREDICTED_KEY].tolist()) <= {0.0, 1.0}


def test_fit_accuracy_matches_what_the_next_round_records(embedded_project) -> None:
    project, _ = embedded_project
    cats, dogs = ids_of(project, "cats"), ids_of(project, "dogs")
    tag(project, "cat", cats[:5])
    tag(project, "dog", dogs[:5])
    fit = run_job(fit_probe_job(project, CancelToken(), ["cat", "dog"]))
    record = run_job(
        active_rounds.active_round_job(project, 1, CancelToken(), label_tags=["cat", "dog"])
    )
    assert (fit.accuracy, fit.held_out) == (record.accuracy, record.held_out)


def test_fit_needs_two_classes(embedded_project) -> None:
    project, _ = embedded_project
    tag(project, "cat", ids_of(project, "cats")[:4])
    with pytest.raises(SieveError, match="at least 2 classes"):
        run_job(fit_probe_job(project, CancelToken(), ["cat"]))
