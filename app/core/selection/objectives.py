"""Strategies turned into per-row arrays: static factors, and the diversity and balance states.

Every objective is normalised to [0, 1] and then raised to ``|strength|``; a negative strength
uses ``1 - value`` instead. Static objectives (weighting, typicality, similarity, random) are
min-max normalised once over the candidates (they never change; LightlyOne keeps them constant).
Diversity (distance to the nearest chosen or preselected sample) and balance (the need of a
sample's class) change after every pick and are divided by their maximum over the remaining
candidates at each step.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from app.core.embeddings.neighbours import knn_graph
from app.core.embeddings.scores import typicality
from app.core.errors import SieveError
from app.core.jobs import CancelToken
from app.core.selection.strategies import (
    Random,
    Similarity,
    Strategy,
    Typicality,
    Weighting,
)
from app.core.store.embedding_sets import l2_normalise

ROW_CHUNK = 8192
MISSING_RANK = 2.0  # rows with a missing value rank below every other (scores are in [0, 1])
QUERY_CHUNK = 2048


def unit_embeddings(embeddings: np.ndarray, what: str) -> np.ndarray:
    """``embeddings`` as float32 unit rows; SieveError for bad shapes, non-finite or zero rows."""
    array = np.asarray(embeddings)
    if array.ndim != 2 or array.shape[1] == 0 or not np.issubdtype(array.dtype, np.number):
        raise SieveError(
            f"{what}: embeddings must be a 2-D numeric array (samples x dimensions), "
            f"got shape {array.shape} of {array.dtype}"
        )
    array = array.astype(np.float32, copy=False)
    finite = np.isfinite(array).all(axis=1)
    if not finite.all():
        raise SieveError(f"{what}: embedding row {int(np.argmin(finite))} is not finite")
    zero = ~array.any(axis=1)
    if zero.any():
        raise SieveError(f"{what}: embedding row {int(np.argmax(zero))} is all zeros")
    return l2_normalise(array)


def max_similarity(unit: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Each row's largest cosine similarity to ``queries`` (unit rows); -inf when none."""
    best = np.full(len(unit), -np.inf, dtype=np.float32)
    for start in range(0, len(unit), ROW_CHUNK):
        rows = unit[start : start + ROW_CHUNK]
        for first in range(0, len(queries), QUERY_CHUNK):
            sims = (queries[first : first + QUERY_CHUNK] @ rows.T).max(axis=0)
            np.maximum(best[start : start + ROW_CHUNK], sims, out=best[start : start + ROW_CHUNK])
    return best


def shape_factor(normalised: np.ndarray, strength: float) -> np.ndarray:
    """``value ** strength``, or ``(1 - value) ** -strength`` for a negative strength."""
    base = normalised if strength >= 0 else 1.0 - normalised
    return base ** abs(strength)


def static_factor(
    strategies: Sequence[Strategy],
    count: int,
    candidates: np.ndarray,
    seed: int,
    cancel: CancelToken | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(product of the static factors, rows with a missing value)`` over all ``count`` rows.

    A missing value (NaN weight) leaves its factor out of the product: such rows rank after
    all others, among themselves by the remaining factors, and score 0.
    """
    product = np.ones(count, dtype=np.float64)
    missing = np.zeros(count, dtype=bool)
    for strategy in strategies:
        raw = static_values(strategy, count, seed, cancel)
        if raw is None:
            continue
        normalised = _minmax(raw, candidates)
        absent = np.isnan(normalised)
        missing |= absent
        product *= np.where(absent, 1.0, shape_factor(np.nan_to_num(normalised), strategy.strength))
    return product, missing


def static_values(
    strategy: Strategy, count: int, seed: int, cancel: CancelToken | None = None
) -> np.ndarray | None:
    """The raw per-row values of a static strategy (None for diversity and balancing)."""
    if isinstance(strategy, Weighting):
        return weighting_values(strategy.values)
    if isinstance(strategy, Typicality):
        unit = unit_embeddings(strategy.embeddings, "Typicality")
        _, sims = knn_graph(unit, strategy.k + 1, cancel=cancel)
        return typicality(sims, strategy.k).astype(np.float64)
    if isinstance(strategy, Similarity):
        unit = unit_embeddings(strategy.embeddings, "Similarity")
        return max_similarity(unit, _queries(strategy.query, unit)).astype(np.float64)
    if isinstance(strategy, Random):
        own = seed if strategy.seed is None else strategy.seed
        return np.random.default_rng(own).random(count)
    return None


def weighting_values(values: np.ndarray) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1 or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise SieveError(f"Weighting: values must be a 1-D numeric array, got shape {array.shape}")
    array = array.astype(np.float64)
    if np.isinf(array).any():
        raise SieveError("Weighting: values must be finite numbers (NaN for unknown)")
    return array


def _queries(query: np.ndarray, unit: np.ndarray) -> np.ndarray:
    """Query unit vectors from embeddings or sample rows."""
    array = np.asarray(query)
    if array.ndim == 1 and np.issubdtype(array.dtype, np.integer):
        if not len(array):
            raise SieveError("Similarity: the query is empty")
        if array.min() < -len(unit) or array.max() >= len(unit):
            raise SieveError(f"Similarity: query rows must lie in [0, {len(unit)})")
        return unit[array]
    array = np.atleast_2d(array)
    if array.ndim != 2 or array.shape[1] != unit.shape[1] or not len(array):
        raise SieveError(
            f"Similarity: the query must be rows or embeddings of dimension {unit.shape[1]}, "
            f"got shape {np.asarray(query).shape}"
        )
    return unit_embeddings(array, "Similarity query")


def _minmax(values: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """(values - min) / (max - min) over the candidates; all ones when they are equal."""
    known = values[candidates]
    known = known[~np.isnan(known)]
    if not len(known):
        return np.where(np.isnan(values), np.nan, 1.0)
    low, high = known.min(), known.max()
    if high <= low:
        return np.where(np.isnan(values), np.nan, 1.0)
    return np.clip((values - low) / (high - low), 0.0, 1.0)
