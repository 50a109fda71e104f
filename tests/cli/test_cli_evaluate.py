"""`sieve import-predictions --format coco|yolo` and `sieve evaluate` on generated labels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli.entry import main
from app.core.ingest.indexing import IndexOptions, index_job
from app.core.jobs import CancelToken, run_job
from app.core.store.objects import sources
from app.core.store.project import Project
from tests.factories import make_dataset

# the hand-computed case of tests/core/evaluation/test_evaluate.py, as COCO files
TRUTH = [
    (1, 1, [0, 0, 10, 10], 0),
    (1, 2, [50, 50, 20, 20], 0),
    (2, 2, [0, 0, 20, 20], 0),
    (2, 1, [40, 40, 40, 40], 1),
    (3, 1, [10, 10, 30, 30], 0),
]
RESULTS = [
    (1, 1, [0, 0, 10, 10], 0.9),
    (1, 1, [1, 1, 10, 10], 0.8),
    (1, 2, [20, 20, 10, 10], 0.7),
    (2, 1, [0, 0, 20, 20], 0.6),
    (2, 1, [50, 50, 10, 10], 0.5),
    (4, 2, [0, 0, 5, 5], 0.3),
]


@pytest.fixture()
def labelled(tmp_path: Path) -> tuple[str, Path, Path]:
    root = make_dataset(tmp_path / "data", {"a": 4}, size=(100, 80))
    with Project.for_dataset(root) as project:
        run_job(index_job(project, IndexOptions(), CancelToken()))
    dataset = {
        "images": [
            {"id": i, "file_name": f"a/{i - 1:03d}.png", "width": 100, "height": 80}
            for i in (1, 2, 3, 4)
        ],
        "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
        "annotations": [
            {
                "id": k + 1,
                "image_id": i,
                "category_id": c,
                "bbox": b,
                "area": b[2] * b[3],
                "iscrowd": crowd,
            }
            for k, (i, c, b, crowd) in enumerate(TRUTH)
        ],
    }
    truth = tmp_path / "instances.json"
    truth.write_text(json.dumps(dataset))
    results = tmp_path / "results.json"
    results.write_text(
        json.dumps(
            [{"image_id": i, "category_id": c, "bbox": b, "score": s} for i, c, b, s in RESULTS]
        )
    )
    assert main(["import-annotations", str(root), str(truth), "--format", "coco"]) == 0
    return str(root), truth, results


def test_import_coco_results_then_evaluate_json(labelled, capsys) -> None:
    root, _, results = labelled
    capsys.readouterr()
    assert main(["import-predictions", root, str(results), "--format", "coco"]) == 0
    assert "6 predicted boxes on 4 images as 'predictions'" in capsys.readouterr().out
    assert main(["evaluate", root, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["images"] == 4
    assert summary["map50"] == pytest.approx(51 / 101 / 2, abs=1e-6)
    assert summary["map"] == pytest.approx(51 / 101 / 2, abs=1e-6)
    cat, dog = summary["per_class"]["cat"], summary["per_class"]["dog"]
    assert (cat["tp"], cat["fp"], cat["fn"]) == (1, 2, 1)
    assert (dog["tp"], dog["fp"], dog["fn"], dog["ap"]) == (0, 2, 2, 0.0)
    assert cat["ap50"] == pytest.approx(51 / 101, abs=1e-6)
    assert summary["confusion"] == {
        "classes": ["cat", "dog", "background"],
        "matrix": [[1, 0, 1], [1, 0, 1], [1, 2, 0]],
    }


def test_evaluate_prints_a_table(labelled, capsys) -> None:
    root, _, results = labelled
    assert main(["import-predictions", root, str(results), "--format", "coco", "--name", "m1"]) == 0
    capsys.readouterr()
    assert main(["evaluate", root, "--predictions", "m1", "--iou", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "mAP 0.252" in out
    assert any(line.split()[:4] == ["cat", "0.505", "0.505", "2"] for line in out.splitlines())
    assert "confusion (rows: ground truth, columns: predicted)" in out
    assert "selection 'evaluation errors'" in out
    matrix = out.split("columns: predicted)\n")[1].splitlines()[:4]
    assert [line.split() for line in matrix] == [
        ["cat", "dog", "background"],
        ["cat", "1", "0", "1"],
        ["dog", "1", "0", "1"],
        ["background", "1", "2", "0"],
    ]


def test_yolo_predictions_take_the_ground_truths_class_names(labelled, tmp_path, capsys) -> None:
    root, _, _ = labelled
    folder = tmp_path / "yolo" / "labels" / "a"
    folder.mkdir(parents=True)
    (folder / "000.txt").write_text("0 0.05 0.0625 0.1 0.125 0.9\n")  # the cat of image 1
    (folder / "001.txt").write_text("")
    assert main(["import-predictions", root, str(tmp_path / "yolo"), "--format", "yolo"]) == 0
    capsys.readouterr()
    assert main(["evaluate", root, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["per_class"]["cat"]["tp"] == 1
    assert summary["per_class"]["cat"]["fn"] == 1


def test_broken_results_are_one_line_and_import_nothing(labelled, tmp_path, capsys) -> None:
    root, _, _ = labelled
    broken = tmp_path / "broken.json"
    broken.write_text('[{"image_id": 1, "category_id": 1,\n "bbox": [0, 0, 1, 1] "score": 1}]')
    capsys.readouterr()
    assert main(["import-predictions", root, str(broken), "--format", "coco"]) == 1
    err = capsys.readouterr().err.strip()
    assert "broken.json: line 2" in err and "\n" not in err
    unknown = tmp_path / "unknown.json"
    unknown.write_text('[{"image_id": 1, "category_id": 9, "bbox": [0, 0, 1, 1], "score": 1}]')
    assert main(["import-predictions", root, str(unknown), "--format", "coco"]) == 1
    assert "unknown.json" in capsys.readouterr().err
    with Project.open(root) as project:
        assert [s.name for s in sources(project)] == ["ground_truth"]


def test_evaluate_without_predictions_says_what_to_do(labelled, capsys) -> None:
    root, _, _ = labelled
    capsys.readouterr()
    assert main(["evaluate", root, "--json"]) == 1
    assert "import predictions first" in capsys.readouterr().err


def test_classification_files_still_import(labelled, tmp_path, capsys) -> None:
    root, _, _ = labelled
    csv = tmp_path / "p.csv"
    csv.write_text("filename,cat,dog\na/000.png,0.9,0.1\na/001.png,0.5,0.5\n")
    assert main(["import-predictions", root, str(csv)]) == 0
    assert "classification predictions for 2 samples" in capsys.readouterr().out
    assert main(["import-predictions", root, str(csv), "--name", "x"]) == 1
    assert "--name is for detections" in capsys.readouterr().err
