"""Scores of objects from an object set's kNN graph, and of images from their objects.

- **label disagreement** (``label_disagreement``, "possibly mislabelled"): the share of an
  object's ``k`` nearest other objects whose class differs from its own (0: its neighbours agree,
  1: none of them has its class). Stored per row of the set (``label_disagreement.npy`` in the
  set's folder, NaN for rows not scored) with the ``k`` it used.
- **near-duplicate objects**: connected components of the kNN edges at or above a cosine
  similarity (as for images, ``scores.duplicate_groups``); the lowest object id keeps.
- **IoU with the ground truth** (for predictions): per object, the largest IoU with a
  ground-truth object of its class on its image (0 when there is none).
- **rare objects** (``rare_objects``, per image): the sum over the image's objects of
  ``1 / (objects of that class)``, so an image with many boxes of rare classes scores high. It
  is stored as per-sample metadata, which selection weights by (``weight:rare_objects``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.core.embeddings.neighbours import NeighborIndex, knn_graph_job
from app.core.embeddings.object_table import object_columns
from app.core.embeddings.scores import DUPLICATE_THRESHOLD, duplicate_groups
from app.core.errors import SieveError
from app.core.evaluation.matching import iou_matrix
from app.core.jobs import CancelToken, Job, Progress
from app.core.store.embedding_sets import EmbeddingSet, LiveRows
from app.core.store.metadata import write_scores
from app.core.store.objects import AnnotationSource, ObjectArrays, object_arrays
from app.core.store.project import Project

DISAGREEMENT = "label_disagreement"
DISAGREEMENT_K = 10
RARE_OBJECTS = "rare_objects"


@dataclass(frozen=True, eq=False)
class ObjectScores:
    """Per live row of an object set: its object id, class, label disagreement and duplicate
    group (-1: none; ``keeper`` marks the object each group keeps)."""

    ids: np.ndarray
    sample_ids: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    disagreement: np.ndarray
    group: np.ndarray
    keeper: np.ndarray
    k: int


def label_disagreement(rows: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per row of a kNN graph (itself in column 0, -1 for no neighbour): the share of its
    neighbours whose label differs from its own (NaN without neighbours)."""
    neighbours = rows[:, 1:]
    found = neighbours >= 0
    differs = (labels[neighbours.clip(0)] != labels[:, None]) & found
    counts = found.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, differs.sum(axis=1) / counts, np.nan).astype(np.float32)


def object_scores_job(
    project: Project,
    embedding_set: EmbeddingSet,
    cancel: CancelToken,
    k: int = DISAGREEMENT_K,
    threshold: float = DUPLICATE_THRESHOLD,
    live: LiveRows | None = None,
) -> Job[ObjectScores]:
    """Label disagreement and near-duplicate groups of the set's live objects; the
    disagreement is stored in the set's folder."""
    if k < 1:
        raise SieveError(f"k must be at least 1, not {k}")
    if not 0.0 < threshold <= 1.0:
        raise SieveError(
            f"the duplicate threshold is a cosine similarity in (0, 1], not {threshold}"
        )
    live = embedding_set.live(project) if live is None else live
    columns = object_columns(project, embedding_set, live.ids)
    yield Progress("object scores", 0, None, "loading the neighbour index")
    neighbours = NeighborIndex.for_set(embedding_set, live, cancel)
    rows, similarities = yield from knn_graph_job(
        neighbours.vectors, k + 1, neighbours.index, cancel
    )
    cancel.raise_if_cancelled()
    disagreement = label_disagreement(rows, columns.labels)
    group, keeper = duplicate_groups(rows, similarities, threshold)
    stored = np.full(len(embedding_set.ids()), np.nan, dtype=np.float32)
    stored[live.rows] = disagreement
    embedding_set.arrays.save(DISAGREEMENT, stored)
    embedding_set.arrays.save(f"{DISAGREEMENT}_k", np.array([k], dtype=np.int64))
    flagged = int((disagreement > 0.5).sum())
    yield Progress("object scores", 1, 1, f"{flagged:,} objects disagree with most neighbours")
    return ObjectScores(
        live.ids,
        columns.sample_ids,
        columns.labels,
        columns.classes,
        disagreement,
        group,
        keeper,
        k,
    )


def stored_disagreement(embedding_set: EmbeddingSet) -> tuple[np.ndarray, int] | None:
    """``(disagreement per set row, k)`` as last stored, or None."""
    values = embedding_set.arrays.load(DISAGREEMENT)
    k = embedding_set.arrays.load(f"{DISAGREEMENT}_k")
    if values is None or k is None or len(values) != len(embedding_set.ids()):
        return None
    return np.asarray(values), int(k[0])


def iou_with_truth(project: Project, objects: ObjectArrays, truth: AnnotationSource) -> np.ndarray:
    """Per object of ``objects`` (any order): its largest IoU with an object of the same class
    of ``truth`` on the same sample; 0 where there is none."""
    gt = object_arrays(project, truth.id)
    best = np.zeros(len(objects), dtype=np.float32)
    if not len(gt) or not len(objects):
        return best
    gt_classes = np.array(gt.classes, dtype=object)[gt.labels]
    classes = np.array(objects.classes, dtype=object)[objects.labels]
    order = np.argsort(objects.sample_ids, kind="stable")
    samples, starts = np.unique(objects.sample_ids[order], return_index=True)
    ends = np.append(starts[1:], len(order))
    low = np.searchsorted(gt.sample_ids, samples, side="left")
    high = np.searchsorted(gt.sample_ids, samples, side="right")
    for start, end, first, last in zip(starts, ends, low, high, strict=True):
        if first == last:
            continue
        rows = order[start:end]
        overlap = iou_matrix(objects.boxes[rows], gt.boxes[first:last])
        same = classes[rows][:, None] == gt_classes[first:last][None, :]
        best[rows] = np.where(same, overlap, 0.0).max(axis=1)
    return best


def rare_object_scores(project: Project, source: AnnotationSource) -> tuple[np.ndarray, np.ndarray]:
    """``(sample ids, rare_objects)``: per image with objects of ``source``, the sum over its
    objects of 1 / (objects of that class in the source)."""
    objects = object_arrays(project, source.id)
    if not len(objects):
        raise SieveError(f"the annotations {source.name!r} have no objects")
    frequency = np.bincount(objects.labels, minlength=len(objects.classes)).astype(np.float64)
    weights = 1.0 / frequency[objects.labels]
    samples, at = np.unique(objects.sample_ids, return_inverse=True)
    return samples, np.bincount(at, weights=weights, minlength=len(samples))


def store_rare_objects(project: Project, source: AnnotationSource) -> tuple[np.ndarray, np.ndarray]:
    """Compute :func:`rare_object_scores` and store them as the per-sample score
    ``rare_objects`` (images without objects get 0); returns them."""
    samples, values = rare_object_scores(project, source)
    every = np.array([row.id for row in project.samples(status="ok")], dtype=np.int64)
    full = np.zeros(len(every), dtype=np.float64)
    inside = np.isin(every, samples)
    full[inside] = values[np.searchsorted(samples, every[inside])]
    write_scores(project, every, {RARE_OBJECTS: full})
    return samples, values
