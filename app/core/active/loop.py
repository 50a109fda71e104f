"""Active learning without external predictions: which samples to label next.

Labels come from folder names or from tags (one tag per class). A linear probe
(:mod:`app.core.active.probe`) fitted on the labelled samples gives class probabilities for all;
the next batch is picked by :func:`app.core.selection.select.select` with the labelled samples
preselected (they count for diversity, are never picked again).

Strategies (``u`` is margin uncertainty from the probe, ``t`` typicality with k = 20, ``d``
k-center diversity, each normalised to [0, 1]; objectives multiply, see
:mod:`app.core.selection.select`):

- ``random``; ``diversity``: d; ``uncertainty``: u; ``uncertainty+diversity``: u * d;
- ``typicality+diversity``: t^3 * d (no probe needed: a cold start);
- ``margin+typicality+diversity``: u * t^3 * d.

Typicality is cubed (:data:`TYPICALITY_STRENGTH`) because diversity alone picks outliers: on
Fashion-MNIST (PCA-64 and PCA-32 of the pixels, 3 seeds, 220 labels) u * t * d beat random by
1.6 / 1.3 points, u * t^2 * d by 2.8 / 2.2, u * t^3 * d by 3.8 / 3.2 (and led at most rounds).

:data:`RECOMMENDED` is the winner of ``tests/perf/bench_select_active.py``.
"""

from __future__ import annotations

import numpy as np

from app.core.active.probe import fit_probe
from app.core.active.strategies import (
    MARGIN_TYPICALITY_DIVERSITY,
    RANDOM,
    RECOMMENDED,
    STRATEGIES,
    TYPICALITY_DIVERSITY,
    TYPICALITY_STRENGTH,
    UNCERTAINTY,
    UNCERTAINTY_DIVERSITY,
)
from app.core.active.uncertainty import margin
from app.core.embeddings.neighbours import knn_graph
from app.core.embeddings.scores import TYPICALITY_K
from app.core.embeddings.scores import typicality as mean_similarity
from app.core.jobs import CancelToken
from app.core.selection.select import Diversity, Weighting, select
from app.core.store.embedding_sets import l2_normalise

NEEDS_PROBE = (UNCERTAINTY, UNCERTAINTY_DIVERSITY, MARGIN_TYPICALITY_DIVERSITY)
NEEDS_TYPICALITY = (TYPICALITY_DIVERSITY, MARGIN_TYPICALITY_DIVERSITY)


def pool_typicality(
    embeddings: np.ndarray, k: int = TYPICALITY_K, cancel: CancelToken | None = None
) -> np.ndarray:
    """Mean cosine similarity of every row to its ``k`` nearest others."""
    unit = l2_normalise(np.asarray(embeddings, dtype=np.float32))
    _, similarities = knn_graph(unit, k + 1, cancel=cancel)
    return mean_similarity(similarities, k)


def uncertainty(probabilities: np.ndarray) -> np.ndarray:
    """Margin uncertainty ``1 - (p1 - p2)`` per row (0 everywhere for a single class)."""
    if probabilities.shape[1] < 2:
        return np.zeros(len(probabilities), dtype=np.float32)
    return margin(probabilities)


def next_batch(
    embeddings: np.ndarray,
    labelled_rows: np.ndarray,
    labels: np.ndarray,
    n: int,
    strategy: str = RECOMMENDED,
    seed: int = 0,
    probabilities: np.ndarray | None = None,
    typicality: np.ndarray | None = None,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """Rows to label next (int64, in pick order), never one of ``labelled_rows``.

    ``labels`` are the classes of ``labelled_rows``. ``probabilities`` (N x C) and
    ``typicality`` (N) are computed when a strategy needs them and they are not given.
    ``cancel`` reaches the probe fit, the kNN graph and the selection (JobCancelled).
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}: {', '.join(STRATEGIES)}")
    labelled_rows = np.asarray(labelled_rows, dtype=np.int64)
    n = min(int(n), len(embeddings) - len(np.unique(labelled_rows)))
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    if strategy == RANDOM:
        free = np.setdiff1d(np.arange(len(embeddings)), labelled_rows)
        return np.random.default_rng(seed).choice(free, n, replace=False).astype(np.int64)
    objectives = []
    if strategy in NEEDS_PROBE:
        if probabilities is None:
            probabilities = _probe_probabilities(embeddings, labelled_rows, labels, cancel)
        objectives.append(Weighting(uncertainty(probabilities)))
    if strategy in NEEDS_TYPICALITY:
        if typicality is None:
            typicality = pool_typicality(embeddings, cancel=cancel)
        objectives.append(Weighting(typicality, strength=TYPICALITY_STRENGTH))
    if strategy != UNCERTAINTY:
        objectives.append(Diversity(embeddings))
    picked = select(n, objectives, preselected=labelled_rows, seed=seed, cancel=cancel)
    return np.asarray(picked.indices, dtype=np.int64)


def _probe_probabilities(
    embeddings: np.ndarray,
    labelled_rows: np.ndarray,
    labels: np.ndarray,
    cancel: CancelToken | None,
) -> np.ndarray:
    if not len(labelled_rows):
        return np.ones((len(embeddings), 1), dtype=np.float32)
    probe = fit_probe(np.asarray(embeddings)[labelled_rows], labels, cancel=cancel)
    return probe.probabilities(embeddings)
