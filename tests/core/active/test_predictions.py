"""Prediction files (CSV, JSON, detections) imported into a project as per-sample scores."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from app.core.active.predictions import import_predictions_job
from app.core.active.uncertainty import softmax
from app.core.errors import SieveError
from app.core.jobs import CancelToken, run_job
from app.core.store import catalog
from tests.factories import write_image


def names_of(project) -> list[str]:
    return [row.name for row in project.samples()]


def ids_of(project) -> np.ndarray:
    return np.array([row.id for row in project.samples()], dtype=np.int64)


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    lines = [",".join(header)] + [",".join(str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def run(project, path: Path, **kw):
    return run_job(import_predictions_job(project, path, CancelToken(), **kw))


def stored(project, key: str) -> dict[int, float]:
    table = catalog.load_table(project)
    values = catalog.scores(project, key, table)
    return {int(i): float(v) for i, v in zip(table.ids, values, strict=True)}


def test_csv_probabilities_give_lightlys_scores_per_sample(embedded_project, tmp_path) -> None:
    project, _ = embedded_project
    names, ids = names_of(project), ids_of(project)
    rows = [[names[0], 0.7, 0.2, 0.1], [names[1], 1, 0, 0], [names[2], 0.5, 0.3, 0.2]]
    path = write_csv(tmp_path / "p.csv", ["filename", "cat", "dog", "bird"], rows)
    path.write_text(path.read_text() + "elsewhere/ghost.png,0.2,0.3,0.5\n")
    report = run(project, path)
    assert (report.kind, report.matched, report.unmatched) == (
        "classification",
        3,
        ["elsewhere/ghost.png"],
    )
    assert report.classes == ["cat", "dog", "bird"] and not report.logits
    margin = stored(project, "uncertainty_margin")
    assert margin[ids[0]] == pytest.approx(0.5) and margin[ids[1]] == pytest.approx(0.0)
    assert margin[ids[2]] == pytest.approx(0.8)
    assert np.isnan(margin[ids[3]])
    confidence = stored(project, "uncertainty_least_confidence")
    assert confidence[ids[0]] == pytest.approx(0.45)
    entropy = stored(project, "uncertainty_entropy")
    assert entropy[ids[0]] == pytest.approx(1.15678 / np.log2(3), abs=1e-4)


def test_logits_are_detected_and_softmaxed(embedded_project, tmp_path) -> None:
    project, _ = embedded_project
    names = names_of(project)
    path = write_csv(tmp_path / "l.csv", ["filenames", "a", "b", "c"], [[names[0], 2, 1, 0]])
    assert run(project, path).logits
    expected = softmax(np.array([[2.0, 1.0, 0.0]]))
    np.testing.assert_allclose(expected, [[0.66524, 0.24473, 0.09003]], atol=1e-5)
    top, second = expected[0, 0], expected[0, 1]
    margin = stored(project, "uncertainty_margin")[ids_of(project)[0]]
    assert margin == pytest.approx(1 - (top - second), abs=1e-6)
    forced = write_csv(tmp_path / "f.csv", ["filename", "a", "b"], [[names[0], 0.5, 0.5]])
    assert run(project, forced, logits=True).logits


def test_rows_that_do_not_sum_to_one_are_refused(embedded_project, tmp_path) -> None:
    project, _ = embedded_project
    names = names_of(project)
    rows = [[names[0], 0.5, 0.5], [names[1], 0.6, 0.3]]
    path = write_csv(tmp_path / "bad.csv", ["filename", "a", "b"], rows)
    with pytest.raises(
        SieveError, match=r"bad.csv, line 3: the probabilities sum to 0.9.*--logits"
    ):
        run(project, path)


def test_negative_probabilities_are_refused_unless_logits(embedded_project, tmp_path) -> None:
    project, _ = embedded_project
    path = write_csv(tmp_path / "n.csv", ["filename", "a", "b"], [[names_of(project)[0], -1, 2]])
    with pytest.raises(SieveError, match=r"n.csv, line 2: a probability is negative"):
        run(project, path, logits=False)
    assert run(project, path).logits


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name,a,b\nx.png,0.5,0.5\n", r"not a predictions CSV: the header must be filename"),
        ("filename\nx.png\n", r"not a predictions CSV"),
        ("filename,a,a\nx.png,0.5,0.5\n", r"class names repeat"),
        ("filename,a,b\nx.png,0.5\n", r"line 2: 2 fields, the header has 3"),
        ("filename,a,b\nx.png,0.5,half\n", r"line 2, column 'b': 'half' is not a number"),
        ("filename,a,b\nx.png,0.5,nan\n", r"line 2: a value is NaN or infinite"),
        ("filename,a,b\n", r"a header but no predictions"),
        ("filename,a,b\nx.png,0.5,0.5\n./x.png,0.5,0.5\n", r"'x.png' appears twice"),
        ("hello there\n", r"not a predictions CSV"),
    ],
)
def test_bad_csv_files_are_refused_clearly(embedded_project, tmp_path, text, message) -> None:
    project, _ = embedded_project
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(SieveError, match=message):
        run(project, path)


def test_a_file_that_is_neither_csv_nor_json_is_refused(embedded_project, tmp_path) -> None:
    project, _ = embedded_project
    image = write_image(tmp_path / "picture.png")
    with pytest.raises(SieveError, match="picture.png is not a text file: predictions come as CSV"):
        run(project, image)
    with pytest.raises(SieveError, match="is not a file"):
        run(project, tmp_path / "missing.csv")


def test_no_matching_name_is_an_error(embedded_project, tmp_path) -> None:
    project, _ = embedded_project
    path = write_csv(tmp_path / "p.csv", ["filename", "a", "b"], [["other.png", 0.5, 0.5]])
    with pytest.raises(SieveError, match="none of the 1 names in p.csv matches"):
        run(project, path)


def test_json_classification_with_class_names(embedded_project, tmp_path) -> None:
    project, _ = embedded_project
    names, ids = names_of(project), ids_of(project)
    predictions = {names[4]: {"probabilities": [0.1, 0.9]}, "ghost.png": {"probabilities": [1, 0]}}
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"classes": ["cat", "dog"], "predictions": predictions}))
    report = run(project, path)
    assert report.classes == ["cat", "dog"] and report.unmatched == ["ghost.png"]
    assert stored(project, "uncertainty_least_confidence")[ids[4]] == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1, 2], r"expected an object keyed by file name"),
        ({"x.png": [0.5, 0.5]}, r"'x.png': expected an object with 'probabilities'"),
        ({"x.png": {"scores": [1]}}, r"'x.png': no 'probabilities'"),
        ({"x.png": {"probabilities": [0.5, "a"]}}, r"must be a list of numbers"),
        ({"a.png": {"probabilities": [1, 0]}, "b.png": {"probabilities": [1]}}, r"1 class"),
        ({"x.png": {"boxes": [[0, 0, 1, 1]], "probabilities": []}}, r"one entry per box"),
        (
            {"x.png": {"boxes": [[0, 0, 1, 1]], "probabilities": [[1, 0]], "objectness": [2]}},
            r"'x.png', box 1: objectness must lie in \[0, 1\]",
        ),
        ({"classes": ["a"], "predictions": {"x.png": {"probabilities": [1, 0]}}}, r"1 class names"),
    ],
)
def test_bad_json_files_are_refused_clearly(embedded_project, tmp_path, data, message) -> None:
    project, _ = embedded_project
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(SieveError, match=message):
        run(project, path)


def test_invalid_json_names_the_place(embedded_project, tmp_path) -> None:
    project, _ = embedded_project
    path = tmp_path / "broken.json"
    path.write_text('{"x.png": {"probabilities": [1, 0]},\n}')
    with pytest.raises(SieveError, match=r"broken.json is not valid JSON \(line 2, column 1"):
        run(project, path)


def detection_file(tmp_path: Path, names: list[str]) -> Path:
    predictions = {
        names[0]: {
            "boxes": [[0, 0, 10, 10], [5, 5, 20, 20], [1, 1, 3, 3]],
            "probabilities": [[0.9, 0.1], [0.6, 0.4], [0.8, 0.2]],
            "objectness": [1.0, 0.5, 0.5],
        },
        names[1]: {
            "boxes": [[0, 0, 4, 4]],
            "class_probabilities": [[0.3, 0.7]],
            "object_probabilities": [0.9],
        },
        names[2]: {"boxes": [], "probabilities": []},
    }
    path = tmp_path / "detections.json"
    path.write_text(json.dumps(predictions))
    return path


def test_detections_give_per_image_scores(embedded_project, tmp_path) -> None:
    project, _ = embedded_project
    names, ids = names_of(project), ids_of(project)
    report = run(project, detection_file(tmp_path, names))
    assert report.kind == "detection" and report.matched == 3
    assert set(report.scorers) >= {"object_frequency", "objectness_least_confidence"}
    frequency = stored(project, "object_frequency")
    assert [frequency[i] for i in ids[:3]] == pytest.approx([1.0, 0.9 + 0.1 / 1.5, 0.9])
    objectness = stored(project, "objectness_least_confidence")
    assert [objectness[i] for i in ids[:3]] == pytest.approx([1.4 / 3, 0.37, 0.0])
    margin = stored(project, "uncertainty_margin")
    assert [margin[i] for i in ids[:3]] == pytest.approx([0.8, 0.6, 0.0])


def test_detection_scores_reduced_by_mean_or_max(embedded_project, tmp_path) -> None:
    project, _ = embedded_project
    names, ids = names_of(project), ids_of(project)
    run(project, detection_file(tmp_path, names), reduce="mean")
    assert stored(project, "uncertainty_margin")[ids[0]] == pytest.approx(1.4 / 3)
    run(project, detection_file(tmp_path, names), reduce="max")
    assert stored(project, "objectness_least_confidence")[ids[0]] == pytest.approx(0.7)


def test_classification_import_clears_detection_scores(embedded_project, tmp_path) -> None:
    project, _ = embedded_project
    names = names_of(project)
    run(project, detection_file(tmp_path, names))
    path = write_csv(tmp_path / "p.csv", ["filename", "a", "b"], [[names[0], 0.5, 0.5]])
    run(project, path)
    table = catalog.load_table(project)
    assert catalog.scores(project, "object_frequency", table) is None


def test_an_import_keeps_scores_and_its_record_but_no_prediction_arrays(
    embedded_project, tmp_path
) -> None:
    project, _ = embedded_project
    run(project, detection_file(tmp_path, names_of(project)))
    record = json.loads(project.get_meta("predictions"))
    assert (record["kind"], record["samples"], record["boxes"]) == ("detection", 3, 4)
    assert not list(project.arrays.folder.glob("predictions_*"))
