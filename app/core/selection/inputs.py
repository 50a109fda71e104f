"""Checks of select()'s arguments: errors the user can cause, as readable SieveErrors."""

from __future__ import annotations

import operator
from collections.abc import Sequence

import numpy as np

from app.core.errors import SieveError
from app.core.selection.objectives import weighting_values
from app.core.selection.strategies import (
    Balancing,
    Diversity,
    Random,
    Similarity,
    Strategy,
    Typicality,
    Weighting,
)

STRATEGY_TYPES = (Diversity, Typicality, Similarity, Weighting, Balancing, Random)


def wanted_count(n: int) -> int:
    """``n`` as a count (SieveError unless a non-negative integer)."""
    return _non_negative(n, "the number of samples to select")


def strategy_list(strategies: Sequence[Strategy] | Strategy) -> list[Strategy]:
    """The strategies as a list (one may be given alone), each with a finite strength."""
    items = [strategies] if isinstance(strategies, STRATEGY_TYPES) else list(strategies)
    if not items:
        raise SieveError("select needs at least one strategy")
    for item in items:
        if not isinstance(item, STRATEGY_TYPES):
            raise SieveError(f"not a selection strategy: {item!r}")
        strength = item.strength
        if isinstance(strength, bool) or not isinstance(strength, (int, float, np.number)):
            raise SieveError(f"{type(item).__name__}: strength must be a number")
        if not np.isfinite(strength):
            raise SieveError(f"{type(item).__name__}: strength must be finite")
    return items


def sample_count(strategies: list[Strategy]) -> int:
    """The number of samples all strategies describe (SieveError when they disagree)."""
    counts = {type(s).__name__: n for s in strategies if (n := _rows_of(s)) is not None}
    if not counts:
        raise SieveError("Random alone needs the number of samples: Random(seed, count=N)")
    if len(set(counts.values())) > 1:
        sizes = ", ".join(f"{name} {n:,}" for name, n in counts.items())
        raise SieveError(f"the strategies describe different numbers of samples: {sizes}")
    return next(iter(counts.values()))


def _rows_of(strategy: Strategy) -> int | None:
    if isinstance(strategy, Random):
        return None if strategy.count is None else _non_negative(strategy.count, "Random: count")
    if isinstance(strategy, (Diversity, Typicality, Similarity)):
        shape = np.shape(strategy.embeddings)
        if len(shape) != 2:
            raise SieveError(f"{type(strategy).__name__}: embeddings must be 2-D, got {shape}")
        return shape[0]
    if isinstance(strategy, Weighting):
        return len(weighting_values(strategy.values))
    return len(np.asarray(strategy.labels_or_probabilities))


def _non_negative(value: int, what: str) -> int:
    try:
        count = operator.index(value)
    except TypeError:
        raise SieveError(f"{what} must be an integer, got {value!r}") from None
    if count < 0:
        raise SieveError(f"{what} must not be negative ({count})")
    return count


def preselected_rows(preselected: Sequence[int] | np.ndarray, count: int) -> np.ndarray:
    """The unique preselected rows, int64 (SieveError when not rows of ``count`` samples)."""
    array = np.asarray(preselected)
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
        raise SieveError("preselected must be a 1-D list of row numbers")
    if array.min() < 0 or array.max() >= count:
        raise SieveError(f"preselected rows must lie in [0, {count})")
    return np.unique(array.astype(np.int64))


def check_parameters(strategy: Strategy) -> None:
    """Parameters that are wrong whatever the data (SieveError)."""
    k = getattr(strategy, "k", 1)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise SieveError(f"Typicality: k must be a positive integer, got {strategy.k!r}")
    if isinstance(strategy, Diversity) and strategy.min_distance is not None:
        limit = strategy.min_distance
        if isinstance(limit, bool) or not isinstance(limit, (int, float, np.number)):
            raise SieveError("Diversity: min_distance must be a number or None")
        if not np.isfinite(limit) or limit < 0:
            raise SieveError(f"Diversity: min_distance must be >= 0, got {limit}")
