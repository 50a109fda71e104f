"""Import model predictions: uncertainty scores per sample, and the predictions kept as arrays.

The file formats are described in :mod:`app.core.active.prediction_files`. An import stores:

- the scores of :mod:`app.core.active.uncertainty` per matched sample (metadata keys named
  after lightly's scorers, so the grid sorts and filters by them); keys of the other task are
  cleared;
- the predictions in ``<project>/arrays/``: ``predictions_ids`` (matched sample ids, ascending)
  and, for classification, ``predictions_probabilities`` (one row per id); for detection
  ``predictions_box_image`` (row into the ids), ``predictions_boxes``,
  ``predictions_box_probabilities`` and ``predictions_objectness``;
- what was imported, under the project metadata key ``predictions`` (JSON).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.core.active.prediction_files import CLASSIFICATION, Predictions, read_predictions
from app.core.active.uncertainty import (
    CLASSIFICATION_SCORERS,
    DETECTION_SCORERS,
    Detections,
    classification_scores,
    detection_scores,
)
from app.core.errors import SieveError
from app.core.jobs import CancelToken, Job, Progress
from app.core.store.metadata import write_scores
from app.core.store.names import match_names
from app.core.store.project import Project

META_KEY = "predictions"
IDS = "predictions_ids"
PROBABILITIES = "predictions_probabilities"
BOX_IMAGE = "predictions_box_image"
BOXES = "predictions_boxes"
BOX_PROBABILITIES = "predictions_box_probabilities"
OBJECTNESS = "predictions_objectness"
_ARRAYS = (IDS, PROBABILITIES, BOX_IMAGE, BOXES, BOX_PROBABILITIES, OBJECTNESS)


@dataclass
class PredictionsReport:
    """What an import read and matched, and the score keys it stored."""

    kind: str
    matched: int
    unmatched: list[str] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    logits: bool = False
    scorers: list[str] = field(default_factory=list)


@dataclass
class StoredPredictions:
    """The last imported predictions, for the samples ``ids`` (ascending)."""

    kind: str
    classes: list[str]
    ids: np.ndarray
    probabilities: np.ndarray | None = None
    detections: Detections | None = None


def import_predictions_job(
    project: Project,
    path: Path,
    cancel: CancelToken,
    logits: bool | None = None,
    reduce: str | None = None,
) -> Job[PredictionsReport]:
    """Read ``path``, score every matched sample, and store scores and predictions.

    ``logits`` None detects them (see the file formats); ``reduce`` ("max", "mean", or None for
    lightly's rules) reduces detection scores over the boxes of an image.
    """
    yield Progress("predictions", 0, None, f"reading {path.name}")
    predictions = read_predictions(path, logits)
    cancel.raise_if_cancelled()
    match = match_names(project, predictions.names)
    found = match.ids
    rows = np.array(match.matched_positions, dtype=np.int64)
    unmatched = match.unmatched
    if not len(rows):
        raise SieveError(
            f"none of the {len(found):,} names in {path.name} matches a sample of this project "
            f"(first: {predictions.names[0]!r}); names must be paths relative to the dataset "
            "folder"
        )
    ids = np.array([found[i] for i in rows], dtype=np.int64)
    order = np.argsort(ids, kind="stable")
    ids, rows = ids[order], rows[order]
    yield Progress("predictions", 0, None, f"scoring {len(ids):,} samples")
    stored = _matched(predictions, ids, rows)
    if stored.kind == CLASSIFICATION:
        scores = classification_scores(stored.probabilities)
    else:
        scores = detection_scores(stored.detections, reduce)
    cancel.raise_if_cancelled()
    yield Progress("predictions", 0, None, "saving scores")
    cleared = {key: np.full(len(ids), np.nan) for key in DETECTION_SCORERS if key not in scores}
    write_scores(project, ids, {**scores, **cleared})
    _save(project, stored, path, predictions.logits, reduce)
    message = f"scored {len(ids):,} samples, {len(unmatched):,} names unmatched"
    yield Progress("predictions", 1, 1, message)
    scorers = list(CLASSIFICATION_SCORERS if stored.kind == CLASSIFICATION else DETECTION_SCORERS)
    return PredictionsReport(
        stored.kind, len(ids), unmatched, predictions.classes, predictions.logits, scorers
    )


def load_predictions(project: Project) -> StoredPredictions | None:
    """The last imported predictions, or None if none were imported."""
    text = project.get_meta(META_KEY)
    ids = project.arrays.load(IDS)
    if text is None or ids is None:
        return None
    meta = json.loads(text)
    if meta["kind"] == CLASSIFICATION:
        return StoredPredictions(
            CLASSIFICATION, meta["classes"], ids, probabilities=project.arrays.load(PROBABILITIES)
        )
    detections = Detections(
        count=len(ids),
        image=project.arrays.load(BOX_IMAGE),
        boxes=project.arrays.load(BOXES),
        probabilities=project.arrays.load(BOX_PROBABILITIES),
        objectness=project.arrays.load(OBJECTNESS),
    )
    return StoredPredictions(meta["kind"], meta["classes"], ids, detections=detections)


def _matched(predictions: Predictions, ids: np.ndarray, rows: np.ndarray) -> StoredPredictions:
    """The predictions of the matched rows, in the order of ``ids``."""
    if predictions.kind == CLASSIFICATION:
        return StoredPredictions(
            CLASSIFICATION, predictions.classes, ids, probabilities=predictions.probabilities[rows]
        )
    source = predictions.detections
    new_image = np.full(source.count, -1, dtype=np.int64)
    new_image[rows] = np.arange(len(rows))
    image = new_image[source.image]
    keep = np.flatnonzero(image >= 0)
    keep = keep[np.argsort(image[keep], kind="stable")]
    detections = Detections(
        count=len(rows),
        image=image[keep],
        boxes=source.boxes[keep],
        probabilities=source.probabilities[keep],
        objectness=source.objectness[keep],
    )
    return StoredPredictions(predictions.kind, predictions.classes, ids, detections=detections)


def _save(
    project: Project, stored: StoredPredictions, path: Path, logits: bool, reduce: str | None
) -> None:
    for name in _ARRAYS:
        project.arrays.delete(name)
    if stored.kind == CLASSIFICATION:
        project.arrays.save(PROBABILITIES, stored.probabilities.astype(np.float32))
        boxes = 0
    else:
        found = stored.detections
        project.arrays.save(BOX_IMAGE, found.image)
        project.arrays.save(BOXES, found.boxes)
        project.arrays.save(BOX_PROBABILITIES, found.probabilities)
        project.arrays.save(OBJECTNESS, found.objectness)
        boxes = len(found.image)
    project.arrays.save(IDS, stored.ids)
    meta = {
        "kind": stored.kind,
        "classes": stored.classes,
        "file": str(path),
        "logits": logits,
        "reduce": reduce,
        "samples": len(stored.ids),
        "boxes": boxes,
    }
    project.set_meta(META_KEY, json.dumps(meta))
