"""Selections without embeddings: static factors (one sort), optionally with label balance.

With balance the score of a row is ``w * c[class]``: ``w`` the fixed product of the static
factors, ``c`` its class's balancing factor at this step. Within a class the order never
changes, so each step only compares the best remaining row of every class.
"""

from __future__ import annotations

import numpy as np

from app.core.selection.balance import BalanceState
from app.core.selection.objectives import MISSING_RANK, shape_factor


def static_order(
    weights: np.ndarray, missing: np.ndarray, candidates: np.ndarray, count: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(the best `count` candidates in order, their scores)``: by weight, missing last."""
    rows = np.flatnonzero(candidates)
    chosen = rows[np.lexsort((rows, -weights[rows], missing[rows]))[:count]]
    return chosen, np.where(missing[chosen], 0.0, weights[chosen])


def balanced_order(
    weights: np.ndarray,
    missing: np.ndarray,
    candidates: np.ndarray,
    count: int,
    balance: BalanceState,
    strength: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``count`` candidates picked one by one by ``w * c[class]`` (labels balance)."""
    assert balance.codes is not None
    classes = len(balance.counts)
    codes = np.where(balance.codes < 0, classes, balance.codes)
    rows = np.flatnonzero(candidates)
    ranked = rows[np.lexsort((rows, -weights[rows], missing[rows], codes[rows]))]
    bounds = np.searchsorted(codes[ranked], np.arange(classes + 2))
    heads, ends = bounds[:-1].copy(), bounds[1:]
    live = candidates.copy()
    picks: list[int] = []
    scores: list[float] = []
    while len(picks) < count and np.any(heads < ends):
        factor = _class_factor(balance, heads < ends, strength)
        open_classes = np.flatnonzero(heads < ends)
        best = ranked[heads[open_classes]]
        for slot in np.flatnonzero(factor[open_classes] == 0):
            best[slot] = _lowest_live(live, codes, missing, open_classes[slot])
        rank = weights[best] * factor[open_classes] - MISSING_RANK * missing[best]
        winner = np.flatnonzero(rank == rank.max())
        slot = winner[np.argmin(best[winner])]
        row = int(best[slot])
        picks.append(row)
        scores.append(0.0 if missing[row] else float(rank[slot]))
        live[row] = False
        balance.add(np.array([row]))
        klass = open_classes[slot]
        while heads[klass] < ends[klass] and not live[ranked[heads[klass]]]:
            heads[klass] += 1
    return np.asarray(picks, dtype=np.int64), np.asarray(scores)


def _class_factor(balance: BalanceState, open_classes: np.ndarray, strength: float) -> np.ndarray:
    need = balance.class_need()
    present = need[open_classes]
    top = present.max() if len(present) else 0.0
    return shape_factor(need / top if top > 0 else np.ones_like(need), strength)


def _lowest_live(live: np.ndarray, codes: np.ndarray, missing: np.ndarray, klass: int) -> int:
    """With a zero factor every row of the class ties: the lowest live one (missing last)."""
    rows = np.flatnonzero(live & (codes == klass))
    present = rows[~missing[rows]]
    return int(present[0] if len(present) else rows[0])
