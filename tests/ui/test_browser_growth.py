"""The grid grows as the index lists rows: insertions only, where they belong, fast at scale."""

from __future__ import annotations

import time

import numpy as np
import pytest

from app.core.store.catalog import empty_table, path_key
from app.gui_model.state import AppState
from app.ui.browser import reading
from app.ui.browser.model import BrowserModel, plan_growth
from app.ui.browser.reading import fill_folders
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


def test_folders_filled_off_the_gui_thread_match_the_tables_own() -> None:
    relpaths = ["b/x.jpg", "top.jpg", "a/y.jpg", "b/z/w.jpg", "é/v.jpg", "\udcff/raw.jpg"]
    mine, theirs = table_of(np.arange(6)), table_of(np.arange(6))
    for table in (mine, theirs):
        table.relpaths = list(relpaths)
    fill_folders(mine)
    assert mine.folders == theirs.folders
    assert mine.folder_code().tolist() == theirs.folder_code().tolist()


def test_folders_of_sorted_paths_found_by_runs_match_the_tables_own() -> None:
    relpaths = sorted(
        [
            "a.jpg",
            "a/x.jpg",
            "a/y/z.jpg",
            "a b/x.jpg",
            "a-c/x.jpg",
            "a0.jpg",
            "ab/x.jpg",
            "b.jpg",
            "c.jpg",
            "c/x.jpg",
            "d/x.jpg",
            "d/y.jpg",
            "é/v.jpg",
            "zz.jpg",
        ]
    )
    mine, theirs = table_of(np.arange(len(relpaths))), table_of(np.arange(len(relpaths)))
    for table in (mine, theirs):
        table.relpaths = list(relpaths)
    fill_folders(mine)
    assert mine.folders == theirs.folders == ["", "a", "a b", "a-c", "ab", "c", "d", "é"]
    assert mine.folder_code().tolist() == theirs.folder_code().tolist()


def test_folders_of_paths_in_byte_order_with_stray_bytes_match_the_tables_own() -> None:
    """SQLite orders paths by bytes: a stray byte (U+DCFF here) sorts after U+FFFF, unlike in
    str order; such paths still come as runs."""
    relpaths = sorted(
        ["\udcff/raw.jpg", "\udcff/raw2.jpg", "\uffff/x.jpg", "a/x.jpg", "top.jpg"], key=path_key
    )
    mine, theirs = table_of(np.arange(5)), table_of(np.arange(5))
    for table in (mine, theirs):
        table.relpaths = list(relpaths)
    fill_folders(mine)
    assert mine.folders == theirs.folders
    assert mine.folder_code().tolist() == theirs.folder_code().tolist()


@pytest.mark.parametrize("split", [1, 3, 5])
def test_folders_of_an_appended_table_reuse_the_known_files_and_match_the_tables_own(
    split: int, monkeypatch
) -> None:
    """An appending read walks only the added files: the known table's folders are remapped
    (a new folder, or files at the top, may sort before the known ones)."""
    relpaths = ["b/1.jpg", "b/2.jpg", "c/1.jpg", "c/2.jpg", "d/1.jpg", "zz.jpg", "a/late.jpg"]
    known = table_of(np.arange(split))
    known.relpaths = relpaths[:split]
    known.file_ids = np.arange(1, split + 1, dtype=np.int64)
    fill_folders(known)
    mine, theirs = table_of(np.arange(len(relpaths))), table_of(np.arange(len(relpaths)))
    for table in (mine, theirs):
        table.relpaths = list(relpaths)
        table.file_ids = np.arange(1, len(relpaths) + 1, dtype=np.int64)
    walked = []
    columns = reading._folder_columns
    monkeypatch.setattr(
        reading, "_folder_columns", lambda paths: walked.append(len(paths)) or columns(paths)
    )
    fill_folders(mine, known)
    assert walked == [len(relpaths) - split]
    assert mine.folders == theirs.folders == ["", "a", "b", "c", "d"]
    assert mine.folder_code().tolist() == theirs.folder_code().tolist()
    other = table_of(np.arange(len(relpaths)))  # files that are not the known ones: walked whole
    other.relpaths = list(relpaths)
    other.file_ids = np.arange(101, 101 + len(relpaths), dtype=np.int64)
    fill_folders(other, known)
    assert other.folder_code().tolist() == theirs.folder_code().tolist()
