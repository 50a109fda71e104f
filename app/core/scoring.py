"""The scoring job: kNN graph of an embedding set -> per-sample scores in the project store."""

from __future__ import annotations

import numpy as np

from app.core.errors import SieveError
from app.core.jobs import CancelToken, Job, Progress
from app.core.neighbors import NeighborIndex, knn_graph_job
from app.core.scores import DUPLICATE_THRESHOLD, TYPICALITY_K, Scores, compute_scores
from app.core.store.embedding_sets import EmbeddingSet, LiveRows
from app.core.store.metadata import write_scores
from app.core.store.project import Project

SCORE_KEYS = ("typicality", "uniqueness", "outlier", "duplicate_group", "duplicate_keeper")


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
    write_scores(
        project,
        neighbours.ids,
        {
            "typicality": scores.typicality,
            "uniqueness": scores.uniqueness,
            "outlier": scores.outlier.astype(np.int64),
            "duplicate_group": np.where(grouped, scores.duplicate_group, np.nan),
            "duplicate_keeper": scores.duplicate_keeper.astype(np.int64),
        },
    )
    groups = int(scores.duplicate_group.max()) + 1 if grouped.any() else 0
    extra = int(grouped.sum()) - groups
    outliers = int(scores.outlier.sum())
    message = f"{groups:,} near-duplicate groups ({extra:,} extra copies), {outliers:,} outliers"
    yield Progress("scores", 1, 1, message)
    return scores
