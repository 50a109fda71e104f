"""The grid grows as the index lists rows: insertions only, where they belong, fast at scale."""

from __future__ import annotations

import time

import numpy as np

from app.core.store.catalog import empty_table
from app.gui_model.state import AppState
from app.ui.browser.model import BrowserModel, plan_growth
from app.ui.browser.view import BrowserView


def table_of(ids: np.ndarray):
    """A table whose rows are ``ids`` in this (browsing) order."""
    table = empty_table()
    n = len(ids)
    i32 = np.zeros(n, dtype=np.int32)
    table.ids = np.asarray(ids, dtype=np.int64)
    table.file_index = np.arange(n, dtype=np.int32)
    table.relpaths = [f"{int(i):07d}.jpg" for i in ids]
    table.frame = np.full(n, -1, dtype=np.int32)
    table.n_frames, table.width, table.height = i32, i32.copy(), i32.copy()
    table.label_code = np.full(n, -1, dtype=np.int32)
    table.broken, table.missing = np.zeros(n, bool), np.zeros(n, bool)
    return table


def shown(model: BrowserModel, table) -> None:
    model.set_table(None, table)
    model.set_order(np.arange(len(table)))


def test_new_rows_are_inserted_where_they_sort_and_the_selection_stays(qtbot) -> None:
    state = AppState()
    model = BrowserModel()
    view = BrowserView(state)
    qtbot.addWidget(view)
    view.setModel(model)
    shown(model, table_of(np.array([10, 20, 30, 40])))
    state.select([30])
    view.sync_selection()
    inserted: list[tuple[int, int]] = []
    model.rowsInserted.connect(lambda _parent, first, last: inserted.append((first, last)))
    model.modelReset.connect(lambda: inserted.append((-1, -1)))
    grown = table_of(np.array([5, 10, 20, 25, 26, 30, 40, 50]))
    growth = plan_growth(model.sample_ids(), grown, np.zeros(8, bool), np.arange(8))
    assert growth is not None
    model.grow(growth)
    assert inserted == [(0, 0), (3, 4), (7, 7)]
    assert model.rowCount() == 8
    assert model.sample_ids().tolist() == [5, 10, 20, 25, 26, 30, 40, 50]
    assert view.selected_ids().tolist() == [30]


def test_a_removed_or_moved_row_needs_a_reset() -> None:
    old = np.array([1, 2, 3])
    assert plan_growth(old, table_of(np.array([1, 3])), np.zeros(2, bool), np.arange(2)) is None
    moved = table_of(np.array([1, 3, 2]))
    assert plan_growth(old, moved, np.zeros(3, bool), np.arange(3)) is None


def test_appending_a_hundred_thousand_rows_takes_well_under_a_second(qtbot) -> None:
    model = BrowserModel()
    view = BrowserView(AppState())
    qtbot.addWidget(view)
    view.setModel(model)
    shown(model, table_of(np.arange(4000)))
    grown = table_of(np.arange(104_000))
    growth = plan_growth(model.sample_ids(), grown, np.zeros(104_000, bool), np.arange(104_000))
    assert growth is not None
    started = time.perf_counter()
    model.grow(growth)
    assert time.perf_counter() - started < 0.5
    assert model.rowCount() == 104_000
