"""Import model predictions as uncertainty scores per sample.

The file formats are described in :mod:`app.core.active.prediction_files`. An import stores:

- the scores of :mod:`app.core.active.uncertainty` per matched sample (metadata keys named
  after lightly's scorers, so the grid sorts and filters by them); keys of the other task are
  cleared;
- what was imported, under the project metadata key ``predictions`` (JSON).

The predictions themselves are not kept: nothing reads them once scored.
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
class MatchedPredictions:
    """The predictions of the matched samples ``ids`` (ascending), in their order."""

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
    """Read ``path``, score every matched sample, and store the scores.

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
    matched = _matched(predictions, ids, rows)
    if matched.kind == CLASSIFICATION:
        scores = classification_scores(matched.probabilities)
    else:
        scores = detection_scores(matched.detections, reduce)
    cancel.raise_if_cancelled()
    yield Progress("predictions", 0, None, "saving scores")
    cleared = {key: np.full(len(ids), np.nan) for key in DETECTION_SCORERS if key not in scores}
    write_scores(project, ids, {**scores, **cleared})
    _record_import(project, matched, path, predictions.logits, reduce)
    message = f"scored {len(ids):,} samples, {len(unmatched):,} names unmatched"
    yield Progress("predictions", 1, 1, message)
    scorers = list(CLASSIFICATION_SCORERS if matched.kind == CLASSIFICATION else DETECTION_SCORERS)
    return PredictionsReport(
        matched.kind, len(ids), unmatched, predictions.classes, predictions.logits, scorers
    )


def _matched(predictions: Predictions, ids: np.ndarray, rows: np.ndarray) -> MatchedPredictions:
    """The predictions of the matched rows, in the order of ``ids``."""
    if predictions.kind == CLASSIFICATION:
        return MatchedPredictions(
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
    return MatchedPredictions(predictions.kind, predictions.classes, ids, detections=detections)


def _record_import(
    project: Project, matched: MatchedPredictions, path: Path, logits: bool, reduce: str | None
) -> None:
    boxes = 0 if matched.kind == CLASSIFICATION else len(matched.detections.image)
    meta = {
        "kind": matched.kind,
        "classes": matched.classes,
        "file": str(path),
        "logits": logits,
        "reduce": reduce,
        "samples": len(matched.ids),
        "boxes": boxes,
    }
    project.set_meta(META_KEY, json.dumps(meta))
