"""object_columns: the columns of object_arrays, read as one text per column (exact, or for
drawing with boxes to 1/1024 pixel and scores to 1e-6)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.core.ingest.indexing import index_job
from app.core.jobs import run_job
from app.core.store.objects import (
    BOX_STEP,
    SCORE_STEP,
    NewObject,
    object_arrays,
    object_columns,
    replace_source,
)
from app.core.store.project import Project
from tests.factories import make_dataset

LABELS = ("dog", "cat", "ünïcode", "a, b", "Zebra", "cat")


@pytest.fixture()
def project(tmp_path: Path):
    root = make_dataset(tmp_path / "data", {"a": 5}, size=(32, 24))
    with Project.for_dataset(root) as project:
        run_job(index_job(project))
        yield project


def assert_same(project: Project, source_id: int) -> None:
    plain = object_arrays(project, source_id)
    exact, stepped = object_columns(project, source_id), object_columns(project, source_id, False)
    for fast in (exact, stepped):
        assert fast.classes == plain.classes
        for name in ("ids", "sample_ids", "labels", "boxes", "scores"):
            a, b = getattr(fast, name), getattr(plain, name)
            assert a.dtype == b.dtype and a.shape == b.shape, name
        for name in ("ids", "sample_ids", "labels"):
            assert np.array_equal(getattr(fast, name), getattr(plain, name)), name
        assert np.array_equal(np.isnan(fast.scores), np.isnan(plain.scores))
    assert np.array_equal(exact.boxes, plain.boxes)
    assert np.array_equal(exact.scores, plain.scores, equal_nan=True)
    assert np.allclose(stepped.boxes, plain.boxes, rtol=1e-6, atol=BOX_STEP / 2)
    assert np.allclose(stepped.scores, plain.scores, rtol=1e-6, atol=SCORE_STEP / 2, equal_nan=True)


def test_the_same_columns_as_object_arrays(project: Project) -> None:
    ids = [row.id for row in project.samples()]
    rng = np.random.default_rng(0)
    objects = [
        NewObject(
            int(ids[int(rng.integers(len(ids)))]),
            LABELS[i % len(LABELS)],
            *(float(v) for v in rng.uniform(0, 20, 4).round(3)),
            score=None if i % 3 == 0 else float(rng.uniform()),
        )
        for i in range(200)
    ]
    objects.append(NewObject(ids[0], "cat", 1 / 3, -2 / 3, 1e-7, 12345.678, score=0.0))
    objects.insert(0, NewObject(ids[-1], "dog", 0.5, 7.25, 3, 4))  # stored before, sorted after
    source_id = replace_source(project, "preds", "predictions", "coco", objects)
    assert_same(project, source_id)
    assert object_columns(project, source_id).classes == ("Zebra", "a, b", "cat", "dog", "ünïcode")


def test_an_empty_source(project: Project) -> None:
    source_id = replace_source(project, "empty", "ground_truth", "coco", [])
    assert_same(project, source_id)
    assert len(object_columns(project, source_id)) == 0
