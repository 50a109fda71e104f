"""Choose which samples to label: greedy selection combining strategies (LightlyOne's scheme).

``select(n, strategies, preselected, seed)`` picks one sample at a time. At each step every
strategy scores the remaining candidates, each score is normalised to [0, 1] and raised to its
``|strength|`` (``1 - score`` for a negative strength), and the pick maximises the product.
Threshold conditions (Diversity's ``min_distance``) come first: candidates that fail them are
out, and when none is left the selection stops early. Preselected samples (already labelled)
count for diversity and balance but are never returned. Rows with a NaN weight rank after all
others. Equal scores go to the lowest row, so a selection depends on ``seed`` only through
``Random`` strategies without their own seed.

Paths, all giving the same picks as the plain greedy loop (up to float ties):

- one Diversity (positive strength), alone: exact k-center greedy accelerated with block bounds
  (``selection_kcenter``); with static strategies and/or one label Balancing: the same lazy
  blocks with weighted bounds (``selection_weighted``);
- no Diversity: static strategies (weighting, typicality, similarity, random) in one sort, with
  one label Balancing per-class sorted lists (``selection_ranking``);
- anything else (several Diversity strategies, a negative diversity strength, class
  probabilities, several Balancing strategies): a vectorised pass over all rows per pick.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from app.core.jobs import CancelToken
from app.core.selection.balance import BalanceState
from app.core.selection.inputs import (
    check_parameters,
    preselected_rows,
    sample_count,
    strategy_list,
    wanted_count,
)
from app.core.selection.kcenter import kcenter_greedy
from app.core.selection.objectives import static_factor, unit_embeddings
from app.core.selection.plain import plain_greedy
from app.core.selection.ranking import balanced_order, static_order
from app.core.selection.strategies import (
    Balancing,
    Diversity,
    Random,
    Similarity,
    Strategy,
    Typicality,
    Weighting,
)
from app.core.selection.weighted import Preference, weighted_kcenter_greedy

__all__ = [
    "Balancing",
    "Diversity",
    "Random",
    "Selection",
    "Similarity",
    "Typicality",
    "Weighting",
    "select",
]


@dataclass(frozen=True, eq=False)
class Selection:
    """The chosen rows in pick order and what each pick scored.

    ``scores``: the combined objective of each pick (float32, in [0, 1]; the pick of a pure
    diversity selection always scores 1). ``distances``: with a Diversity strategy, each pick's
    distance to the nearest earlier pick or preselected sample (inf for a first pick without
    preselected samples), else None. ``stopped_early``: fewer than ``n`` rows were chosen;
    ``reason`` says why (or what was done).
    """

    indices: np.ndarray
    scores: np.ndarray
    distances: np.ndarray | None
    stopped_early: bool
    reason: str


def select(
    n: int,
    strategies: Sequence[Strategy] | Strategy,
    preselected: Sequence[int] | np.ndarray = (),
    seed: int = 0,
    cancel: CancelToken | None = None,
) -> Selection:
    """Choose ``n`` new rows by the combined ``strategies`` (see the module docstring).

    ``cancel`` is checked between picks and between the chunks of a kNN graph (JobCancelled).
    """
    wanted = wanted_count(n)
    strategies = strategy_list(strategies)
    count = sample_count(strategies)
    pre = preselected_rows(preselected, count)
    active = [s for s in strategies if s.strength != 0 or isinstance(s, Diversity)]
    for strategy in active:
        check_parameters(strategy)
    diversity = [s for s in active if isinstance(s, Diversity)]
    balancing = [s for s in active if isinstance(s, Balancing)]
    statics = [s for s in active if not isinstance(s, (Diversity, Balancing))]
    by_labels = not balancing or (len(balancing) == 1 and _is_labels(balancing[0]))
    distances = None
    if len(diversity) == 1 and diversity[0].strength > 0 and by_labels:
        rows, scores, distances, reason = _kcenter(
            diversity[0], statics, balancing, wanted, count, pre, seed, cancel
        )
    elif not diversity and by_labels:
        rows, scores = _ranked(statics, balancing, wanted, count, pre, seed, cancel)
        reason = ""
    else:
        rows, scores, distances, reason = plain_greedy(active, wanted, count, pre, seed, cancel)
    stopped = len(rows) < wanted
    if not reason:
        reason = f"chose {len(rows):,} samples" if not stopped else "no candidates left"
    return Selection(rows, scores.astype(np.float32), distances, stopped, reason)


def _kcenter(
    strategy: Diversity,
    statics: list[Strategy],
    balancing: list[Balancing],
    wanted: int,
    count: int,
    pre: np.ndarray,
    seed: int,
    cancel: CancelToken | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Diversity, alone or weighted by static strategies and label balance: the accelerated
    k-center greedy."""
    unit = unit_embeddings(strategy.embeddings, "Diversity")
    limit = strategy.min_distance
    if not statics and not balancing:
        result = kcenter_greedy(unit, wanted, pre, limit, seed, cancel)
    else:
        weights, missing = static_factor(statics, count, _candidates(count, pre), seed, cancel)
        balance = _balance_state(balancing[0], count, pre) if balancing else None
        balance_strength = float(balancing[0].strength) if balancing else 1.0
        preference = Preference(
            weights, missing, float(strategy.strength), balance, balance_strength
        )
        result = weighted_kcenter_greedy(unit, wanted, pre, preference, limit, seed, cancel)
    return result.rows, result.scores, result.distances, result.reason


def _ranked(
    statics: list[Strategy],
    balancing: list[Balancing],
    wanted: int,
    count: int,
    pre: np.ndarray,
    seed: int,
    cancel: CancelToken | None,
) -> tuple[np.ndarray, np.ndarray]:
    """No embeddings to update: one sort, or per-class sorted lists for label balance."""
    candidates = _candidates(count, pre)
    weights, missing = static_factor(statics, count, candidates, seed, cancel)
    if not balancing:
        return static_order(weights, missing, candidates, wanted)
    state = _balance_state(balancing[0], count, pre)
    strength = float(balancing[0].strength)
    return balanced_order(weights, missing, candidates, wanted, state, strength)


def _is_labels(strategy: Balancing) -> bool:
    return np.ndim(strategy.labels_or_probabilities) == 1


def _balance_state(strategy: Balancing, count: int, pre: np.ndarray) -> BalanceState:
    state = BalanceState(strategy.labels_or_probabilities, strategy.target, count)
    state.add(pre)
    return state


def _candidates(count: int, pre: np.ndarray) -> np.ndarray:
    live = np.ones(count, dtype=bool)
    live[pre] = False
    return live
