"""COCO mAP per class with pycocotools' COCOeval, on COCO objects built in memory.

``ap`` is COCO's AP averaged over IoU 0.50:0.05:0.95, ``ap50`` the AP at IoU 0.5 (area "all",
100 detections per image). A class without ground truth has no AP: -1, COCO's convention; a class
with ground truth but no prediction has AP 0. ``map`` / ``map50`` average the classes that have
an AP, as COCOeval's summary does.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.core.jobs import CancelToken, Job, Progress, run_job

NO_AP = -1.0
PROGRESS_STEPS = 10  # COCOeval calls at most: each has a fixed cost over all images


@dataclass(frozen=True)
class Boxes:
    """Objects as columns: image (sample id), class code, ``x, y, w, h``, score, crowd flag."""

    images: np.ndarray  # int64
    labels: np.ndarray  # int codes into the shared class list
    boxes: np.ndarray  # float N x 4
    scores: np.ndarray | None = None  # float, predictions only
    crowd: np.ndarray | None = None  # bool, ground truth only

    def __len__(self) -> int:
        return len(self.images)


@dataclass
class CocoResult:
    """mAP over classes and AP per class (-1 where a class has no ground truth)."""

    map: float
    map50: float
    ap: np.ndarray = field(default_factory=lambda: np.zeros(0))  # per class
    ap50: np.ndarray = field(default_factory=lambda: np.zeros(0))


def coco_map(gt: Boxes, predictions: Boxes, images: np.ndarray, classes: int) -> CocoResult:
    """COCOeval (bbox) of ``predictions`` against ``gt`` over ``images`` and ``classes``."""
    return run_job(coco_map_job(gt, predictions, images, classes, CancelToken()))


def coco_map_job(
    gt: Boxes, predictions: Boxes, images: np.ndarray, classes: int, cancel: CancelToken
) -> Job[CocoResult]:
    """:func:`coco_map` as a job: COCOeval runs on :data:`PROGRESS_STEPS` groups of classes
    (a class's AP depends on that class's boxes only), with progress and a cancel check between
    groups."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    image_list = [{"id": int(i)} for i in np.asarray(images).tolist()]
    categories = [{"id": c + 1, "name": str(c)} for c in range(classes)]
    truth = _coco(COCO, image_list, categories, _annotations(gt, scored=False))
    found = _coco(COCO, image_list, categories, _annotations(predictions, scored=True))
    precision = np.full((10, 101, classes), NO_AP)  # IoU thresholds x recall points x classes
    groups = np.array_split(np.arange(classes), min(classes, PROGRESS_STEPS)) if classes else []
    for group in groups:
        cancel.raise_if_cancelled()
        first, last = int(group[0]) + 1, int(group[-1]) + 1
        yield Progress("COCO mAP", first - 1, classes, f"COCOeval, classes {first}-{last}")
        evaluation = _cancellable(COCOeval)(truth, found, iouType="bbox")
        evaluation.cancel = cancel
        evaluation.params.catIds = [int(k) + 1 for k in group]
        with contextlib.redirect_stdout(io.StringIO()):  # COCOeval prints as it goes
            evaluation.evaluate()
            evaluation.accumulate()
        precision[:, :, group] = evaluation.eval["precision"][:, :, :, 0, -1]  # area all, 100 dets
    ap = np.array([_mean(precision[:, :, k]) for k in range(classes)])
    ap50 = np.array([_mean(precision[0, :, k]) for k in range(classes)])
    return CocoResult(_mean(precision), _mean(precision[0]), ap, ap50)


def _cancellable(base: type) -> type:
    """COCOeval checking ``self.cancel`` at each image evaluation: one takes microseconds for a
    few boxes, ~10 ms for 40 boxes a class and image (checked every 2000, a group of classes ran
    1.6 s between checks, past the 2.5 s a cancel may take on a loaded machine); a check costs
    a fraction of a microsecond."""

    class CancellableEval(base):
        cancel: CancelToken = CancelToken()

        def evaluateImg(self, *args: Any) -> Any:  # noqa: N802 - COCOeval's name
            self.cancel.raise_if_cancelled()
            return super().evaluateImg(*args)

    return CancellableEval


def _coco(coco_class: type, images: list[dict], categories: list[dict], annotations: list[dict]):
    coco = coco_class()
    coco.dataset = {"images": images, "categories": categories, "annotations": annotations}
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def _annotations(objects: Boxes, scored: bool) -> list[dict]:
    boxes = np.asarray(objects.boxes, dtype=np.float64).reshape(-1, 4)
    crowd = np.zeros(len(objects), bool) if objects.crowd is None else objects.crowd
    scores = np.ones(len(objects)) if objects.scores is None else objects.scores
    out = []
    for k, (image, label, box, is_crowd, score) in enumerate(
        zip(
            objects.images.tolist(),
            np.asarray(objects.labels).tolist(),
            boxes.tolist(),
            np.asarray(crowd, bool).tolist(),
            np.asarray(scores, np.float64).tolist(),
            strict=True,
        )
    ):
        annotation = {
            "id": k + 1,
            "image_id": image,
            "category_id": label + 1,
            "bbox": box,
            "area": box[2] * box[3],
            "iscrowd": int(is_crowd and not scored),
        }
        if scored:
            annotation["score"] = score
        out.append(annotation)
    return out


def _mean(values: np.ndarray) -> float:
    valid = values[values > -1]
    return float(valid.mean()) if valid.size else NO_AP
