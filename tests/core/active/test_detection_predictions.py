"""Detection predictions (COCO results json, YOLO txt with scores) as a source, scored per image."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from app.core.active.detection_predictions import import_detections_job
from app.core.active.uncertainty import (
    LEAST_CONFIDENCE,
    OBJECT_FREQUENCY,
    OBJECTNESS_LEAST_CONFIDENCE,
)
from app.core.errors import SieveError
from app.core.ingest.indexing import IndexOptions, index_job
from app.core.jobs import CancelToken, run_job
from app.core.selection.spec import SelectSpec, selection_job
from app.core.store.catalog import load_table, scores
from app.core.store.metadata import write_scores
from app.core.store.objects import object_arrays, source, sources
from app.core.store.project import Project
from tests.factories import make_dataset

CLASSES = ["car", "person"]


@pytest.fixture()
def project(tmp_path: Path):
    """12 images of 100 x 80 pixels (a/000.png ... b/005.png), indexed."""
    root = make_dataset(tmp_path / "data", {"a": 6, "b": 6}, size=(100, 80))
    project = Project.for_dataset(root)
    run_job(index_job(project, IndexOptions(), CancelToken()))
    yield project
    project.close()


def _yolo(folder: Path, files: dict[str, list[str]]) -> Path:
    (folder / "labels").mkdir(parents=True)
    (folder / "classes.txt").write_text("\n".join(CLASSES) + "\n")
    for name, lines in files.items():
        path = folder / "labels" / f"{name}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(line + "\n" for line in lines))
    return folder


def _import(project, path, fmt, **kwargs):
    return run_job(import_detections_job(project, path, fmt, CancelToken(), **kwargs))


def _scores_of(project, key, names):
    table = load_table(project)
    by_name = {row.name: row.id for row in project.samples()}
    values = scores(project, key, table)
    return [values[table.row_of(np.array([by_name[n]]))[0]] for n in names]


def test_yolo_predictions_are_stored_and_scored(project, tmp_path) -> None:
    folder = _yolo(
        tmp_path / "preds",
        {
            "a/000": ["0 0.5 0.5 0.2 0.2 0.9", "0 0.2 0.2 0.1 0.1 0.5", "1 0.7 0.7 0.2 0.2 0.3"],
            "a/001": ["1 0.5 0.5 0.4 0.4 0.8"],
            "b/000": [],  # the model saw the image and found nothing
        },
    )
    write_scores(
        project, np.array([r.id for r in project.samples()]), {LEAST_CONFIDENCE: np.ones(12)}
    )
    report = _import(project, folder, "yolo")
    assert (report.images, report.boxes, report.classes) == (3, 4, CLASSES)
    stored = source(project, "predictions")
    assert stored.kind == "predictions" and stored.format == "yolo"
    arrays = object_arrays(project, stored.id)
    np.testing.assert_allclose(np.sort(arrays.scores), [0.3, 0.5, 0.8, 0.9], rtol=1e-6)
    np.testing.assert_allclose(arrays.boxes[0], [40, 32, 20, 16])  # fractions of 100 x 80
    names = ["a/000.png", "a/001.png", "b/000.png"]
    # sums: 1 + 0.25 (a second car) + 1 (a person) = 2.25; 1; 0 -> scaled to [0.9, 1]
    np.testing.assert_allclose(
        _scores_of(project, OBJECT_FREQUENCY, names), [1.0, 0.9 + 0.1 / 2.25, 0.9], rtol=1e-6
    )
    np.testing.assert_allclose(
        _scores_of(project, OBJECTNESS_LEAST_CONFIDENCE, names),
        [(0.1 + 0.5 + 0.7) / 3, 0.2, 0.0],
        rtol=1e-6,
    )
    assert np.isnan(_scores_of(project, OBJECT_FREQUENCY, ["b/001.png"])).all()  # not covered
    assert scores(project, LEAST_CONFIDENCE, load_table(project)) is None  # an older one cleared


def test_reduce_max_takes_the_least_confident_box(project, tmp_path) -> None:
    folder = _yolo(tmp_path / "p", {"a/000": ["0 0.5 0.5 0.2 0.2 0.9", "1 0.2 0.2 0.1 0.1 0.4"]})
    _import(project, folder, "yolo", reduce="max")
    value = _scores_of(project, OBJECTNESS_LEAST_CONFIDENCE, ["a/000.png"])[0]
    assert value == pytest.approx(0.6)


def test_coco_results_are_read_against_the_ground_truths_json(project, tmp_path) -> None:
    from app.core.data.annotations.importing import import_annotations_job

    dataset = {
        "images": [
            {"id": 7, "file_name": "a/000.png", "width": 100, "height": 80},
            {"id": 8, "file_name": "b/003.png", "width": 100, "height": 80},
        ],
        "categories": [{"id": 1, "name": "car"}, {"id": 3, "name": "person"}],
        "annotations": [
            {
                "id": 1,
                "image_id": 7,
                "category_id": 1,
                "bbox": [10, 10, 20, 20],
                "area": 400,
                "iscrowd": 0,
            },
        ],
    }
    gt_json = tmp_path / "instances.json"
    gt_json.write_text(json.dumps(dataset))
    run_job(import_annotations_job(project, gt_json, "coco"))
    results = tmp_path / "results.json"
    results.write_text(
        json.dumps(
            [
                {"image_id": 7, "category_id": 1, "bbox": [11, 10, 20, 20], "score": 0.75},
                {"image_id": 8, "category_id": 3, "bbox": [0, 0, 5, 5], "score": 0.25},
            ]
        )
    )
    report = _import(project, results, "coco", name="detector")
    assert report.boxes == 2 and report.classes == ["car", "person"]
    arrays = object_arrays(project, source(project, "detector").id)
    assert [arrays.classes[c] for c in arrays.labels] == ["car", "person"]
    np.testing.assert_allclose(
        _scores_of(project, OBJECTNESS_LEAST_CONFIDENCE, ["a/000.png", "b/003.png"]), [0.25, 0.75]
    )


def test_a_results_list_without_a_reference_is_refused(project, tmp_path) -> None:
    results = tmp_path / "results.json"
    results.write_text('[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 1}]')
    with pytest.raises(SieveError, match="--reference"):
        _import(project, results, "coco")


def test_a_bad_line_names_file_and_line_and_nothing_is_imported(project, tmp_path) -> None:
    folder = _yolo(
        tmp_path / "p",
        {
            "a/000": ["0 0.5 0.5 0.2 0.2 0.9"],
            "a/001": ["0 0.5 0.5 0.2 0.2 0.9", "7 0.5 0.5 0.1 0.1 0.5"],
        },
    )
    with pytest.raises(SieveError, match=r"labels/a/001.txt:2: unknown class id 7") as raised:
        _import(project, folder, "yolo")
    assert "\n" not in str(raised.value)
    assert sources(project) == []
    assert scores(project, OBJECT_FREQUENCY, load_table(project)) is None


def test_a_box_without_a_score_is_refused(project, tmp_path) -> None:
    folder = _yolo(tmp_path / "p", {"a/000": ["0 0.5 0.5 0.2 0.2 0.9", "1 0.5 0.5 0.2 0.2"]})
    with pytest.raises(SieveError, match=r"a/000.txt:2: a prediction without a score"):
        _import(project, folder, "yolo")
    assert sources(project) == []


def test_a_selection_weighs_by_the_objectness_score(embedded_project, tmp_path) -> None:
    project, embedding_set = embedded_project
    folder = _yolo(
        tmp_path / "p",
        {
            "cats/000": ["0 0.5 0.5 0.2 0.2 0.95"],
            "cats/001": ["0 0.5 0.5 0.2 0.2 0.15"],  # the least confident
            "dogs/002": ["1 0.5 0.5 0.2 0.2 0.35", "1 0.3 0.3 0.2 0.2 0.45"],
            "dogs/003": ["1 0.5 0.5 0.2 0.2 0.9"],
        },
    )
    _import(project, folder, "yolo")
    spec = SelectSpec(n=2, strategies=[{"kind": "weight", "score": OBJECTNESS_LEAST_CONFIDENCE}])
    saved = run_job(selection_job(project, embedding_set, spec, "uncertain", CancelToken()))
    names = {project.samples_by_id([i])[i].name for i in saved.members.tolist()}
    assert names == {"cats/001.png", "dogs/002.png"}
