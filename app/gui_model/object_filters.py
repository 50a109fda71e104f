"""Objects for the views, Qt-free: one source's boxes indexed by sample id, the object filter
(classes, min / max count) and class histograms. Numpy over :class:`ObjectArrays` only: no SQL
and no Python object per box, so the grid can ask per painted cell and filter a million boxes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from app.core.store.objects import ObjectArrays

_I64 = np.empty(0, dtype=np.int64)


@dataclass(frozen=True)
class ObjectFilter:
    """Samples with objects: of ``source`` (None: the ground truth), having at least one object
    of ``classes`` (empty: any class), with between ``min_count`` and ``max_count`` objects
    (counted among ``classes`` when given; None: no bound)."""

    source: str | None = None
    classes: frozenset[str] = field(default_factory=frozenset)
    min_count: int | None = None
    max_count: int | None = None

    @property
    def active(self) -> bool:
        return bool(self.classes) or self.min_count is not None or self.max_count is not None

    def with_(self, **changes: object) -> ObjectFilter:
        return replace(self, **changes)


class ObjectIndex:
    """One source's objects grouped by sample: ``samples`` (sorted unique ids) and, per sample,
    ``starts`` / ``counts`` into the object columns (which are ordered by sample id)."""

    def __init__(self, arrays: ObjectArrays, name: str = "") -> None:
        self.name = name
        self.arrays = arrays
        self.samples, self.starts, self.counts = np.unique(
            arrays.sample_ids, return_index=True, return_counts=True
        )
        self._owner = np.repeat(np.arange(len(self.samples)), self.counts)  # object -> sample pos
        self.unit_boxes: np.ndarray | None = None  # N x 4 boxes as fractions of the image
        self.aspects = np.zeros(len(self.samples), np.float32)  # per sample: width / height

    @property
    def classes(self) -> tuple[str, ...]:
        return self.arrays.classes

    def __len__(self) -> int:
        return len(self.arrays)

    def normalise(self, table_ids: np.ndarray, widths: np.ndarray, heights: np.ndarray) -> None:
        """Keep the boxes as fractions of their sample's size (NaN where the size is unknown),
        given per-sample ``widths`` / ``heights`` for ``table_ids`` (any order)."""
        order = np.argsort(table_ids, kind="stable")
        sorted_ids = np.asarray(table_ids, np.int64)[order]
        sample_ids = self.arrays.sample_ids
        unit = np.full((len(self), 4), np.nan, np.float32)
        if len(sorted_ids) and len(self):
            pos = np.searchsorted(sorted_ids, sample_ids).clip(0, len(sorted_ids) - 1)
            w = np.asarray(widths)[order][pos].astype(np.float32)
            h = np.asarray(heights)[order][pos].astype(np.float32)
            known = (sorted_ids[pos] == sample_ids) & (w > 0) & (h > 0)
            scale = np.stack([w, h, w, h], axis=1)
            unit[known] = self.arrays.boxes[known] / scale[known]
            first = self.starts
            self.aspects = np.where(known[first], w[first] / np.maximum(h[first], 1), 0)
        self.unit_boxes = unit

    def span(self, sample_id: int) -> slice:
        """The objects of ``sample_id`` (an empty slice when it has none)."""
        pos = int(np.searchsorted(self.samples, sample_id))
        if pos < len(self.samples) and int(self.samples[pos]) == sample_id:
            start = int(self.starts[pos])
            return slice(start, start + int(self.counts[pos]))
        return slice(0, 0)

    def class_codes(self, classes: frozenset[str] | set[str]) -> np.ndarray:
        return np.array([i for i, c in enumerate(self.classes) if c in classes], np.int32)

    def counts_for(self, ids: np.ndarray, classes: frozenset[str] = frozenset()) -> np.ndarray:
        """Objects per sample id in ``ids`` (of ``classes`` when given), 0 for ids without any."""
        ids = np.asarray(ids, dtype=np.int64)
        if classes:
            chosen = np.isin(self.arrays.labels, self.class_codes(classes))
            per_sample = np.bincount(self._owner[chosen], minlength=len(self.samples))
        else:
            per_sample = self.counts
        if not len(self.samples):
            return np.zeros(len(ids), np.int64)
        pos = np.searchsorted(self.samples, ids).clip(0, len(self.samples) - 1)
        return np.where(self.samples[pos] == ids, per_sample[pos], 0).astype(np.int64)

    def keep_mask(self, ids: np.ndarray, flt: ObjectFilter) -> np.ndarray:
        """Per id: whether ``flt`` lets the sample through."""
        counts = self.counts_for(ids, flt.classes)
        keep = np.ones(len(counts), dtype=bool)
        if flt.classes:
            keep &= counts > 0
        if flt.min_count is not None:
            keep &= counts >= flt.min_count
        if flt.max_count is not None:
            keep &= counts <= flt.max_count
        return keep

    def objects_of(self, ids: np.ndarray) -> np.ndarray:
        """Object positions (into the columns) of the samples ``ids`` (unique, any order)."""
        ids = np.asarray(ids, dtype=np.int64)
        if not len(ids) or not len(self.samples):
            return _I64
        pos = np.searchsorted(self.samples, ids).clip(0, len(self.samples) - 1)
        pos = pos[self.samples[pos] == ids]
        starts, counts = self.starts[pos], self.counts[pos]
        total = int(counts.sum())
        offsets = np.repeat(starts - np.cumsum(counts) + counts, counts)
        return offsets + np.arange(total, dtype=np.int64)

    def histogram(self, ids: np.ndarray) -> dict[str, int]:
        """Objects per class among the samples ``ids``, most first (classes with none left out)."""
        counts = np.bincount(self.arrays.labels[self.objects_of(ids)], minlength=len(self.classes))
        order = sorted(np.flatnonzero(counts), key=lambda i: (-counts[i], self.classes[i]))
        return {self.classes[i]: int(counts[i]) for i in order}


def filter_rows(
    table_ids: np.ndarray, rows: np.ndarray, flt: ObjectFilter, index: ObjectIndex | None
) -> np.ndarray:
    """The ``rows`` (table rows, kept in their order) whose samples pass ``flt``; a source with no
    objects (``index`` None) lets only samples through that a 0 count allows."""
    if not flt.active:
        return rows
    if index is None:
        empty_ok = not flt.classes and (flt.min_count or 0) <= 0
        return rows if empty_ok else rows[:0]
    return rows[index.keep_mask(table_ids[rows], flt)]
