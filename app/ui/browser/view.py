"""The thumbnail grid: one :class:`GridView` whose selection mirrors :attr:`AppState.selected`.

The view's selection model and the app state are kept in step both ways: a click, Shift/Ctrl
click or rubber band edits the state, and a selection made elsewhere (map, selection run) is
drawn here. Both directions work on contiguous runs of rows, never on one Python object per
sample, so selecting a million rows is a single range.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import (
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QKeyEvent, QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QWidget

from app.gui_model.state import AppState
from app.ui.browser.delegate import BrowserDelegate
from app.ui.browser.grid_view import GridView
from app.ui.browser.model import BrowserModel

SPACING = 4
VISIBLE_EVERY_MS = 100
Flag = QItemSelectionModel.SelectionFlag


def runs(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last of each run of consecutive values in sorted ``rows``."""
    if not len(rows):
        return rows, rows
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    return rows[np.r_[0, breaks]], rows[np.r_[breaks - 1, len(rows) - 1]]


class BrowserView(GridView):
    """A wrapping grid of uniform cells; ``sample_activated`` on Enter or double-click."""

    sample_activated = Signal(int)
    visible_changed = Signal()  # the rows on screen changed (at most every 100 ms)

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.delegate = BrowserDelegate(self)
        self.setItemDelegate(self.delegate)
        self.setCellSpacing(SPACING)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setDragEnabled(False)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setMouseTracking(True)
        self._syncing = False
        self._replacing = False
        self.doubleClicked.connect(self._activate)
        self._visible_timer = QTimer(self)
        self._visible_timer.setSingleShot(True)
        self._visible_timer.setInterval(VISIBLE_EVERY_MS)
        self._visible_timer.timeout.connect(self.visible_changed)
        self.verticalScrollBar().valueChanged.connect(self.note_visible_change)
        self.set_thumbnail_size(self.delegate.thumbnail_size)

    # ------------------------------------------------------------------ setup
    def browser_model(self) -> BrowserModel:
        model = self.model()
        assert isinstance(model, BrowserModel)
        return model

    def setModel(self, model: BrowserModel) -> None:  # noqa: N802 - Qt's name
        super().setModel(model)
        self.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.selectionModel().currentChanged.connect(self._on_current_changed)

    def set_thumbnail_size(self, px: int) -> None:
        """Cells of ``px`` (64-256) square thumbnails; keeps the current item in sight."""
        self.delegate.set_thumbnail_size(px)
        side = self.delegate.thumbnail_size
        self.setIconSize(QSize(side, side))
        cell = self.delegate.cell_size(self.fontMetrics().height())
        self.setGridSize(cell + QSize(SPACING, SPACING))
        self.scheduleDelayedItemsLayout()
        if self.currentIndex().isValid():
            self.scrollTo(self.currentIndex())

    def visible_rows(self) -> tuple[int, int]:
        """First and last model rows on screen (from the scroll position and the uniform grid);
        (0, -1) when none."""
        model = self.model()
        count = model.rowCount() if model is not None else 0
        grid, viewport = self.gridSize(), self.viewport()
        if not count or grid.width() <= 0 or grid.height() <= 0:
            return 0, -1
        columns = max(1, viewport.width() // grid.width())
        top_line = max(0, self.verticalScrollBar().value()) // grid.height()
        lines = viewport.height() // grid.height() + 2
        first = min(count - 1, top_line * columns)
        return first, min(count - 1, first + lines * columns - 1)

    def note_visible_change(self, *_: object) -> None:
        """Say that the rows on screen may have changed (scrolled, rows added): at most every
        :data:`VISIBLE_EVERY_MS`, also while a scroll goes on (the index follows the screen)."""
        if not self._visible_timer.isActive():
            self._visible_timer.start()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._visible_timer.start()

    # ----------------------------------------------------- view -> app state
    def selectionCommand(  # noqa: N802 - Qt's name
        self, index: QModelIndex, event: object = None
    ) -> QItemSelectionModel.SelectionFlag:
        command = super().selectionCommand(index, event)
        self._replacing = bool(command & Flag.Clear)
        return command

    def selectAll(self) -> None:  # noqa: N802 - Qt's name
        """One range; the old selection is cleared first (Qt's diff of many ranges is quadratic)."""
        self._syncing = True
        try:
            self.selectionModel().clearSelection()
        finally:
            self._syncing = False
        self._replacing = True
        super().selectAll()

    def selected_ids(self) -> np.ndarray:
        """Sample ids of the rows selected in the view (from its ranges, not per index)."""
        model = self.browser_model()
        parts = [model.sample_ids(r.top(), r.bottom()) for r in self.selectionModel().selection()]
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)

    def _on_selection_changed(self, *_: object) -> None:
        if self._syncing:
            return
        ids = self.selected_ids()
        if not self._replacing:  # keep what is selected but filtered out of sight
            hidden = self.state.selected[~self.browser_model().shown_mask(self.state.selected)]
            ids = np.concatenate([hidden, ids])
        self._syncing = True
        try:
            self.state.select(ids)
        finally:
            self._syncing = False

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if self._syncing or not current.isValid():
            return
        self._syncing = True
        try:
            self.state.set_current(self.browser_model().sample_id(current.row()))
        finally:
            self._syncing = False

    # ----------------------------------------------------- app state -> view
    def sync_selection(self) -> None:
        """Select in the view the shown rows of :attr:`AppState.selected`."""
        if self._syncing or self.model() is None:
            return
        model = self.browser_model()
        rows = model.rows_of_samples(self.state.selected)
        rows = np.sort(rows[rows >= 0])
        if np.array_equal(np.sort(model.rows_of_samples(self.selected_ids())), rows):
            return
        selection = QItemSelection()
        for first, last in zip(*(r.tolist() for r in runs(rows)), strict=True):
            selection.select(model.index(first), model.index(last))
        self._syncing = True
        try:  # clear first: Qt compares old and new ranges pairwise on ClearAndSelect
            self.selectionModel().clearSelection()
            self.selectionModel().select(selection, Flag.Select)
        finally:
            self._syncing = False

    def sync_current(self) -> None:
        """Make :attr:`AppState.current` the view's current item and scroll to it."""
        if self._syncing or self.model() is None or self.state.current is None:
            return
        row = self.browser_model().row_of_sample(self.state.current)
        if row < 0 or row == self.currentIndex().row():
            return
        index = self.model().index(row, 0)
        self._syncing = True
        try:
            self.selectionModel().setCurrentIndex(index, Flag.NoUpdate)
        finally:
            self._syncing = False
        self.scrollTo(index)

    # ------------------------------------------------------------ activation
    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self._activate(self.currentIndex())
            event.accept()
            return
        super().keyPressEvent(event)

    def _activate(self, index: QModelIndex) -> None:
        if index.isValid():
            self.sample_activated.emit(self.browser_model().sample_id(index.row()))
