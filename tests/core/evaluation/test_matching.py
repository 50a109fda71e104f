"""COCO-style matching of one image: greedy by score, class-aware, crowds ignored."""

from __future__ import annotations

import numpy as np

from app.core.evaluation.matching import (
    FALSE_POSITIVE,
    IGNORED,
    TRUE_POSITIVE,
    iou_matrix,
    match_image,
)


def test_iou_of_boxes_and_crowd_rule() -> None:
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[5, 0, 10, 10], [0, 0, 20, 20]])
    np.testing.assert_allclose(iou_matrix(a, b), [[50 / 150, 100 / 400]])
    crowd = iou_matrix(a, b, np.array([False, True]))
    np.testing.assert_allclose(crowd, [[50 / 150, 1.0]])  # intersection over the prediction


def test_higher_score_takes_the_box_and_the_duplicate_is_a_false_positive() -> None:
    gt = np.array([[0, 0, 10, 10]])
    preds = np.array([[1, 1, 10, 10], [0, 0, 10, 10]])
    match = match_image(gt, [0], [False], preds, [0, 0], [0.4, 0.9])
    assert match.outcome.tolist() == [FALSE_POSITIVE, TRUE_POSITIVE]
    assert match.gt_of.tolist() == [-1, 0]
    assert (match.tp, match.fp, match.fn) == (1, 1, 0)


def test_other_class_is_a_confusion_not_a_match_and_crowd_detections_are_ignored() -> None:
    gt = np.array([[0, 0, 20, 20], [40, 40, 40, 40]])
    preds = np.array([[0, 0, 20, 20], [50, 50, 10, 10]])
    match = match_image(gt, [1, 0], [False, True], preds, [0, 0], [0.6, 0.5])
    assert match.outcome.tolist() == [FALSE_POSITIVE, IGNORED]
    assert match.confused_with.tolist() == [0, -1]
    assert match.missed.tolist() == [True, False]  # the crowd is never missed
    assert (match.tp, match.fp, match.fn) == (0, 1, 1)


def test_below_the_threshold_nothing_matches() -> None:
    gt = np.array([[0, 0, 10, 10]])
    preds = np.array([[5, 0, 10, 10]])  # IoU 1/3
    assert match_image(gt, [0], [False], preds, [0], [1.0], 0.5).fn == 1
    assert match_image(gt, [0], [False], preds, [0], [1.0], 0.3).tp == 1


def test_cocoeval_checks_the_cancel_token_while_it_evaluates() -> None:
    import pytest

    from app.core.errors import JobCancelled
    from app.core.evaluation import coco_map
    from app.core.jobs import CancelToken, run_job

    class CancelOnThirdCheck(CancelToken):
        checks = 0

        def raise_if_cancelled(self) -> None:
            self.checks += 1
            if self.checks == 3:  # the group's start is the first; COCOeval's images the next
                self.cancel()
            super().raise_if_cancelled()

    images = np.arange(1, 21)
    boxes = np.tile([[0.0, 0.0, 10.0, 10.0]], (20, 1))
    gt = coco_map.Boxes(images, np.zeros(20, np.int64), boxes, crowd=np.zeros(20, bool))
    found = coco_map.Boxes(images, np.zeros(20, np.int64), boxes, scores=np.ones(20))
    token = CancelOnThirdCheck()
    with pytest.raises(JobCancelled):
        run_job(coco_map.coco_map_job(gt, found, images, 1, token))
    assert token.checks == 3
    assert coco_map.coco_map(gt, found, images, 1).map == 1.0
