"""Class balance for selection: per-row class membership, target shares and running counts.

A row belongs to one class (labels) or spreads over classes (probabilities, rows normalised to
sum 1); unknown rows belong to none. The *need* of class k is ``t_k / (t_k + p_k)``, ``t`` the
target shares and ``p`` the current shares among preselected + chosen samples: 1 for a class
not chosen yet, 1/2 at its target, towards 0 far above it. A row's need is its class's (its
probability-weighted mean for probabilities), so picking the neediest row again and again
drives the shares to the target. Unknown rows get the need of the least needy class with a
target share: balancing never prefers them, and does not shut them out either.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import numpy as np

from app.core.errors import SieveError

NEUTRAL = 0.5  # the need of unknown rows when no class has a target share


class BalanceState:
    """Membership (codes or probabilities), target shares and the counts so far."""

    def __init__(
        self, labels_or_probabilities: np.ndarray, target: str | Mapping, count: int
    ) -> None:
        array = np.asarray(labels_or_probabilities)
        if len(array) != count:
            raise SieveError(f"Balancing: {len(array)} labels for {count} samples")
        self.codes: np.ndarray | None = None
        self.probabilities: np.ndarray | None = None
        if array.ndim == 2:
            self.probabilities = _probabilities(array)
            self.known = self.probabilities.any(axis=1)
            classes: np.ndarray = np.arange(array.shape[1])
            totals = self.probabilities.sum(axis=0, dtype=np.float64)
        elif array.ndim == 1:
            self.codes, classes = _codes(array)
            totals = np.bincount(self.codes[self.codes >= 0], minlength=len(classes))
        else:
            raise SieveError(
                f"Balancing: expected labels (N) or class probabilities (N x C), got {array.shape}"
            )
        self.target = _target(target, classes, totals.astype(np.float64))
        self.counts = np.zeros(len(classes), dtype=np.float64)

    def add(self, rows: np.ndarray) -> None:
        """Count ``rows`` as selected."""
        if self.codes is not None:
            codes = self.codes[rows]
            self.counts += np.bincount(codes[codes >= 0], minlength=len(self.counts))
        elif self.probabilities is not None:
            self.counts += self.probabilities[rows].sum(axis=0, dtype=np.float64)

    def shares(self) -> np.ndarray:
        total = self.counts.sum()
        return self.counts / total if total > 0 else np.zeros_like(self.counts)

    def class_need(self) -> np.ndarray:
        """The need of each class, then that of unknown rows (C + 1 values)."""
        shares, target = self.shares(), self.target
        denominator = target + shares
        table = np.divide(target, denominator, out=np.zeros_like(target), where=denominator > 0)
        wanted = table[target > 0]
        return np.append(table, wanted.min() if len(wanted) else NEUTRAL)

    def need(self) -> np.ndarray:
        """Every row's need (see the module docstring), float64."""
        table = self.class_need()
        if self.codes is not None:
            return table[self.codes]
        assert self.probabilities is not None
        return np.where(self.known, self.probabilities @ table[:-1], table[-1])


def _codes(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(class code per row, -1 when unknown; the sorted classes)``."""
    if labels.dtype == object:
        unknown = np.equal(labels, None) | np.not_equal(labels, labels)
        known = labels[~unknown]
        typed = np.asarray(known.tolist()) if len(known) else np.zeros(0, dtype=np.int64)
        if typed.dtype == object or typed.ndim != 1:
            raise SieveError("Balancing: labels must all be numbers or all be strings")
        codes = np.full(len(labels), -1, dtype=np.int64)
        known_codes, classes = _codes(typed)
        codes[np.flatnonzero(~unknown)] = known_codes
        return codes, classes
    if labels.dtype.kind in "US":
        classes, codes = np.unique(labels, return_inverse=True)
        return codes.astype(np.int64), classes
    if labels.dtype.kind not in "biuf":
        raise SieveError(f"Balancing: unsupported label type {labels.dtype}")
    unknown = np.isnan(labels) | (labels < 0) if labels.dtype.kind == "f" else labels < 0
    classes, inverse = np.unique(labels[~unknown], return_inverse=True)
    codes = np.full(len(labels), -1, dtype=np.int64)
    codes[~unknown] = inverse
    return codes, classes


def _probabilities(array: np.ndarray) -> np.ndarray:
    """Rows normalised to sum 1 (all-zero rows stay zero: unknown)."""
    if not np.issubdtype(array.dtype, np.number):
        raise SieveError("Balancing: class probabilities must be numbers")
    array = array.astype(np.float32)
    if not np.isfinite(array).all() or (array < 0).any():
        raise SieveError("Balancing: class probabilities must be finite and not negative")
    sums = array.sum(axis=1, keepdims=True)
    return np.divide(array, sums, out=np.zeros_like(array), where=sums > 0)


def _target(target: str | Mapping, classes: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Target shares per class (summing to 1, or all zero when there is no class)."""
    if isinstance(target, str):
        if target == "uniform":
            shares = np.ones(len(classes))
        elif target == "input":
            shares = totals
        else:
            raise SieveError(f"Balancing: target {target!r}: 'uniform', 'input' or a dict")
    elif isinstance(target, Mapping):
        shares = np.zeros(len(classes))
        for key, share in target.items():
            shares[_class_position(key, classes)] = _share(key, share)
    else:
        raise SieveError("Balancing: target must be 'uniform', 'input' or {class: share}")
    total = shares.sum()
    if len(classes) and total <= 0:
        raise SieveError("Balancing: the target shares sum to zero")
    return shares / total if total > 0 else shares


def _class_position(key: Hashable, classes: np.ndarray) -> int:
    hits = np.flatnonzero(classes == key) if len(classes) else np.zeros(0, dtype=np.int64)
    if not len(hits):
        raise SieveError(f"Balancing: target class {key!r} does not occur in the labels")
    return int(hits[0])


def _share(key: Hashable, share: float) -> float:
    try:
        value = float(share)
    except (TypeError, ValueError):
        value = float("nan")
    if not np.isfinite(value) or value < 0:
        raise SieveError(f"Balancing: the share of class {key!r} must be a number >= 0")
    return value
