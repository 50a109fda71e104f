"""Per-sample scores from a kNN graph: near-duplicate groups, typicality, uniqueness, outliers.

:func:`score_job` computes them for an embedding set and stores them per sample.

Everything is computed from each row's k nearest rows (memory N x k, never N x N):

- near-duplicate groups: connected components of the edges whose cosine similarity reaches a
  threshold; the member with the lowest sample id is the group's keeper;
- typicality: mean cosine similarity to the k nearest other samples (LightlyStudio: k = 20);
- uniqueness: distances to the 3 nearest weighted 0.6 / 0.3 / 0.1, divided by the largest
  (FiftyOne's definition; euclidean distance between unit vectors);
- outlier: typicality below Q1 - 1.5 IQR (Tukey's fence).

The stored keys (:data:`STORED_KEYS`) record the set they came from (see
:func:`app.core.store.embedding_sets.stale_scores`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from app.core.embeddings.neighbours import NeighborIndex, knn_graph_job
from app.core.errors import SieveError
from app.core.jobs import CancelToken, Job, Progress
from app.core.store.embedding_sets import EmbeddingSet, LiveRows, record_score_source
from app.core.store.metadata import write_scores
from app.core.store.project import Project

UNIQUENESS_WEIGHTS = np.array([0.6, 0.3, 0.1], dtype=np.float32)
TYPICALITY_K = 20
DUPLICATE_THRESHOLD = 0.95
NO_GROUP = -1
STORED_KEYS = ("typicality", "uniqueness", "outlier", "duplicate_group", "duplicate_keeper")


@dataclass
class Scores:
    """Per-row scores (rows in embedding-set order)."""

    typicality: np.ndarray
    uniqueness: np.ndarray
    outlier: np.ndarray
    duplicate_group: np.ndarray
    duplicate_keeper: np.ndarray


def typicality(similarities: np.ndarray, k: int = TYPICALITY_K) -> np.ndarray:
    """Mean similarity to the ``k`` nearest others (column 0 of the graph is the row itself)."""
    others = similarities[:, 1 : k + 1]
    return others.mean(axis=1).astype(np.float32) if others.shape[1] else _zeros(len(others))


def uniqueness(similarities: np.ndarray) -> np.ndarray:
    """FiftyOne's uniqueness in [0, 1]: weighted distance to the 3 nearest, over the maximum."""
    nearest = similarities[:, 1:4]
    if not nearest.shape[1]:
        return _zeros(len(similarities))
    distances = np.sqrt(np.clip(2.0 - 2.0 * nearest, 0.0, None))
    weights = UNIQUENESS_WEIGHTS[: nearest.shape[1]]
    raw = (distances * (weights / weights.sum())).sum(axis=1)
    top = raw.max()
    return (raw / top if top > 0 else raw).astype(np.float32)


def outliers(typical: np.ndarray) -> np.ndarray:
    """Tukey's lower fence on typicality: True for rows far less typical than the rest."""
    if len(typical) < 4:
        return np.zeros(len(typical), dtype=bool)
    low, high = np.percentile(typical, [25, 75])
    return typical < low - 1.5 * (high - low)


def duplicate_groups(
    rows: np.ndarray, similarities: np.ndarray, threshold: float = DUPLICATE_THRESHOLD
) -> tuple[np.ndarray, np.ndarray]:
    """``(group per row, keeper flags)``: group numbers from 0, :data:`NO_GROUP` for singletons.

    Groups are numbered in order of their keeper (the member with the lowest row).
    """
    count = len(rows)
    source = np.repeat(np.arange(count), rows.shape[1])
    target = rows.ravel()
    keep = (similarities.ravel() >= threshold) & (target >= 0) & (target != source)
    graph = coo_matrix(
        (np.ones(int(keep.sum()), dtype=np.int8), (source[keep], target[keep])),
        shape=(count, count),
    )
    _, component = connected_components(graph, directed=True, connection="weak")
    sizes = np.bincount(component, minlength=component.max() + 1 if count else 0)
    grouped = sizes[component] > 1
    first_row = np.full(len(sizes), count, dtype=np.int64)
    np.minimum.at(first_row, component, np.arange(count))
    group = np.full(count, NO_GROUP, dtype=np.int64)
    if grouped.any():
        keepers = np.unique(first_row[component[grouped]])
        number = np.searchsorted(keepers, first_row[component[grouped]])
        group[grouped] = number
    keeper = grouped & (first_row[component] == np.arange(count))
    return group, keeper


def compute_scores(
    rows: np.ndarray,
    similarities: np.ndarray,
    threshold: float = DUPLICATE_THRESHOLD,
    k: int = TYPICALITY_K,
) -> Scores:
    """Every score from one kNN graph (``rows``/``similarities`` from ``knn_graph``)."""
    typical = typicality(similarities, k)
    group, keeper = duplicate_groups(rows, similarities, threshold)
    return Scores(typical, uniqueness(similarities), outliers(typical), group, keeper)


def _zeros(count: int) -> np.ndarray:
    return np.zeros(count, dtype=np.float32)


def score_job(
    project: Project,
    embedding_set: EmbeddingSet,
    cancel: CancelToken,
    threshold: float = DUPLICATE_THRESHOLD,
    k: int = TYPICALITY_K,
    live: LiveRows | None = None,
) -> Job[Scores]:
    """Compute every score of the set's ``live`` rows (default: those whose samples are usable)
    and store them per sample (metadata keys); the scores' rows are ``live``'s rows."""
    if not 0.0 < threshold <= 1.0:
        raise SieveError(
            f"the duplicate threshold is a cosine similarity in (0, 1], not {threshold}"
        )
    yield Progress("scores", 0, None, "loading the neighbour index")
    live = embedding_set.live(project) if live is None else live
    neighbours = NeighborIndex.for_set(embedding_set, live)
    rows, similarities = yield from knn_graph_job(
        neighbours.vectors, k + 1, neighbours.index, cancel
    )
    cancel.raise_if_cancelled()
    scores = compute_scores(rows, similarities, threshold, k)
    grouped = scores.duplicate_group >= 0
    yield Progress("scores", 0, None, "saving scores")
    stored = (
        scores.typicality,
        scores.uniqueness,
        scores.outlier.astype(np.int64),
        np.where(grouped, scores.duplicate_group, np.nan),
        scores.duplicate_keeper.astype(np.int64),
    )
    write_scores(project, neighbours.ids, dict(zip(STORED_KEYS, stored, strict=True)))
    record_score_source(project, embedding_set.id, STORED_KEYS)
    groups = int(scores.duplicate_group.max()) + 1 if grouped.any() else 0
    extra = int(grouped.sum()) - groups
    outliers = int(scores.outlier.sum())
    message = f"{groups:,} near-duplicate groups ({extra:,} extra copies), {outliers:,} outliers"
    yield Progress("scores", 1, 1, message)
    return scores
