"""Matching one image's predictions to its ground truth, the way COCO does.

Boxes are ``x, y, w, h`` in pixels. Predictions are taken greedily from the highest score down
(ties in their given order); each takes the unmatched ground-truth box of its class with the
highest IoU at or above the threshold. A prediction that finds none but covers a *crowd* box of
its class (intersection over the prediction's own area at or above the threshold, as COCO
measures crowds) is ignored: neither a true nor a false positive. Crowd boxes are never missed.

A second pass matches what is left across classes (IoU at or above the threshold, highest score
first, highest IoU wins): those are class confusions. A prediction still unmatched has no object
under it (a background detection), a ground-truth box still unmatched was missed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TRUE_POSITIVE = 1
FALSE_POSITIVE = 0
IGNORED = -1


def iou_matrix(a: np.ndarray, b: np.ndarray, crowd: np.ndarray | None = None) -> np.ndarray:
    """IoU of every box of ``a`` (N x 4) with every box of ``b`` (M x 4), N x M.

    Where ``crowd[j]`` is true, column ``j`` is the intersection over the area of ``a``'s box
    (COCO's crowd rule).
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    left = np.maximum(a[:, None, 0], b[None, :, 0])
    top = np.maximum(a[:, None, 1], b[None, :, 1])
    right = np.minimum(a[:, None, 0] + a[:, None, 2], b[None, :, 0] + b[None, :, 2])
    bottom = np.minimum(a[:, None, 1] + a[:, None, 3], b[None, :, 1] + b[None, :, 3])
    inter = np.clip(right - left, 0, None) * np.clip(bottom - top, 0, None)
    area_a = (a[:, 2] * a[:, 3])[:, None]
    area_b = (b[:, 2] * b[:, 3])[None, :]
    union = area_a + area_b - inter
    if crowd is not None:
        union = np.where(np.asarray(crowd, dtype=bool)[None, :], area_a, union)
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


@dataclass(frozen=True)
class ImageMatch:
    """How one image's predictions and ground truth matched.

    ``outcome`` per prediction: :data:`TRUE_POSITIVE`, :data:`FALSE_POSITIVE` or :data:`IGNORED`
    (on a crowd box). ``gt_of`` per prediction: the ground-truth index it matched as a true
    positive, else -1; ``confused_with``: for a false positive, the ground-truth box of another
    class it covers (second pass), else -1. ``missed`` per ground-truth box: not found with its
    class and not a crowd (a false negative, confused or not).
    """

    outcome: np.ndarray  # int8 per prediction
    gt_of: np.ndarray  # int64 per prediction
    confused_with: np.ndarray  # int64 per prediction
    missed: np.ndarray  # bool per ground-truth box

    @property
    def tp(self) -> int:
        return int(np.count_nonzero(self.outcome == TRUE_POSITIVE))

    @property
    def fp(self) -> int:
        return int(np.count_nonzero(self.outcome == FALSE_POSITIVE))

    @property
    def fn(self) -> int:
        return int(np.count_nonzero(self.missed))


def match_image(
    gt_boxes: np.ndarray,
    gt_labels: np.ndarray,
    gt_crowd: np.ndarray,
    pred_boxes: np.ndarray,
    pred_labels: np.ndarray,
    pred_scores: np.ndarray,
    iou_threshold: float = 0.5,
) -> ImageMatch:
    """Match one image's predictions to its ground truth (see the module docstring)."""
    gt_labels = np.asarray(gt_labels)
    gt_crowd = np.asarray(gt_crowd, dtype=bool)
    pred_labels = np.asarray(pred_labels)
    preds, gts = len(pred_labels), len(gt_labels)
    outcome = np.full(preds, FALSE_POSITIVE, dtype=np.int8)
    gt_of = np.full(preds, -1, dtype=np.int64)
    confused_with = np.full(preds, -1, dtype=np.int64)
    taken = np.zeros(gts, dtype=bool)
    if preds == 0 or gts == 0:
        return ImageMatch(outcome, gt_of, confused_with, ~gt_crowd)
    threshold = min(float(iou_threshold), 1 - 1e-10)  # as COCO: an IoU of exactly 1 matches at 1
    ious = iou_matrix(pred_boxes, gt_boxes, gt_crowd)
    order = np.argsort(-np.asarray(pred_scores, dtype=np.float64), kind="stable")
    same_class = pred_labels[:, None] == gt_labels[None, :]
    for p in order:
        usable = same_class[p] & ~gt_crowd & ~taken & (ious[p] >= threshold)
        if usable.any():
            g = int(np.argmax(np.where(usable, ious[p], -1.0)))
            taken[g] = True
            outcome[p], gt_of[p] = TRUE_POSITIVE, g
        elif (same_class[p] & gt_crowd & (ious[p] >= threshold)).any():
            outcome[p] = IGNORED
    missed = ~taken & ~gt_crowd
    for p in order:
        if outcome[p] != FALSE_POSITIVE:
            continue
        usable = ~gt_crowd & ~taken & (ious[p] >= threshold)
        if usable.any():
            g = int(np.argmax(np.where(usable, ious[p], -1.0)))
            taken[g] = True
            confused_with[p] = g
    return ImageMatch(outcome, gt_of, confused_with, missed)
