"""The class legend over the map: swatch, name and count per class.

A click hides or shows a class, a double-click shows only it (again: all).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QFrame, QScrollArea, QVBoxLayout, QWidget

from app.ui.scatter.overlay_style import MUTED, TEXT, paint_panel

SWATCH = 10
PADDING = 8
GAP = 7
MAX_NAME_WIDTH = 160


class LegendRows(QWidget):
    """The rows themselves, painted in one pass (no widget per class)."""

    toggled = Signal(int)
    isolated = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._names: tuple[str, ...] = ()
        self._counts = np.zeros(0, dtype=np.int64)
        self._colours = np.zeros(0, dtype=np.uint32)
        self._visible = np.zeros(0, dtype=bool)
        self._filled = True
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Click a class to hide or show it; double-click to show only it")

    def set_classes(
        self, names: tuple[str, ...], counts: np.ndarray, colours: np.ndarray, filled: bool
    ) -> None:
        self._names, self._counts, self._colours, self._filled = names, counts, colours, filled
        self._visible = np.ones(len(names), dtype=bool)
        self.updateGeometry()
        self.adjustSize()
        self.update()

    def set_visible(self, visible: np.ndarray) -> None:
        self._visible = np.asarray(visible, dtype=bool).copy()
        self.update()

    def row_height(self) -> int:
        return self.fontMetrics().height() + 5

    def row_rect(self, index: int) -> QRect:
        """Where class ``index`` is drawn, in this widget's coordinates."""
        h = self.row_height()
        return QRect(0, PADDING // 2 + index * h, self.width(), h)

    def row_at(self, y: float) -> int | None:
        index = int((y - PADDING // 2) // self.row_height())
        return index if 0 <= index < len(self._names) else None

    def sizeHint(self) -> QSize:
        metrics = self.fontMetrics()
        names = max((metrics.horizontalAdvance(n) for n in self._names), default=0)
        counts = max((metrics.horizontalAdvance(f"{c:,}") for c in self._counts), default=0)
        width = PADDING * 2 + SWATCH + GAP + min(names + 4, MAX_NAME_WIDTH) + GAP * 2 + counts
        return QSize(width, PADDING + len(self._names) * self.row_height())

    def mousePressEvent(self, event: QMouseEvent) -> None:
        index = self.row_at(event.position().y())
        if event.button() == Qt.MouseButton.LeftButton and index is not None:
            self.toggled.emit(index)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        index = self.row_at(event.position().y())
        if event.button() == Qt.MouseButton.LeftButton and index is not None:
            self.isolated.emit(index)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        metrics = self.fontMetrics()
        h = self.row_height()
        first = max(0, event.rect().top() // h - 1)
        last = min(len(self._names), event.rect().bottom() // h + 2)
        for index in range(first, last):
            rect = self.row_rect(index)
            shown = bool(self._visible[index])
            colour = QColor.fromRgb(int(self._colours[index]) & 0xFFFFFF)
            swatch = QRectF(PADDING, rect.center().y() - SWATCH / 2 + 1, SWATCH, SWATCH)
            painter.setPen(QPen(colour if shown else MUTED, 1.2))
            painter.setBrush(colour if shown and self._filled else Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(swatch, 2, 2)
            painter.setPen(TEXT if shown else MUTED)
            count = f"{int(self._counts[index]):,}"
            count_w = metrics.horizontalAdvance(count)
            text_x = PADDING + SWATCH + GAP
            name_w = self.width() - text_x - PADDING - GAP * 2 - count_w
            name = metrics.elidedText(self._names[index], Qt.TextElideMode.ElideRight, name_w)
            flags = Qt.AlignmentFlag.AlignVCenter
            painter.drawText(
                QRect(text_x, rect.top(), name_w, h), flags | Qt.AlignmentFlag.AlignLeft, name
            )
            painter.setPen(MUTED)
            painter.drawText(
                QRect(self.width() - PADDING - count_w, rect.top(), count_w, h),
                flags | Qt.AlignmentFlag.AlignRight,
                count,
            )


class Legend(QFrame):
    """A scrollable panel of :class:`LegendRows`, sized to its content up to ``max_height``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows = LegendRows()
        self._scroll = QScrollArea(self)
        self._scroll.setWidget(self.rows)
        self._scroll.setWidgetResizable(True)
        self._scroll.setFrameShape(QFrame.Shape.NoFrame)
        self._scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._scroll.setStyleSheet(
            "QScrollArea, QScrollArea > QWidget > QWidget {background: transparent;}"
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(1, 1, 1, 1)
        layout.addWidget(self._scroll)
        self._max_height = 400

    def fit(self, max_height: int) -> None:
        """Resizes to the rows (scrolling beyond ``max_height``)."""
        self._max_height = max_height
        hint = self.rows.sizeHint()
        scroll = hint.height() > max_height - 2
        bar = self._scroll.verticalScrollBar().sizeHint().width() if scroll else 0
        self.resize(hint.width() + 2 + bar, min(hint.height() + 2, max(max_height, 40)))

    def paintEvent(self, event: QPaintEvent) -> None:
        paint_panel(QPainter(self), QRectF(self.rect()))
