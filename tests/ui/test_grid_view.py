"""GridView: arithmetic layout (a million rows cost nothing), drag and Shift selection, keys."""

from __future__ import annotations

import threading
import time

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPoint, QSize, Qt
from PySide6.QtWidgets import QAbstractItemView, QStyledItemDelegate

from app.core.jobs import make_way
from app.ui.browser.grid_view import GridView

LEFT = Qt.MouseButton.LeftButton


class Numbers(QAbstractListModel):
    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else self.count

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        return str(index.row()) if role == Qt.ItemDataRole.DisplayRole else None

    def add(self, count: int) -> None:
        self.beginInsertRows(QModelIndex(), self.count, self.count + count - 1)
        self.count += count
        self.endInsertRows()


def make_view(qtbot, count: int) -> tuple[GridView, Numbers]:
    view = GridView()
    qtbot.addWidget(view)
    model = Numbers(count)
    view.setModel(model)
    view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
    view.setGridSize(QSize(100, 80))
    view.resize(420, 300)  # 4 columns of 100 px (the scroll bar takes the rest)
    view.show()
    qtbot.waitExposed(view)
    return view, model


def selected_rows(view: GridView) -> list[int]:
    return sorted(index.row() for index in view.selectionModel().selectedIndexes())


def test_cells_are_placed_by_arithmetic_at_a_million_rows(qtbot) -> None:
    view, model = make_view(qtbot, 1_000_000)
    assert view.columns() == 4
    bar = view.verticalScrollBar()
    assert bar.maximum() == 250_000 * 80 - view.viewport().height()
    model.add(4)  # a new grid line: the range grows by one cell height, nothing is laid out
    assert bar.maximum() == 250_001 * 80 - view.viewport().height()
    index = model.index(999_999)
    view.scrollTo(index)
    rect = view.visualRect(index)
    assert view.viewport().rect().contains(rect) and rect.size() == QSize(100, 80)
    assert view.indexAt(rect.center()).row() == 999_999
    assert not view.indexAt(QPoint(rect.right() + 250, rect.center().y())).isValid()


def test_a_drag_selects_the_cells_of_its_band(qtbot) -> None:
    view, _ = make_view(qtbot, 30)
    start, end = QPoint(150, 40), QPoint(330, 120)  # columns 1..3 of lines 0 and 1
    qtbot.mousePress(view.viewport(), LEFT, pos=start)
    qtbot.mouseMove(view.viewport(), QPoint(240, 90))
    qtbot.mouseMove(view.viewport(), end)
    qtbot.mouseRelease(view.viewport(), LEFT, pos=end)
    assert selected_rows(view) == [1, 2, 3, 5, 6, 7]


def test_shift_click_selects_in_row_order_and_a_click_on_nothing_clears(qtbot) -> None:
    view, model = make_view(qtbot, 10)  # lines of 4: the last line holds rows 8 and 9
    qtbot.mouseClick(view.viewport(), LEFT, pos=view.visualRect(model.index(2)).center())
    shift = Qt.KeyboardModifier.ShiftModifier
    qtbot.mouseClick(view.viewport(), LEFT, shift, view.visualRect(model.index(5)).center())
    assert selected_rows(view) == [2, 3, 4, 5]
    empty = view.visualRect(model.index(9)).center() + QPoint(200, 0)
    qtbot.mouseClick(view.viewport(), LEFT, pos=empty)
    assert selected_rows(view) == []


def test_arrow_keys_move_by_cells_and_lines(qtbot) -> None:
    view, model = make_view(qtbot, 10)
    view.setCurrentIndex(model.index(1))
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Down)
    assert view.currentIndex().row() == 5
    qtbot.keyClick(view, Qt.Key.Key_Right)
    assert view.currentIndex().row() == 6
    qtbot.keyClick(view, Qt.Key.Key_Down)
    assert view.currentIndex().row() == 9  # the last line is short: the last row
    qtbot.keyClick(view, Qt.Key.Key_Home)
    assert view.currentIndex().row() == 0
    qtbot.keyClick(view, Qt.Key.Key_End, Qt.KeyboardModifier.ShiftModifier)
    assert selected_rows(view) == list(range(10))


def test_background_loops_make_way_while_the_grid_paints(qtbot) -> None:
    view, _ = make_view(qtbot, 40)
    held_back: list[bool] = []

    class Recording(QStyledItemDelegate):
        def paint(self, painter, option, index) -> None:  # noqa: ANN001
            passed = threading.Event()

            def background_step() -> None:
                make_way(max_wait_s=0.3)
                passed.set()

            step = threading.Thread(target=background_step)
            step.start()
            held_back.append(not passed.wait(0.02))  # the paint is on: the step waits
            step.join()
            super().paint(painter, option, index)

    delegate = Recording(view)
    view.setItemDelegate(delegate)
    view.viewport().grab()  # paints now
    assert held_back and all(held_back)
    started = time.perf_counter()
    make_way(max_wait_s=30.0)  # no paint on: at once
    assert time.perf_counter() - started < 5.0
