"""Detection predictions as an annotation source, and lightly's detection scores from it.

``sieve import-predictions PROJECT FILE --format coco|yolo`` reads a COCO results json (a list
of ``{image_id, category_id, bbox, score}``, read against the COCO dataset json naming its ids:
``reference``, by default the file the ground truth was imported from) or a YOLO folder whose
lines carry a sixth column, the score. The readers, the matching to samples and the checks are
those of ``sieve import-annotations`` (:mod:`app.core.data.annotations`): a bad file is refused
with its file and line, and nothing is imported. The boxes are stored whole as a source of kind
``predictions``; then every image the file covers (also those it gives no box) is scored:

- ``object_frequency``: lightly's, from the boxes' classes (see :mod:`app.core.active.uncertainty`);
- ``objectness_least_confidence``: ``1 - score`` per box (the score stands for objectness times
  the top class probability, which is all a results file keeps), reduced per image by the mean
  (lightly's rule) or ``reduce``.

The classification scores need class probabilities per box, which these files do not have: their
stored values are cleared so that no score of an older import is taken for this one's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.core.active.uncertainty import (
    CLASSIFICATION_SCORERS,
    OBJECT_FREQUENCY,
    OBJECTNESS_LEAST_CONFIDENCE,
    Detections,
    object_frequency,
    reduce_per_image,
)
from app.core.data.annotations.importing import read_annotations
from app.core.data.annotations.matching import (
    mask_problems,
    match_images,
    new_objects,
    pixel_boxes,
)
from app.core.data.annotations.parsed import ParsedAnnotations, problems_error
from app.core.data.annotations.yolo import class_names
from app.core.errors import SieveError
from app.core.jobs import CancelToken, Job, Progress
from app.core.store.metadata import write_scores
from app.core.store.objects import ground_truth, object_columns, write_source_job
from app.core.store.project import Project

DETECTION_FORMATS = ("coco", "yolo")
DEFAULT_SOURCE = "predictions"
META_KEY = "predictions"
SOURCE_SCORERS = (OBJECT_FREQUENCY, OBJECTNESS_LEAST_CONFIDENCE)


@dataclass
class DetectionImport:
    """What a detection import stored: the source, its boxes, the images scored."""

    name: str
    format: str
    images: int
    boxes: int
    classes: list[str] = field(default_factory=list)
    scorers: list[str] = field(default_factory=list)


def import_detections_job(
    project: Project,
    path: str | Path,
    fmt: str,
    cancel: CancelToken,
    name: str = DEFAULT_SOURCE,
    reference: str | Path | None = None,
    classes: list[str] | None = None,
    reduce: str | None = None,
) -> Job[DetectionImport]:
    """Import detection predictions as the source ``name`` and score the images they cover."""
    if fmt not in DETECTION_FORMATS:
        raise SieveError(f"predictions come as {' or '.join(DETECTION_FORMATS)}, not {fmt!r}")
    path = Path(path)
    if not path.exists():
        raise SieveError(f"{path}: no such file or folder")
    yield Progress("predictions", 0, None, f"reading {path.name}")
    parsed = _read(project, path, fmt, reference, classes)
    _check_scores(parsed)
    cancel.raise_if_cancelled()
    yield Progress("predictions", 0, None, f"matching {len(parsed.images):,} images")
    matched = match_images(project, parsed)
    pixels = pixel_boxes(parsed, matched)
    problems = parsed.problems + matched.problems + pixels.problems
    problems += mask_problems(parsed, matched)
    if problems:
        raise problems_error(problems, str(path))
    cancel.raise_if_cancelled()
    source_id = yield from write_source_job(
        project,
        name,
        "predictions",
        fmt,
        new_objects(parsed, matched, pixels),
        len(parsed),
        origin=str(path.absolute()),
        classes=parsed.classes,
        cancel=cancel,
    )
    images = np.unique(matched.sample_ids[matched.sample_ids >= 0])
    yield Progress("predictions", 0, None, f"scoring {len(images):,} images")
    score_source(project, source_id, images, reduce)
    _record(project, name, fmt, path, parsed, len(images), reduce)
    yield Progress("predictions", 1, 1, f"{len(parsed):,} boxes on {len(images):,} images")
    return DetectionImport(
        name, fmt, len(images), len(parsed), list(parsed.classes), list(SOURCE_SCORERS)
    )


def source_detections(project: Project, source_id: int, sample_ids: np.ndarray) -> Detections:
    """The boxes of one source on ``sample_ids`` (ascending) as lightly's :class:`Detections`:
    one-hot class rows and the box's score (1 when it has none) as its objectness."""
    arrays = object_columns(project, source_id)
    ids = np.asarray(sample_ids, dtype=np.int64)
    position = np.searchsorted(ids, arrays.sample_ids)
    inside = np.zeros(len(arrays), bool)
    if len(ids):
        inside = ids[np.minimum(position, len(ids) - 1)] == arrays.sample_ids
    classes = max(2, len(arrays.classes))
    labels = arrays.labels[inside]
    probabilities = np.zeros((len(labels), classes), dtype=np.float32)
    probabilities[np.arange(len(labels)), labels] = 1.0
    boxes = arrays.boxes[inside].astype(np.float32)
    corners = np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], axis=1)
    scores = np.nan_to_num(arrays.scores[inside], nan=1.0)
    return Detections(len(ids), position[inside].astype(np.int64), corners, probabilities, scores)


def detection_source_scores(detections: Detections, reduce: str | None = None) -> dict:
    """``object_frequency`` and ``objectness_least_confidence`` per image."""
    least = 1.0 - detections.objectness
    return {
        OBJECT_FREQUENCY: object_frequency(detections),
        OBJECTNESS_LEAST_CONFIDENCE: reduce_per_image(
            least, detections.image, detections.count, reduce or "mean"
        ),
    }


def score_source(
    project: Project, source_id: int, sample_ids: np.ndarray, reduce: str | None = None
) -> dict[str, np.ndarray]:
    """Score ``sample_ids`` from the source's boxes and store the scores per sample."""
    ids = np.unique(np.asarray(sample_ids, dtype=np.int64))
    scores = detection_source_scores(source_detections(project, source_id, ids), reduce)
    cleared = {key: np.full(len(ids), np.nan) for key in CLASSIFICATION_SCORERS}
    write_scores(project, ids, {**scores, **cleared})
    return scores


def _read(
    project: Project,
    path: Path,
    fmt: str,
    reference: str | Path | None,
    classes: list[str] | None,
) -> ParsedAnnotations:
    """Read with the annotation readers; a results json / a nameless YOLO folder borrows the
    ground truth's dataset json / class names."""
    truth = ground_truth(project)
    if fmt == "coco" and reference is None and _is_results_list(path):
        if truth is None or truth.format != "coco" or not truth.origin:
            raise SieveError(
                f"{path} is a COCO results list: give --reference, the COCO dataset json that "
                "names its image and category ids (or import that json as ground truth first)"
            )
        if not Path(truth.origin).is_file():
            raise SieveError(
                f"{path} is read against the ground truth's {truth.origin}, which is gone: "
                "give --reference"
            )
        reference = truth.origin
    if fmt == "yolo" and classes is None and truth is not None:
        try:
            class_names(path)
        except SieveError:
            classes = list(truth.classes)
    return read_annotations(path, fmt, reference, classes)


def _is_results_list(path: Path) -> bool:
    if not path.is_file():
        return False
    with open(path, "rb") as stream:
        head = stream.read(4096).lstrip()
    return head.startswith(b"[")


def _check_scores(parsed: ParsedAnnotations) -> None:
    """Every box must have a score: predictions without one cannot be ranked."""
    scores = np.frombuffer(parsed.scores, np.float64)
    missing = np.flatnonzero(np.isnan(scores))
    if len(missing):
        where = parsed.where(int(missing[0]))
        raise SieveError(
            f"{where}: a prediction without a score ({len(missing):,} in {parsed.origin}), "
            "nothing imported: predictions need one per box (YOLO: a sixth column)"
        )


def _record(
    project: Project,
    name: str,
    fmt: str,
    path: Path,
    parsed: ParsedAnnotations,
    images: int,
    reduce: str | None,
) -> None:
    meta = {
        "kind": "detection",
        "source": name,
        "format": fmt,
        "classes": list(parsed.classes),
        "file": str(path),
        "reduce": reduce,
        "samples": images,
        "boxes": len(parsed),
    }
    project.set_meta(META_KEY, json.dumps(meta))
