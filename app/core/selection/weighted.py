"""k-center greedy weighted by static strategies and label balance, on the lazy block state.

A candidate's score is ``(d / d_max) ** s * w * c[class]``: ``d`` its distance to the nearest
centre, ``d_max`` the largest of a live row, ``w`` the product of the static factors (fixed),
``c`` the balancing factor of its class (the same for the whole class, changing every pick).
Rows with a missing value rank after all others. Per block, class and tier (missing or not)
the state keeps ``key``, the largest ``d ** s * w`` of its live rows: exact once the block is
up to date and an upper bound while it is stale (``d`` only shrinks). A block's bound at a step
is the largest ``key * c`` over its columns, and the pick comes from the block with the highest
bound once that block is up to date, as for plain k-center greedy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.core.jobs import CancelToken
from app.core.selection.balance import BalanceState
from app.core.selection.kcenter import (
    KCenterResult,
    KCenterState,
    distance_from_similarity,
    run_greedy,
    single_threaded_blas,
)
from app.core.selection.objectives import MISSING_RANK, shape_factor
from app.core.selection.partition import Partition, partition


@dataclass
class Preference:
    """What weights the distance: static factors per row (input order), optional balance.

    ``strength`` is the diversity strength (> 0); ``balance`` a label (not probability)
    balancing state, with its own strength.
    """

    weights: np.ndarray
    missing: np.ndarray
    strength: float
    balance: BalanceState | None = None
    balance_strength: float = 1.0


def weighted_kcenter_greedy(
    unit: np.ndarray,
    count: int,
    preselected: np.ndarray,
    preference: Preference,
    min_distance: float | None = None,
    seed: int = 0,
    cancel: CancelToken | None = None,
) -> KCenterResult:
    """Pick ``count`` rows of ``unit`` maximising the weighted score (module docstring)."""
    with single_threaded_blas():
        state = WeightedState(partition(unit, seed, cancel), preselected, min_distance, preference)
        return run_greedy(state, state.best_weighted, count, cancel)


class WeightedState(KCenterState):
    """``KCenterState`` plus per-block, per-column keys (columns: tier x class)."""

    def __init__(
        self,
        part: Partition,
        preselected: np.ndarray,
        min_distance: float | None,
        preference: Preference,
    ) -> None:
        super().__init__(part, preselected, min_distance)
        order = part.order
        self.weights = preference.weights[order].astype(np.float64)
        self.missing = preference.missing[order]
        self.strength = preference.strength
        self.balance = preference.balance
        self.balance_strength = preference.balance_strength
        classes = 0 if self.balance is None else len(self.balance.counts)
        self.width = classes + 1
        codes = np.zeros(len(order), dtype=np.int64)
        if self.balance is not None and self.balance.codes is not None:
            codes = np.where(self.balance.codes < 0, classes, self.balance.codes)[order]
        self.classes = codes
        self.column = codes + self.width * self.missing
        live = self.best != np.inf
        self.live_per_class = np.bincount(codes[live], minlength=self.width)
        lengths = np.diff(part.starts)
        block_of_row = np.repeat(np.arange(len(lengths)), lengths)
        self.keys = np.full((len(lengths), 2 * self.width), -np.inf)
        if self.count == 0:
            keys = self._row_keys(0, len(order))
            np.maximum.at(self.keys, (block_of_row[live], self.column[live]), keys[live])
        else:
            self.keys[block_of_row[live], self.column[live]] = np.inf
        self.factor = np.ones(self.width)
        self.bounds = np.full(len(lengths), -np.inf)

    def best_weighted(self) -> tuple[int, float]:
        """The live row with the highest score, and that score (-1 when none is left)."""
        self.factor = self._class_factor()
        self.bounds = self._scaled(self.keys).max(axis=1)
        block = self.top_block(self.bounds, self.best_in)
        if block < 0:
            return -1, 0.0
        row = self.best_in(block)
        if self.missing[row]:
            return row, 0.0
        spread = 1.0
        if self.count:
            largest = self.largest_distance()
            distance = float(distance_from_similarity(self.best[row]))
            spread = (distance / largest) ** self.strength if largest > 0 else 1.0
        return row, spread * self.weights[row] * self.factor[self.classes[row]]

    def best_in(self, block: int) -> int:
        start, stop = self.part.starts[block], self.part.starts[block + 1]
        factor = self.factor[self.classes[start:stop]]
        ranks = _times(self._row_keys(start, stop), factor)
        ranks[self.missing[start:stop]] -= MISSING_RANK
        return int(start + np.argmax(ranks))

    def add_centre(self, row: int) -> None:
        if self.count == 0:
            self.keys[self.keys > -np.inf] = np.inf
        super().add_centre(row)
        self.live_per_class[self.classes[row]] -= 1
        if self.balance is not None:
            self.balance.add(self.part.order[row : row + 1])

    def updated(self, block: int, start: int, stop: int) -> None:
        keys = self.keys[block]
        keys[:] = -np.inf
        np.maximum.at(keys, self.column[start:stop], self._row_keys(start, stop))
        self.bounds[block] = self._scaled(keys[None])[0].max()

    def _row_keys(self, start: int, stop: int) -> np.ndarray:
        """``d ** strength * w`` of rows ``start:stop``; -inf when chosen or too near."""
        best = self.best[start:stop]
        keys = self.weights[start:stop].copy()
        if self.count:
            distances = distance_from_similarity(best)
            keys *= distances**self.strength
            if self.min_distance is not None:
                keys[distances < self.min_distance] = -np.inf
        keys[best == np.inf] = -np.inf
        return keys

    def _class_factor(self) -> np.ndarray:
        """This step's balancing factor per class (need over the largest need of a live row)."""
        if self.balance is None:
            return np.ones(1)
        need = self.balance.class_need()
        present = need[self.live_per_class > 0]
        top = present.max() if len(present) else 0.0
        return shape_factor(need / top if top > 0 else np.ones_like(need), self.balance_strength)

    def _scaled(self, keys: np.ndarray) -> np.ndarray:
        """Keys times their class factor, the missing tier lowered below every other."""
        scaled = _times(keys, np.tile(self.factor, 2))
        scaled[:, self.width :] -= MISSING_RANK
        return scaled


def _times(keys: np.ndarray, factor: np.ndarray) -> np.ndarray:
    """``keys * factor`` where a zero factor gives 0 even for an infinite bound (-inf stays)."""
    with np.errstate(invalid="ignore"):
        product = keys * factor
    return np.where(factor > 0, product, np.where(keys == -np.inf, -np.inf, 0.0))
