"""The shared app state: selection modes, change events, no event when nothing changed."""

from __future__ import annotations

import numpy as np
import pytest

from app.gui_model.state import AppState, Filter


@pytest.fixture()
def state():
    return AppState()


def test_selection_modes(state):
    state.select([5, 1, 3])
    assert state.selected.tolist() == [1, 3, 5]
    state.select([7], mode="add")
    assert state.selected.tolist() == [1, 3, 5, 7]
    state.select([3, 9], mode="remove")
    assert state.selected.tolist() == [1, 5, 7]
    state.select([1, 2], mode="toggle")
    assert state.selected.tolist() == [2, 5, 7]
    assert state.is_selected(5) and not state.is_selected(1)
    state.clear_selection()
    assert state.selected.size == 0
    with pytest.raises(ValueError):
        state.select([1], mode="intersect-ish")


def test_events_only_on_change(state):
    events = []
    unsubscribe = state.subscribe(events.append)
    state.select(np.array([2, 1]))
    state.select([1, 2])
    state.set_filter(Filter(text="cat"))
    state.set_filter(Filter(text="cat"))
    state.set_current(4)
    state.set_current(4)
    state.set_highlight([3])
    state.set_colour_by("label")
    assert events == ["selection", "filter", "current", "highlight", "colour_by"]
    unsubscribe()
    state.set_current(5)
    assert len(events) == 5


def test_filter_with_and_reset(state):
    state.set_filter(state.filter.with_(labels=frozenset({"a"}), broken=False))
    assert state.filter.labels == {"a"} and state.filter.broken is False
    state.select([1])
    state.reset()
    assert state.filter == Filter() and state.selected.size == 0 and state.current is None


def test_an_index_says_while_it_lists_files_and_once_it_has(state):
    events: list[str] = []
    state.subscribe(events.append)
    state.set_indexing("indexing: listing files", listing=True)
    assert state.listing and state.indexing == "indexing: listing files"
    state.set_indexing("indexing: listing files", listing=True)
    state.set_indexing("indexing: 3 of 9 files left")
    assert not state.listing and events == ["indexing", "indexing"]
    state.set_indexing(None, listing=True)  # an ended index lists nothing
    assert not state.listing and state.indexing is None
