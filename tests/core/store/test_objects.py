"""Objects and annotation sources: whole-or-nothing writes, readers as rows and as columns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.core.errors import SieveError
from app.core.ingest.indexing import index_job
from app.core.jobs import run_job
from app.core.store import objects as store
from app.core.store.objects import NewObject
from app.core.store.project import Project
from tests.factories import make_dataset


@pytest.fixture()
def project(tmp_path: Path):
    root = make_dataset(tmp_path / "data", {"a": 3}, size=(32, 24))
    with Project.for_dataset(root) as project:
        run_job(index_job(project))
        yield project


def _ids(project: Project) -> list[int]:
    return [row.id for row in project.samples()]


def test_a_source_is_stored_and_read_back(project: Project) -> None:
    first, second, _ = _ids(project)
    polygon = {"polygons": [[1.0, 1.0, 5.0, 1.0, 5.0, 6.0]]}
    source_id = store.replace_source(
        project,
        "ground_truth",
        "ground_truth",
        "coco",
        [
            NewObject(first, "cat", 1, 2, 10, 8, mask=polygon),
            NewObject(first, "dog", 0, 0, 4, 4, iscrowd=True),
            NewObject(second, "cat", 3, 3, 5, 5),
        ],
        origin="labels.json",
        classes=["dog", "cat"],
    )
    truth = store.ground_truth(project)
    assert truth is not None and truth.id == source_id
    assert truth.classes == ("dog", "cat") and truth.origin == "labels.json"
    rows = store.objects_of(project, first)
    assert [(r.label, r.box, r.iscrowd) for r in rows] == [
        ("cat", (1, 2, 10, 8), False),
        ("dog", (0, 0, 4, 4), True),
    ]
    assert rows[0].mask == polygon and rows[1].mask is None
    assert store.label_counts(project, source_id) == {"cat": 2, "dog": 1}
    assert store.objects_per_sample(project, source_id) == {first: 2, second: 1}
    columns = store.object_arrays(project, source_id)
    assert columns.classes == ("cat", "dog")
    assert columns.labels.tolist() == [0, 1, 0]
    assert columns.boxes[2].tolist() == [3, 3, 5, 5]
    assert np.isnan(columns.scores).all()


def test_a_failed_write_leaves_the_old_source(project: Project) -> None:
    first = _ids(project)[0]
    store.replace_source(project, "gt", "ground_truth", "yolo", [NewObject(first, "a", 0, 0, 1, 1)])

    def broken():
        yield NewObject(first, "b", 0, 0, 2, 2)
        raise ValueError("bad line 7")

    with pytest.raises(ValueError):
        store.replace_source(project, "gt", "ground_truth", "yolo", broken())
    gt = store.require_source(project, "gt")
    assert store.label_counts(project, gt.id) == {"a": 1}


def test_sources_live_side_by_side_and_die_with_their_samples(project: Project) -> None:
    first, second, _ = _ids(project)
    store.replace_source(project, "gt", "ground_truth", "voc", [NewObject(first, "a", 0, 0, 1, 1)])
    preds = store.replace_source(
        project, "model", "predictions", "coco", [NewObject(second, "a", 0, 0, 1, 1, score=0.5)]
    )
    assert [s.name for s in store.sources(project)] == ["gt", "model"]
    assert store.object_arrays(project, preds).scores.tolist() == [0.5]
    with project.db:
        project.db.execute("DELETE FROM samples WHERE id = ?", (second,))
    assert store.object_count(project, preds) == 0
    assert store.delete_source(project, "gt") and not store.delete_source(project, "gt")
    with pytest.raises(SieveError, match="sources: model"):
        store.require_source(project, "gt")


def test_an_unknown_kind_is_refused(project: Project) -> None:
    with pytest.raises(SieveError, match="unknown annotation kind"):
        store.replace_source(project, "x", "labels", "coco", [])  # type: ignore[arg-type]
