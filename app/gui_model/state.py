"""The app state every view shares: filter, selection, current sample, highlights, colour-by.

Qt-free on purpose: the grid, the detail view, the map and the selection panel subscribe to it,
and a change made in any of them (a click, a lasso, a selection run) reaches the others. Sample
ids are numpy int64 arrays, sorted and unique, never Python objects per sample.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from app.gui_model.object_filters import ObjectFilter

Event = Literal[
    "filter",
    "selection",
    "current",
    "highlight",
    "colour_by",
    "indexing",
    "measuring",
    "focused_object",
]
Listener = Callable[[Event], None]
SelectMode = Literal["replace", "add", "remove", "toggle"]
_EMPTY = np.empty(0, dtype=np.int64)


@dataclass(frozen=True)
class Filter:
    """Which samples the views show, and in which order.

    ``broken``: None shows all, True only unusable samples (broken, or their file missing),
    False only usable ones.
    ``sort``: "name", "label", or the key of a stored per-sample score.
    """

    text: str = ""
    labels: frozenset[str] = field(default_factory=frozenset)
    folder: str | None = None
    tag: str | None = None
    selection: str | None = None
    broken: bool | None = None
    sort: str = "name"
    descending: bool = False
    objects: ObjectFilter = field(default_factory=ObjectFilter)

    def with_(self, **changes: object) -> Filter:
        return replace(self, **changes)


def as_ids(ids: Iterable[int] | np.ndarray) -> np.ndarray:
    """Sorted unique int64 sample ids (already sorted input costs one pass, not a sort)."""
    if isinstance(ids, np.ndarray):
        array = ids.astype(np.int64, copy=False)
    else:
        array = np.fromiter(ids, dtype=np.int64)
    if array.size < 2 or bool(np.all(array[1:] > array[:-1])):
        return array.copy()  # the state never aliases a caller's array
    return np.unique(array)


class AppState:
    """Holds the shared state and tells subscribers what changed (not the new value itself)."""

    def __init__(self) -> None:
        self._filter = Filter()
        self._selected = _EMPTY
        self._current: int | None = None
        self._highlighted = _EMPTY
        self._colour_by: str | None = None
        self._indexing: str | None = None
        self._listing = False
        self._measuring: str | None = None
        self._focused_object: object | None = None  # an ObjectFocus (gui_model/object_map.py)
        self._listeners: list[Listener] = []

    # ----------------------------------------------------------- subscribing
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` after every change; returns the function that unsubscribes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _emit(self, event: Event) -> None:
        for listener in list(self._listeners):
            listener(event)

    # ---------------------------------------------------------------- values
    @property
    def filter(self) -> Filter:
        return self._filter

    @property
    def selected(self) -> np.ndarray:
        return self._selected

    @property
    def current(self) -> int | None:
        return self._current

    @property
    def highlighted(self) -> np.ndarray:
        return self._highlighted

    @property
    def colour_by(self) -> str | None:
        return self._colour_by

    @property
    def indexing(self) -> str | None:
        """While a background index runs: why whole-index actions wait (e.g. "indexing: 12 of
        100 files left"); None once every file is indexed."""
        return self._indexing

    @property
    def listing(self) -> bool:
        """Whether the background index is still listing files (rows keep coming): work that
        would take a core from it waits (the quick-look process starts after)."""
        return self._listing

    @property
    def measuring(self) -> str | None:
        """While the index measures image statistics, every file thumbnailed: why the quality
        checks wait (e.g. "measuring image statistics, 40 of 100 left"); else None."""
        return self._measuring

    @property
    def statistics_wait(self) -> str | None:
        """Why what reads the image statistics waits (the index, then its measuring); else None."""
        return self._indexing or self._measuring

    # --------------------------------------------------------------- changes
    def set_filter(self, new: Filter) -> None:
        if new != self._filter:
            self._filter = new
            self._emit("filter")

    def select(self, ids: Iterable[int] | np.ndarray, mode: SelectMode = "replace") -> None:
        """Edit the selection the way a lasso or a click does (glue's subset modes)."""
        ids = as_ids(ids)
        if mode == "replace":
            new = ids
        elif mode == "add":
            new = np.union1d(self._selected, ids)
        elif mode == "remove":
            new = np.setdiff1d(self._selected, ids, assume_unique=True)
        elif mode == "toggle":
            new = np.setxor1d(self._selected, ids, assume_unique=True)
        else:
            raise ValueError(f"unknown selection mode {mode!r}")
        if not np.array_equal(new, self._selected):
            self._selected = new
            self._emit("selection")

    def clear_selection(self) -> None:
        self.select(_EMPTY)

    def is_selected(self, sample_id: int) -> bool:
        index = np.searchsorted(self._selected, sample_id)
        return bool(index < len(self._selected) and self._selected[index] == sample_id)

    def set_current(self, sample_id: int | None) -> None:
        if sample_id != self._current:
            self._current = None if sample_id is None else int(sample_id)
            self._emit("current")

    def set_highlight(self, ids: Iterable[int] | np.ndarray) -> None:
        ids = as_ids(ids)
        if not np.array_equal(ids, self._highlighted):
            self._highlighted = ids
            self._emit("highlight")

    def set_colour_by(self, key: str | None) -> None:
        if key != self._colour_by:
            self._colour_by = key
            self._emit("colour_by")

    @property
    def focused_object(self) -> object | None:
        """The object the object map last clicked (an ``ObjectFocus``), outlined in the detail."""
        return self._focused_object

    def set_focused_object(self, focus: object | None) -> None:
        if focus != self._focused_object:
            self._focused_object = focus
            self._emit("focused_object")

    def set_indexing(self, reason: str | None, listing: bool = False) -> None:
        """Say that a background index runs (``reason``; ``listing``: it still lists files) or
        has ended (None)."""
        listing = listing and reason is not None
        if reason != self._indexing or listing != self._listing:
            self._indexing, self._listing = reason, listing
            self._emit("indexing")

    def set_measuring(self, reason: str | None) -> None:
        """Say that the index measures statistics (``reason``) or has ended (None)."""
        if reason != self._measuring:
            self._measuring = reason
            self._emit("measuring")

    def reset(self) -> None:
        """Forget everything (a different project was opened)."""
        self._filter = Filter()
        self._selected = _EMPTY
        self._current = None
        self._highlighted = _EMPTY
        self._colour_by = None
        self._focused_object = None
        for event in ("filter", "selection", "current", "highlight", "colour_by", "focused_object"):
            self._emit(event)
