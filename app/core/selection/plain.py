"""The plain greedy loop: one vectorised pass over all rows per pick.

For the combinations the accelerated paths do not cover (several Diversity strategies, a
negative diversity strength, class probabilities, several Balancing strategies). Memory N per
strategy; time N x D per pick for each Diversity.
"""

from __future__ import annotations

import numpy as np

from app.core.jobs import CancelToken
from app.core.selection.balance import BalanceState
from app.core.selection.kcenter import distance_from_similarity
from app.core.selection.objectives import (
    MISSING_RANK,
    max_similarity,
    shape_factor,
    static_factor,
    unit_embeddings,
)
from app.core.selection.strategies import Balancing, Diversity, Strategy


def plain_greedy(
    strategies: list[Strategy],
    wanted: int,
    count: int,
    pre: np.ndarray,
    seed: int,
    cancel: CancelToken | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, str]:
    """One vectorised pass over all rows per pick (diversity and balance change each step);
    ``cancel`` is checked before every pick (JobCancelled)."""
    live = np.ones(count, dtype=bool)
    live[pre] = False
    product, missing = static_factor(strategies, count, live, seed, cancel)
    states: list[DiversityState | BalanceFactor] = []
    for strategy in strategies:
        if isinstance(strategy, Diversity):
            unit = unit_embeddings(strategy.embeddings, "Diversity")
            states.append(DiversityState(strategy, unit, pre))
        elif isinstance(strategy, Balancing):
            states.append(BalanceFactor(strategy, count, pre))
    first = next((s for s in states if isinstance(s, DiversityState)), None)
    rows: list[int] = []
    scores: list[float] = []
    distances: list[float] = []
    reason = ""
    while len(rows) < wanted and live.any():
        if cancel is not None:
            cancel.raise_if_cancelled()
        score = product.copy()
        allowed = live.copy()
        for state in states:
            factor, passing = state.factor(live)
            score *= factor
            if passing is not None:
                allowed &= passing
        if not allowed.any():
            reason = _threshold_reason(states)
            break
        rank = np.where(missing, score - MISSING_RANK, score)
        rank[~allowed] = -np.inf
        row = int(np.argmax(rank))
        if first is not None:
            distances.append(float(first.distances()[row]))
        rows.append(row)
        scores.append(0.0 if missing[row] else float(score[row]))
        live[row] = False
        for state in states:
            state.chosen(row)
    picked = np.asarray(rows, dtype=np.int64)
    spread = np.asarray(distances, dtype=np.float32) if first is not None else None
    return picked, np.asarray(scores), spread, reason


def _threshold_reason(states: list[DiversityState | BalanceFactor]) -> str:
    limits = [
        s.strategy.min_distance
        for s in states
        if isinstance(s, DiversityState) and s.strategy.min_distance is not None
    ]
    return (
        f"min_distance: every remaining candidate is closer than {max(limits):g} to a chosen sample"
    )


class DiversityState:
    """Each row's largest similarity to a chosen or preselected sample, updated per pick."""

    def __init__(self, strategy: Diversity, unit: np.ndarray, preselected: np.ndarray) -> None:
        self.strategy = strategy
        self.unit = unit
        self.best = max_similarity(unit, unit[preselected])

    def distances(self) -> np.ndarray:
        return distance_from_similarity(self.best)

    def factor(self, live: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """``(normalised factor, rows passing min_distance or None)``."""
        distances = self.distances()
        allowed = None
        if self.strategy.min_distance is not None:
            allowed = distances >= self.strategy.min_distance
        top = distances[live].max() if live.any() else 0.0
        if np.isinf(top):
            normalised = np.isinf(distances).astype(np.float64)
        elif top > 0:
            normalised = distances / top
        else:
            normalised = np.ones(len(distances))
        return shape_factor(normalised, self.strategy.strength), allowed

    def chosen(self, row: int) -> None:
        np.maximum(self.best, self.unit @ self.unit[row], out=self.best)


class BalanceFactor:
    """A balancing strategy's factor: class need from ``BalanceState``, over its maximum."""

    def __init__(self, strategy: Balancing, count: int, preselected: np.ndarray) -> None:
        self.strategy = strategy
        self.state = BalanceState(strategy.labels_or_probabilities, strategy.target, count)
        self.state.add(preselected)

    def factor(self, live: np.ndarray) -> tuple[np.ndarray, None]:
        need = self.state.need()
        top = need[live].max() if live.any() else 0.0
        normalised = need / top if top > 0 else np.ones(len(need))
        return shape_factor(normalised, self.strategy.strength), None

    def chosen(self, row: int) -> None:
        self.state.add(np.array([row]))
