"""Uncertainty scores from model predictions, with lightly's names and definitions.

Classification (one row of class probabilities per image), normalised to [0, 1] as lightly
does: 0 when the model puts all its mass on one class, 1 when it is uniform over the C classes.

- ``uncertainty_least_confidence``: ``(1 - max p) / (1 - 1/C)``;
- ``uncertainty_margin``: ``1 - (p1 - p2)``, the two largest probabilities;
- ``uncertainty_entropy``: ``-sum p log2 p / log2 C``.

A single column is the probability of the first of two classes (lightly's binary case).

Object detection (boxes with class probabilities and an objectness each), one score per image:

- ``object_frequency``: every class present counts 1, each further box of that class
  ``frequency_penalty`` (0.25); the sums are scaled linearly from [min, max] to [``min_score``
  (0.9), 1];
- ``objectness_least_confidence``: ``1 - objectness * max p`` per box, reduced per image;
- the three classification scores per box, reduced per image.

lightly reduces the classification scores with the maximum over boxes and the objectness score
with the mean; ``reduce="max"`` or ``"mean"`` uses one rule for both. An image without boxes
scores 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LEAST_CONFIDENCE = "uncertainty_least_confidence"
MARGIN = "uncertainty_margin"
ENTROPY = "uncertainty_entropy"
OBJECT_FREQUENCY = "object_frequency"
OBJECTNESS_LEAST_CONFIDENCE = "objectness_least_confidence"
CLASSIFICATION_SCORERS = (LEAST_CONFIDENCE, MARGIN, ENTROPY)
DETECTION_SCORERS = (OBJECT_FREQUENCY, OBJECTNESS_LEAST_CONFIDENCE, *CLASSIFICATION_SCORERS)
FREQUENCY_PENALTY = 0.25
MIN_SCORE = 0.9
REDUCTIONS = ("max", "mean")


@dataclass
class Detections:
    """Boxes of ``count`` images as flat arrays: box ``b`` belongs to image ``image[b]``."""

    count: int
    image: np.ndarray  # B int64
    boxes: np.ndarray  # B x 4 float32, (x0, y0, x1, y1)
    probabilities: np.ndarray  # B x C float32, rows sum to 1
    objectness: np.ndarray  # B float32 in [0, 1]


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, stable for large logits."""
    logits = np.asarray(logits, dtype=np.float64)
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32)


def sigmoid(logits: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64)))).astype(np.float32)


def as_two_classes(probabilities: np.ndarray) -> np.ndarray:
    """N x C probabilities; one column ``p`` becomes ``(p, 1 - p)`` (lightly's binary case)."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim != 2 or probabilities.shape[1] == 0:
        raise ValueError(f"probabilities must be N x C with C >= 1, not {probabilities.shape}")
    if probabilities.shape[1] == 1:
        return np.concatenate([probabilities, 1.0 - probabilities], axis=1)
    return probabilities


def least_confidence(probabilities: np.ndarray) -> np.ndarray:
    """``(1 - max p) / (1 - 1/C)`` per row, in [0, 1]."""
    p = as_two_classes(probabilities)
    classes = p.shape[1]
    return _unit(1.0 - p.max(axis=1), 1.0 - 1.0 / classes)


def margin(probabilities: np.ndarray) -> np.ndarray:
    """``1 - (p1 - p2)`` per row, from the two largest probabilities, in [0, 1]."""
    p = as_two_classes(probabilities)
    top_two = np.partition(p, -2, axis=1)[:, -2:]
    return _unit(1.0 - (top_two[:, 1] - top_two[:, 0]), 1.0)


def entropy(probabilities: np.ndarray) -> np.ndarray:
    """Entropy in bits over ``log2 C`` per row, in [0, 1]."""
    p = as_two_classes(probabilities)
    logs = np.log2(p, out=np.zeros_like(p), where=p > 0)
    return _unit(-(p * logs).sum(axis=1), np.log2(p.shape[1]))


def classification_scores(probabilities: np.ndarray) -> dict[str, np.ndarray]:
    """The three uncertainty scores of N x C probabilities, keyed by lightly's names."""
    return {
        LEAST_CONFIDENCE: least_confidence(probabilities),
        MARGIN: margin(probabilities),
        ENTROPY: entropy(probabilities),
    }


def object_frequency(
    detections: Detections,
    frequency_penalty: float = FREQUENCY_PENALTY,
    min_score: float = MIN_SCORE,
) -> np.ndarray:
    """Per image: 1 per class present plus ``frequency_penalty`` per further box, scaled to
    [``min_score``, 1] between the smallest and largest sum (1 for all when they are equal)."""
    labels = as_two_classes(detections.probabilities).argmax(axis=1)
    classes = max(2, detections.probabilities.shape[1])
    pairs, counts = np.unique(detections.image * classes + labels, return_counts=True)
    per_pair = 1.0 + (counts - 1) * frequency_penalty
    sums = np.bincount(pairs // classes, per_pair, minlength=detections.count)
    if not len(sums):
        return sums.astype(np.float32)
    low, high = sums.min(), sums.max()
    if high <= low:
        return np.ones(len(sums), dtype=np.float32)
    return (min_score + (sums - low) / (high - low) * (1.0 - min_score)).astype(np.float32)


def detection_scores(
    detections: Detections,
    reduce: str | None = None,
    frequency_penalty: float = FREQUENCY_PENALTY,
    min_score: float = MIN_SCORE,
) -> dict[str, np.ndarray]:
    """Every detection score per image; ``reduce`` None follows lightly (see the module)."""
    if reduce is not None and reduce not in REDUCTIONS:
        raise ValueError(f"unknown reduction {reduce!r}: max or mean")
    probabilities = as_two_classes(detections.probabilities)
    confidence = detections.objectness * probabilities.max(axis=1)
    scores = {
        OBJECT_FREQUENCY: object_frequency(detections, frequency_penalty, min_score),
        OBJECTNESS_LEAST_CONFIDENCE: reduce_per_image(
            1.0 - confidence, detections.image, detections.count, reduce or "mean"
        ),
    }
    image, count = detections.image, detections.count
    for name, per_box in classification_scores(probabilities).items():
        scores[name] = reduce_per_image(per_box, image, count, reduce or "max")
    return scores


def reduce_per_image(values: np.ndarray, image: np.ndarray, count: int, reduce: str) -> np.ndarray:
    """Max or mean of non-negative per-box ``values`` per image; 0 for an image without boxes."""
    if reduce == "max":
        out = np.zeros(count, dtype=np.float64)
        np.maximum.at(out, image, values)
        return out.astype(np.float32)
    if reduce == "mean":
        boxes = np.bincount(image, minlength=count)
        sums = np.bincount(image, values, minlength=count)
        return (sums / np.maximum(boxes, 1)).astype(np.float32)
    raise ValueError(f"unknown reduction {reduce!r}: max or mean")


def _unit(values: np.ndarray, maximum: float) -> np.ndarray:
    return np.clip(values / maximum, 0.0, 1.0).astype(np.float32)
