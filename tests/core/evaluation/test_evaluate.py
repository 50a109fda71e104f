"""Evaluation of a predictions source: a hand-computed case and agreement with COCOeval."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from app.core.errors import SieveError
from app.core.evaluation.evaluate import (
    ERROR_KEY,
    ERRORS_SELECTION,
    FN_KEY,
    META_KEY,
    evaluation_job,
)
from app.core.jobs import CancelToken, run_job
from app.core.store.catalog import load_table, scores
from app.core.store.objects import NewObject, replace_source
from app.core.store.project import Project
from app.core.store.selections import get_selection
from tests.core.cancelling import assert_cancels_quickly
from tests.core.evaluation.conftest import sample_ids


def _evaluate(project, **kwargs):
    return run_job(evaluation_job(project, CancelToken(), **kwargs))


def _hand_case(project) -> list[int]:
    a, b, c, d = sample_ids(project)[:4]
    truth = [
        NewObject(a, "cat", 0, 0, 10, 10),
        NewObject(a, "dog", 50, 50, 20, 20),
        NewObject(b, "dog", 0, 0, 20, 20),
        NewObject(b, "cat", 40, 40, 40, 40, iscrowd=True),
        NewObject(c, "cat", 10, 10, 30, 30),
    ]
    predictions = [
        NewObject(a, "cat", 0, 0, 10, 10, score=0.9),  # true positive
        NewObject(a, "cat", 1, 1, 10, 10, score=0.8),  # duplicate: background
        NewObject(a, "dog", 20, 20, 10, 10, score=0.7),  # on nothing: background
        NewObject(b, "cat", 0, 0, 20, 20, score=0.6),  # a dog taken for a cat
        NewObject(b, "cat", 50, 50, 10, 10, score=0.5),  # inside the crowd: ignored
        NewObject(d, "dog", 0, 0, 5, 5, score=0.3),  # on an image without objects
    ]
    replace_source(project, "ground_truth", "ground_truth", "coco", truth, classes=["cat", "dog"])
    replace_source(project, "predictions", "predictions", "coco", predictions)
    return [a, b, c, d]


def test_hand_computed_case(project) -> None:
    a, b, c, d = _hand_case(project)
    result = _evaluate(project)
    assert result.sample_ids.tolist() == [a, b, c, d]
    assert result.tp.tolist() == [1, 0, 0, 0]
    assert result.fp.tolist() == [2, 1, 0, 1]
    assert result.fn.tolist() == [1, 1, 1, 0]
    np.testing.assert_allclose(result.errors, [1 + 0.8 + 0.7, 1 + 0.6, 1, 0.3])
    assert result.labels == ["cat", "dog", "background"]
    assert result.confusion.tolist() == [[1, 0, 1], [1, 0, 1], [1, 2, 0]]
    cat, dog = result.per_class["cat"], result.per_class["dog"]
    assert (cat.tp, cat.fp, cat.fn, cat.objects) == (1, 2, 1, 2)
    assert (dog.tp, dog.fp, dog.fn, dog.objects) == (0, 2, 2, 2)
    # cat: precision 1 up to recall 0.5, then 0: 51 of COCO's 101 recall points, at every IoU
    assert cat.ap50 == pytest.approx(51 / 101)
    assert cat.ap == pytest.approx(51 / 101)
    assert dog.ap == 0.0
    assert result.map == pytest.approx(51 / 101 / 2)
    assert result.images_in_cell(1, 0).tolist() == [b]
    assert result.images_in_cell(2, 1).tolist() == [a, d]
    assert result.worst_first().tolist() == [a, b, c, d]


def test_results_are_stored_for_the_grid(project) -> None:
    a, b, c, d = _hand_case(project)
    _evaluate(project)
    table = load_table(project)
    errors = scores(project, ERROR_KEY, table)
    rows = table.row_of(np.array([a, b, c, d]))
    np.testing.assert_allclose(errors[rows], [2.5, 1.6, 1.0, 0.3])
    assert np.isnan(np.delete(errors, rows)).all()  # images outside the evaluation: no value
    assert scores(project, FN_KEY, table)[rows].tolist() == [1, 1, 1, 0]
    assert get_selection(project, ERRORS_SELECTION).members.tolist() == [a, b, c, d]
    summary = json.loads(project.get_meta(META_KEY))
    assert summary["per_class"]["dog"]["fn"] == 2


def test_json_summary_has_the_documented_keys(project) -> None:
    _hand_case(project)
    summary = _evaluate(project, store=False).to_json()
    assert {"map", "map50", "per_class", "confusion", "images"} <= set(summary)
    assert set(summary["per_class"]["cat"]) >= {"ap", "ap50", "tp", "fp", "fn"}
    assert summary["confusion"]["classes"] == ["cat", "dog", "background"]
    assert summary["images"] == 4
    json.dumps(summary)


def test_a_users_selection_of_that_name_is_kept(project) -> None:
    from app.core.store.selections import save_selection

    ids = _hand_case(project)
    save_selection(project, ERRORS_SELECTION, np.array(ids[:1]), {"kind": "manual"})
    _evaluate(project)
    assert get_selection(project, ERRORS_SELECTION).members.tolist() == ids[:1]


def test_missing_sources_are_refused(project) -> None:
    with pytest.raises(SieveError, match="no ground truth"):
        _evaluate(project)
    _hand_case(project)
    with pytest.raises(SieveError, match="no annotation source named 'nope'"):
        _evaluate(project, predictions_name="nope")
    with pytest.raises(SieveError, match="--iou"):
        _evaluate(project, iou=0.0)


def _generated(project, seed: int = 0, per_image: int = 6) -> tuple[list[NewObject], list[int]]:
    rng = np.random.default_rng(seed)
    ids = sample_ids(project)
    truth = []
    for sample in ids:
        for _ in range(rng.integers(1, per_image)):
            x, y = rng.uniform(0, 70, 2)
            w, h = rng.uniform(8, 30, 2)
            truth.append(NewObject(sample, str(rng.choice(["car", "person", "tree"])), x, y, w, h))
    return truth, ids


def _noisy(truth: list[NewObject], seed: int) -> list[NewObject]:
    """Jittered copies, some with the wrong class, some dropped, plus random extra boxes."""
    rng = np.random.default_rng(seed)
    out = []
    for obj in truth:
        if rng.random() < 0.15:
            continue
        label = obj.label if rng.random() > 0.1 else "car"
        dx, dy = rng.normal(0, 3, 2)
        score = float(rng.uniform(0.05, 1))
        out.append(NewObject(obj.sample_id, label, obj.x + dx, obj.y + dy, obj.w, obj.h, score))
        if rng.random() < 0.3:
            x, y = rng.uniform(0, 70, 2)
            out.append(NewObject(obj.sample_id, "person", x, y, 15, 15, float(rng.uniform(0, 1))))
    return out


def test_perfect_predictions_score_one_and_shifted_boxes_less(project) -> None:
    truth, _ = _generated(project)
    replace_source(project, "ground_truth", "ground_truth", "coco", truth)
    perfect = [NewObject(o.sample_id, o.label, o.x, o.y, o.w, o.h, score=1.0) for o in truth]
    replace_source(project, "predictions", "predictions", "coco", perfect)
    result = _evaluate(project, store=False)
    assert result.map == pytest.approx(1.0)
    assert all(r.ap == pytest.approx(1.0) for r in result.per_class.values())
    assert result.fp.sum() == result.fn.sum() == 0
    shifted = [NewObject(o.sample_id, o.label, o.x + 3, o.y, o.w, o.h, 1.0) for o in truth]
    replace_source(project, "predictions", "predictions", "coco", shifted)
    worse = _evaluate(project, store=False)
    assert 0 < worse.map < 0.99
    assert worse.map50 <= 1.0


def test_a_class_never_predicted_has_ap_zero_and_one_never_true_has_none(project) -> None:
    truth, _ = _generated(project)
    replace_source(project, "ground_truth", "ground_truth", "coco", truth)
    kept = [
        NewObject(o.sample_id, "boat" if o.label == "tree" else o.label, o.x, o.y, o.w, o.h, 1.0)
        for o in truth
    ]
    replace_source(project, "predictions", "predictions", "coco", kept)
    result = _evaluate(project, store=False)
    assert result.per_class["tree"].ap == 0.0  # objects, never predicted
    assert result.per_class["boat"].ap == -1.0  # predicted, no ground truth: COCO's -1
    assert result.per_class["car"].ap == pytest.approx(1.0)
    assert result.map == pytest.approx(2 / 3)  # classes without an AP are not averaged
    boat = result.classes.index("boat")
    tree = result.classes.index("tree")
    assert result.confusion[tree, boat] == result.per_class["tree"].objects


def test_counts_and_ap_agree_with_cocoeval_on_generated_predictions(project) -> None:
    truth, ids = _generated(project, seed=1)
    predictions = _noisy(truth, seed=2)
    replace_source(project, "ground_truth", "ground_truth", "coco", truth)
    replace_source(project, "predictions", "predictions", "coco", predictions)
    result = _evaluate(project, store=False)

    names = sorted({o.label for o in truth} | {o.label for o in predictions})
    cats = [{"id": i + 1, "name": n} for i, n in enumerate(names)]
    gt = COCO()
    gt.dataset = {
        "images": [{"id": i} for i in ids],
        "categories": cats,
        "annotations": [
            {
                "id": k + 1,
                "image_id": o.sample_id,
                "category_id": names.index(o.label) + 1,
                "bbox": [o.x, o.y, o.w, o.h],
                "area": o.w * o.h,
                "iscrowd": 0,
            }
            for k, o in enumerate(truth)
        ],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        dt = gt.loadRes(
            [
                {
                    "image_id": o.sample_id,
                    "category_id": names.index(o.label) + 1,
                    "bbox": [o.x, o.y, o.w, o.h],
                    "score": o.score,
                }
                for o in predictions
            ]
        )
        oracle = COCOeval(gt, dt, "bbox")
        oracle.evaluate()
        oracle.accumulate()
        oracle.summarize()
    assert result.map == pytest.approx(oracle.stats[0], abs=1e-6)
    assert result.map50 == pytest.approx(oracle.stats[1], abs=1e-6)
    for k, name in enumerate(names):
        tp = fp = 0
        for record in oracle.evalImgs:  # area "all" records come first, per category
            if record is None or record["category_id"] != k + 1 or record["aRng"] != [0, 1e10]:
                continue
            matched = record["dtMatches"][0] > 0  # IoU 0.5
            tp += int(matched.sum())
            fp += int((~matched & ~record["dtIgnore"][0]).sum())
        assert (result.per_class[name].tp, result.per_class[name].fp) == (tp, fp), name


def test_a_long_evaluation_cancels_quickly_and_stores_nothing(project) -> None:
    rng = np.random.default_rng(3)
    ids = sample_ids(project)
    truth, predictions = [], []
    for sample in ids:
        for k in range(1200):  # 12 s uncancelled: well over the bound on a cancel's delay
            x, y, w, h = *rng.uniform(0, 70, 2), *rng.uniform(5, 30, 2)
            label = f"class{k % 30}"
            truth.append(NewObject(sample, label, x, y, w, h))
            predictions.append(NewObject(sample, label, x + 2, y, w, h, float(rng.random())))
    replace_source(project, "ground_truth", "ground_truth", "coco", truth)
    replace_source(project, "predictions", "predictions", "coco", predictions)

    def work(cancel: CancelToken) -> None:
        with Project.open(project.path) as own:  # SQLite connections stay on their thread
            run_job(evaluation_job(own, cancel))

    assert_cancels_quickly(work)
    assert scores(project, ERROR_KEY, load_table(project)) is None
    assert project.get_meta(META_KEY) is None
