"""GridView: a wrapping grid of uniform cells whose layout is arithmetic, never a pass over rows.

QListView in icon mode lays every row out again whenever rows are added (0.2-0.4 s of the event
loop at a million rows, on each growth of a grid that an index is still filling). Here a row's
place is ``divmod(row, columns)`` times the cell size: adding rows, resizing and scrolling cost the
same at ten rows and at ten million. Selection, keyboard moves, drag (rubber band) selection,
hover, tooltips and double-clicks come from :class:`QAbstractItemView` on top of the few
geometry methods it asks for.
"""

from __future__ import annotations

from PySide6.QtCore import QItemSelection, QModelIndex, QPoint, QRect, QSize, Qt
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QRegion, QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QStyle, QStyleOptionViewItem, QWidget

from app.core.jobs import foreground

Action = QAbstractItemView.CursorAction
Hint = QAbstractItemView.ScrollHint


class GridView(QAbstractItemView):
    """Cells of :meth:`gridSize` filled left to right, top to bottom; vertical scrolling only.

    The delegate paints each item in its cell (the grid size less ``spacing`` on the right and
    at the bottom).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._grid = QSize(128, 128)
        self._spacing = 0
        self._band_origin: QPoint | None = None  # content coordinates of a drag's start
        self._band = QRect()
        self._hover = QModelIndex()
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMouseTracking(True)

    # ------------------------------------------------------------------ geometry
    def gridSize(self) -> QSize:  # noqa: N802 - QListView's name, kept for callers
        return QSize(self._grid)

    def setGridSize(self, size: QSize) -> None:  # noqa: N802
        self._grid = QSize(max(1, size.width()), max(1, size.height()))
        self.updateGeometries()
        self.viewport().update()

    def setCellSpacing(self, spacing: int) -> None:  # noqa: N802
        self._spacing = max(0, spacing)

    def columns(self) -> int:
        return max(1, self.viewport().width() // self._grid.width())

    def _count(self) -> int:
        model = self.model()
        return model.rowCount(self.rootIndex()) if model is not None else 0

    def _content_height(self) -> int:
        lines = -(-self._count() // self.columns())
        return lines * self._grid.height()

    def visualRect(self, index: QModelIndex) -> QRect:  # noqa: N802
        if not index.isValid() or index.row() >= self._count():
            return QRect()
        return self._cell_rect(index.row(), self.columns())

    def _cell_rect(self, row: int, columns: int) -> QRect:
        """Where row ``row``'s cell is on the viewport, the grid having ``columns`` columns."""
        width, height = self._grid.width(), self._grid.height()
        line, column = divmod(row, columns)
        return QRect(
            column * width - self.horizontalOffset(),
            line * height - self.verticalOffset(),
            width - self._spacing,
            height - self._spacing,
        )

    def indexAt(self, point: QPoint) -> QModelIndex:  # noqa: N802
        x, y = point.x() + self.horizontalOffset(), point.y() + self.verticalOffset()
        column, line = x // self._grid.width(), y // self._grid.height()
        if x < 0 or y < 0 or column >= self.columns():
            return QModelIndex()
        row = line * self.columns() + column
        model = self.model()
        return model.index(row, 0, self.rootIndex()) if row < self._count() else QModelIndex()

    def horizontalOffset(self) -> int:  # noqa: N802
        return 0

    def verticalOffset(self) -> int:  # noqa: N802
        return self.verticalScrollBar().value()

    def isIndexHidden(self, index: QModelIndex) -> bool:  # noqa: N802
        return False

    def updateGeometries(self) -> None:  # noqa: N802
        bar = self.verticalScrollBar()
        page = self.viewport().height()
        bar.setRange(0, max(0, self._content_height() - page))
        bar.setPageStep(max(1, page))
        bar.setSingleStep(max(1, self._grid.height() // 4))
        super().updateGeometries()

    def scrollTo(self, index: QModelIndex, hint: Hint = Hint.EnsureVisible) -> None:  # noqa: N802
        rect = self.visualRect(index)
        if rect.isNull():
            return
        bar, height = self.verticalScrollBar(), self.viewport().height()
        top = rect.top() + bar.value()
        if hint == Hint.PositionAtTop:
            bar.setValue(top)
        elif hint == Hint.PositionAtBottom:
            bar.setValue(top + rect.height() - height)
        elif hint == Hint.PositionAtCenter:
            bar.setValue(top + (rect.height() - height) // 2)
        elif rect.top() < 0:
            bar.setValue(top)
        elif rect.bottom() >= height:
            bar.setValue(top + rect.height() - height)

    def moveCursor(  # noqa: N802
        self, action: Action, modifiers: Qt.KeyboardModifier
    ) -> QModelIndex:
        count = self._count()
        if not count:
            return QModelIndex()
        current = self.currentIndex()
        row = current.row() if current.isValid() else 0
        columns = self.columns()
        page = max(1, self.viewport().height() // self._grid.height()) * columns
        steps = {
            Action.MoveLeft: -1,
            Action.MovePrevious: -1,
            Action.MoveRight: 1,
            Action.MoveNext: 1,
            Action.MoveUp: -columns,
            Action.MoveDown: columns,
            Action.MovePageUp: -page,
            Action.MovePageDown: page,
        }
        if action == Action.MoveHome:
            row = 0
        elif action == Action.MoveEnd:
            row = count - 1
        elif current.isValid():
            row = min(count - 1, max(0, row + steps.get(action, 0)))
        return self.model().index(row, 0, self.rootIndex())

    def setSelection(  # noqa: N802
        self, rect: QRect, command: QAbstractItemView.SelectionFlag
    ) -> None:
        """A drag selects the cells its band touches; a Shift click or Shift+arrow (from the
        anchor's centre to the new point) selects the rows between the two, in row order."""
        if self._band.isNull():
            self._select_between(rect.topLeft(), rect.bottomRight(), command)
        else:
            self._select_cells(rect, command)

    def _select_between(
        self, start: QPoint, end: QPoint, command: QAbstractItemView.SelectionFlag
    ) -> None:
        if start == end:  # a click: the cell under it, or nothing
            index = self.indexAt(start)
            rows = [index.row()] * 2 if index.isValid() else [-1]
        else:
            rows = [self._row_near(start), self._row_near(end)]
        model = self.model()
        if min(rows) < 0:
            self.selectionModel().select(QItemSelection(), command)
            return
        first, last = model.index(min(rows), 0), model.index(max(rows), 0)
        self.selectionModel().select(QItemSelection(first, last), command)

    def _row_near(self, point: QPoint) -> int:
        """The row of the cell under ``point``, clamped into the grid (-1 when it is empty)."""
        count, columns = self._count(), self.columns()
        if not count:
            return -1
        x, y = point.x() + self.horizontalOffset(), point.y() + self.verticalOffset()
        column = min(columns - 1, max(0, x // self._grid.width()))
        line = max(0, y // self._grid.height())
        return min(count - 1, line * columns + column)

    def _select_cells(self, rect: QRect, command: QAbstractItemView.SelectionFlag) -> None:
        """Select the cells ``rect`` (viewport coordinates) touches: one range per grid line."""
        selection = QItemSelection()
        content = rect.normalized().translated(self.horizontalOffset(), self.verticalOffset())
        count, columns = self._count(), self.columns()
        width, height = self._grid.width(), self._grid.height()
        first_column = max(0, content.left() // width)
        last_column = min(columns - 1, content.right() // width)
        first_line = max(0, content.top() // height)
        last_line = min(-(-count // columns) - 1, content.bottom() // height)
        model = self.model()
        for line in range(first_line, last_line + 1):
            first = line * columns + first_column
            last = min(count - 1, line * columns + last_column)
            if first <= last:
                selection.select(model.index(first, 0), model.index(last, 0))
        self.selectionModel().select(selection, command)

    def visualRegionForSelection(self, selection: QItemSelection) -> QRegion:  # noqa: N802
        return QRegion(self.viewport().rect())

    # ------------------------------------------------------------- rows added
    def rowsInserted(self, parent: QModelIndex, start: int, end: int) -> None:  # noqa: N802
        super().rowsInserted(parent, start, end)
        self.updateGeometries()
        self.viewport().update()

    def reset(self) -> None:
        super().reset()
        self._hover = QModelIndex()
        self.updateGeometries()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.updateGeometries()

    # ------------------------------------------------------------------ paint
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self.viewport())
        try:  # ended here, not when Python collects it (a frame kept alive must not hold it)
            with foreground():  # the window's background readers pause meanwhile
                self._paint_cells(painter, event.rect())
                if not self._band.isNull():
                    self._paint_band(painter)
        finally:
            painter.end()

    def _paint_cells(self, painter: QPainter, area: QRect) -> None:
        model, delegate = self.model(), self.itemDelegate()
        first_row = self._first_row_at(area.top())
        if model is None or delegate is None or first_row < 0:
            return
        columns, count = self.columns(), self._count()
        bottom_line = (area.bottom() + self.verticalOffset()) // self._grid.height()
        last_row = min(count - 1, (bottom_line + 1) * columns - 1)
        selection, current = self.selectionModel(), self.currentIndex()
        focused = self.hasFocus()
        base = QStyleOptionViewItem()  # made once: the cells differ only in place and state
        self.initViewItemOption(base)
        root = self.rootIndex()
        for row in range(first_row, last_row + 1):
            index = model.index(row, 0, root)
            option = QStyleOptionViewItem(base)
            option.rect = self._cell_rect(row, columns)
            if selection is not None and selection.isSelected(index):
                option.state |= QStyle.StateFlag.State_Selected
            if index == self._hover:
                option.state |= QStyle.StateFlag.State_MouseOver
            if focused and index == current:
                option.state |= QStyle.StateFlag.State_HasFocus
            delegate.paint(painter, option, index)

    def _first_row_at(self, y: int) -> int:
        line = max(0, (y + self.verticalOffset()) // self._grid.height())
        row = line * self.columns()
        return row if row < self._count() else -1

    def _paint_band(self, painter: QPainter) -> None:
        band = self._band.translated(-self.horizontalOffset(), -self.verticalOffset())
        colour = self.palette().highlight().color()
        fill = QColor(colour)
        fill.setAlpha(50)
        painter.setPen(colour)
        painter.setBrush(fill)
        painter.drawRect(band.adjusted(0, 0, -1, -1))

    # ------------------------------------------------------------------ mouse
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        point = event.position().toPoint()
        self._band_origin = None
        if event.button() == Qt.MouseButton.LeftButton:
            self._band_origin = point + QPoint(self.horizontalOffset(), self.verticalOffset())
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        point = event.position().toPoint()
        hover = self.indexAt(point)
        if hover != self._hover:
            self.viewport().update(self.visualRect(self._hover))
            self.viewport().update(self.visualRect(hover))
            self._hover = hover
        if self._band_origin is not None and event.buttons() & Qt.MouseButton.LeftButton:
            here = point + QPoint(self.horizontalOffset(), self.verticalOffset())
            self._band = QRect(self._band_origin, here).normalized()
            self.viewport().update()
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._band_origin, self._band = None, QRect()
        self.viewport().update()
        super().mouseReleaseEvent(event)

    def leaveEvent(self, event: object) -> None:  # noqa: N802
        if self._hover.isValid():
            self.viewport().update(self.visualRect(self._hover))
        self._hover = QModelIndex()
        super().leaveEvent(event)
