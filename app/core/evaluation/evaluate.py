"""Evaluate a predictions source against a ground-truth source: the job, its result, its store.

The images evaluated are those with an object in either source (COCO's rule for an image in the
ground truth without objects: it adds nothing). Per image, :func:`app.core.evaluation.matching.
match_image` counts true positives, false positives and false negatives at ``iou`` (class-aware,
greedy by score, crowds ignored); per class, :mod:`app.core.evaluation.coco_map` gives COCO's AP.
The confusion matrix has a row per ground-truth class and a column per predicted class, plus a
*background* row (predictions on no object) and a *background* column (objects nothing found);
its diagonal are the true positives, so a class's off-diagonal column sum is its false
positives and its off-diagonal row sum its false negatives.

A prediction without a score counts as confidence 1. Predictions under ``min_score`` are left out.
The per-image error score is ``FN + sum of the FP confidences``: a missed object costs 1, a false
detection as much as the model believed in it.

:func:`store_evaluation` writes the per-image counts and error as per-sample scores
(:data:`SCORE_KEYS`, so the grid sorts and filters by them), the summary as the project metadata
key :data:`META_KEY` and the images with errors, worst first, as the saved selection
:data:`ERRORS_SELECTION`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from app.core.errors import SieveError
from app.core.evaluation.coco_map import Boxes, coco_map_job
from app.core.evaluation.matching import FALSE_POSITIVE, TRUE_POSITIVE, match_image
from app.core.jobs import CancelToken, Job, Progress
from app.core.store.metadata import write_scores
from app.core.store.objects import (
    AnnotationSource,
    ObjectArrays,
    ground_truth,
    object_columns,
    require_source,
    sources,
)
from app.core.store.project import Project
from app.core.store.selections import get_selection, save_selection

BACKGROUND = "background"
ERROR_KEY = "eval_errors"
TP_KEY = "eval_tp"
FP_KEY = "eval_fp"
FN_KEY = "eval_fn"
SCORE_KEYS = (ERROR_KEY, TP_KEY, FP_KEY, FN_KEY)
META_KEY = "evaluation"
ERRORS_SELECTION = "evaluation errors"
DEFAULT_IOU = 0.5
_PROGRESS_IMAGES = 500


@dataclass(frozen=True)
class ClassResult:
    """One class: COCO AP (-1 without ground truth), AP at IoU 0.5, counts at the chosen IoU."""

    ap: float
    ap50: float
    tp: int
    fp: int
    fn: int
    objects: int  # ground-truth boxes, crowds left out


@dataclass
class Evaluation:
    """The result of :func:`evaluation_job`; per-image values are aligned with ``sample_ids``."""

    ground_truth: str
    predictions: str
    iou: float
    min_score: float
    classes: list[str]
    map: float
    map50: float
    per_class: dict[str, ClassResult]
    confusion: np.ndarray  # (K + 1) x (K + 1) int64: gt rows, predicted columns, background last
    sample_ids: np.ndarray  # int64, ascending
    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray
    errors: np.ndarray  # float64
    # one entry per counted confusion-matrix event: the image, the row and the column
    cell_samples: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    cell_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    cell_cols: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def labels(self) -> list[str]:
        """The confusion matrix's row and column names: the classes, then background."""
        return [*self.classes, BACKGROUND]

    def images_in_cell(self, row: int, col: int) -> np.ndarray:
        """Sorted ids of the images with an event in confusion cell ``(row, col)``."""
        hit = (self.cell_rows == row) & (self.cell_cols == col)
        return np.unique(self.cell_samples[hit])

    def worst_first(self) -> np.ndarray:
        """Ids of the images with an error, the largest error score first (ties by id)."""
        with_errors = np.flatnonzero(self.errors > 0)
        order = np.argsort(-self.errors[with_errors], kind="stable")
        return self.sample_ids[with_errors[order]]

    def to_json(self) -> dict[str, Any]:
        """The summary ``sieve evaluate --json`` prints."""
        return {
            "ground_truth": self.ground_truth,
            "predictions": self.predictions,
            "iou": self.iou,
            "map": _round(self.map),
            "map50": _round(self.map50),
            "per_class": {
                name: {**asdict(r), "ap": _round(r.ap), "ap50": _round(r.ap50)}
                for name, r in self.per_class.items()
            },
            "confusion": {"classes": self.labels, "matrix": self.confusion.tolist()},
            "images": int(len(self.sample_ids)),
            "images_with_errors": int(np.count_nonzero(self.errors > 0)),
            "tp": int(self.tp.sum()),
            "fp": int(self.fp.sum()),
            "fn": int(self.fn.sum()),
        }


def resolve_sources(
    project: Project, gt_name: str | None, predictions_name: str | None
) -> tuple[AnnotationSource, AnnotationSource]:
    """The ground-truth and predictions sources named, or the defaults: the ground truth
    (:func:`ground_truth`) and the predictions source named ``predictions``, else the newest."""
    truth = require_source(project, gt_name) if gt_name else ground_truth(project)
    if truth is None:
        raise SieveError("no ground truth to evaluate against: import annotations first")
    if predictions_name:
        found = require_source(project, predictions_name)
    else:
        candidates = [s for s in sources(project) if not s.is_ground_truth]
        named = [s for s in candidates if s.name == "predictions"]
        if not candidates:
            raise SieveError("no predictions to evaluate: import predictions first")
        found = (named or candidates)[-1]
    if found.id == truth.id:
        raise SieveError(f"{truth.name!r} cannot be evaluated against itself")
    return truth, found


def evaluation_job(
    project: Project,
    cancel: CancelToken,
    gt_name: str | None = None,
    predictions_name: str | None = None,
    iou: float = DEFAULT_IOU,
    min_score: float = 0.0,
    store: bool = True,
) -> Job[Evaluation]:
    """Evaluate (see the module docstring); store the per-image results when ``store``."""
    if not 0.0 < iou <= 1.0:
        raise SieveError(f"--iou must be in (0, 1], not {iou}")
    truth, found = resolve_sources(project, gt_name, predictions_name)
    yield Progress("evaluation", 0, None, f"reading {truth.name!r} and {found.name!r}")
    gt_arrays = object_columns(project, truth.id)
    pred_arrays = object_columns(project, found.id)
    classes = _class_list(truth, found, gt_arrays, pred_arrays)
    gt = _boxes(gt_arrays, classes, crowd=_crowd_mask(project, truth.id, gt_arrays.ids))
    predictions = _boxes(pred_arrays, classes, scored=True)
    keep = predictions.scores >= min_score
    predictions = Boxes(
        predictions.images[keep],
        predictions.labels[keep],
        predictions.boxes[keep],
        predictions.scores[keep],
    )
    images = np.union1d(gt.images, predictions.images)
    if not len(images):
        raise SieveError(f"neither {truth.name!r} nor {found.name!r} has any object")
    cancel.raise_if_cancelled()
    counts = yield from _match_all(gt, predictions, images, len(classes), iou, cancel)
    result = yield from coco_map_job(gt, predictions, images, len(classes), cancel)
    cancel.raise_if_cancelled()
    tp, fp, fn, errors, confusion, cells = counts
    gt_objects = np.bincount(gt.labels[~gt.crowd], minlength=len(classes))
    per_class = {
        name: ClassResult(
            float(result.ap[k]),
            float(result.ap50[k]),
            int(confusion[k, k]),
            int(confusion[:, k].sum() - confusion[k, k]),
            int(confusion[k, :].sum() - confusion[k, k]),
            int(gt_objects[k]),
        )
        for k, name in enumerate(classes)
    }
    evaluation = Evaluation(
        truth.name,
        found.name,
        float(iou),
        float(min_score),
        classes,
        result.map,
        result.map50,
        per_class,
        confusion,
        images,
        tp,
        fp,
        fn,
        errors,
        *cells,
    )
    if store:
        yield Progress("evaluation", len(images), len(images), "saving per-image scores")
        store_evaluation(project, evaluation)
    return evaluation


def store_evaluation(project: Project, evaluation: Evaluation) -> None:
    """Per-image scores, the summary and the saved selection of images with errors."""
    ids = evaluation.sample_ids
    write_scores(
        project,
        ids,
        {
            ERROR_KEY: evaluation.errors,
            TP_KEY: evaluation.tp,
            FP_KEY: evaluation.fp,
            FN_KEY: evaluation.fn,
        },
    )
    project.set_meta(META_KEY, json.dumps(evaluation.to_json()))
    worst = evaluation.worst_first()
    strategy = {
        "kind": "evaluation",
        "ground_truth": evaluation.ground_truth,
        "predictions": evaluation.predictions,
        "iou": evaluation.iou,
    }
    if _may_overwrite(project, ERRORS_SELECTION):
        position = np.searchsorted(ids, worst)
        save_selection(
            project,
            ERRORS_SELECTION,
            worst,
            strategy,
            evaluation.errors[position],
            overwrite=True,
        )


def stored_summary(project: Project) -> dict[str, Any] | None:
    """The summary of the last stored evaluation, or None."""
    text = project.get_meta(META_KEY)
    return None if text is None else json.loads(text)


def _may_overwrite(project: Project, name: str) -> bool:
    """Whether ``name`` is free or a selection an evaluation saved (a user's is kept)."""
    try:
        existing = get_selection(project, name)
    except SieveError:
        return True
    return existing.strategy.get("kind") == "evaluation"


def _match_all(
    gt: Boxes, predictions: Boxes, images: np.ndarray, classes: int, iou: float, cancel: CancelToken
) -> Job[tuple]:
    """Per-image counts, the confusion matrix and its cell events, image by image."""
    background = classes
    confusion = np.zeros((classes + 1, classes + 1), dtype=np.int64)
    tp, fp, fn = (np.zeros(len(images), dtype=np.int64) for _ in range(3))
    errors = np.zeros(len(images), dtype=np.float64)
    gt_start = np.searchsorted(gt.images, images, "left")
    gt_end = np.searchsorted(gt.images, images, "right")
    pred_start = np.searchsorted(predictions.images, images, "left")
    pred_end = np.searchsorted(predictions.images, images, "right")
    cell_samples: list[np.ndarray] = []
    cell_rows: list[np.ndarray] = []
    cell_cols: list[np.ndarray] = []
    yield Progress("evaluation", 0, len(images), "matching predictions")
    for i, image in enumerate(images.tolist()):
        g = slice(gt_start[i], gt_end[i])
        p = slice(pred_start[i], pred_end[i])
        gt_labels, pred_labels, scores = gt.labels[g], predictions.labels[p], predictions.scores[p]
        match = match_image(
            gt.boxes[g], gt_labels, gt.crowd[g], predictions.boxes[p], pred_labels, scores, iou
        )
        tp[i], fp[i], fn[i] = match.tp, match.fp, match.fn
        errors[i] = match.fn + float(scores[match.outcome == FALSE_POSITIVE].sum())
        counted = match.outcome != -1
        confused = match.confused_with >= 0
        truth_of = np.where(
            match.outcome == TRUE_POSITIVE,
            match.gt_of,
            np.where(confused, match.confused_with, -1),
        )
        rows = np.full(len(pred_labels), background, dtype=np.int64)
        rows[truth_of >= 0] = gt_labels[truth_of[truth_of >= 0]]
        rows = rows[counted]
        cols = pred_labels[counted]
        found_gt = np.zeros(len(gt_labels), dtype=bool)
        found_gt[truth_of[truth_of >= 0]] = True
        lost = ~found_gt & ~gt.crowd[g]
        rows = np.concatenate([rows, gt_labels[lost]]).astype(np.int64)
        cols = np.concatenate([cols, np.full(int(lost.sum()), background)]).astype(np.int64)
        np.add.at(confusion, (rows, cols), 1)
        cell_samples.append(np.full(len(rows), image, dtype=np.int64))
        cell_rows.append(rows)
        cell_cols.append(cols)
        cancel.raise_if_cancelled()  # an image of 1,200 boxes: ~0.1 s
        if (i + 1) % _PROGRESS_IMAGES == 0:
            yield Progress("evaluation", i + 1, len(images), "matching predictions")
    cells = tuple(
        np.concatenate(parts) if parts else np.zeros(0, np.int64)
        for parts in (cell_samples, cell_rows, cell_cols)
    )
    return tp, fp, fn, errors, confusion, cells


def _class_list(
    truth: AnnotationSource, found: AnnotationSource, *arrays: ObjectArrays
) -> list[str]:
    """The classes in the sources' own order (ground truth first), then any others sorted."""
    ordered: dict[str, None] = dict.fromkeys([*truth.classes, *found.classes])
    used = sorted({name for a in arrays for name in a.classes} - set(ordered))
    present = {name for a in arrays for name in a.classes}
    return [name for name in ordered if name in present] + used


def _boxes(
    arrays: ObjectArrays, classes: list[str], crowd: np.ndarray | None = None, scored: bool = False
) -> Boxes:
    code = {name: k for k, name in enumerate(classes)}
    remap = np.array([code[name] for name in arrays.classes], dtype=np.int64)
    labels = remap[arrays.labels] if len(arrays) else np.zeros(0, np.int64)
    scores = np.nan_to_num(arrays.scores.astype(np.float64), nan=1.0) if scored else None
    crowd = np.zeros(len(arrays), bool) if crowd is None else crowd
    return Boxes(arrays.sample_ids, labels, arrays.boxes.astype(np.float64), scores, crowd)


def _crowd_mask(project: Project, source_id: int, object_ids: np.ndarray) -> np.ndarray:
    query = "SELECT id FROM objects WHERE source_id = ? AND iscrowd != 0"
    crowd_ids = np.array([row[0] for row in project.db.execute(query, (source_id,))], np.int64)
    return np.isin(object_ids, crowd_ids)


def _round(value: float) -> float:
    return round(float(value), 6)
