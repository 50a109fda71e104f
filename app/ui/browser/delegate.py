"""Painting one grid cell: thumbnail, elided name, selection, a broken or missing badge, tag dots.

All cells have the same size (set with :meth:`BrowserDelegate.set_thumbnail_size`), so the view
lays a million rows out without asking for per-item size hints. Tag dots are looked up for the
painted cells only: a binary search per tag in its sorted member ids.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from app.core.store.project import Tag
from app.ui.browser.box_overlay import ThumbnailBoxes
from app.ui.placeholders import broken_pixmap, loading_pixmap, missing_pixmap

MIN_SIZE, MAX_SIZE, DEFAULT_SIZE = 64, 256, 128
PAD = 6
DOT = 9
MAX_DOTS = 8
REASON_COLOUR = QColor(255, 200, 190)
AnyIndex = QModelIndex | QPersistentModelIndex


class BrowserDelegate(QStyledItemDelegate):
    """Paints cells of a :class:`BrowserModel`; uniform size, adjustable from 64 to 256 px."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.thumbnail_size = DEFAULT_SIZE
        self._tags: list[tuple[Tag, QColor, np.ndarray]] = []
        self.boxes = ThumbnailBoxes()  # off until View > Show boxes on thumbnails

    def set_thumbnail_size(self, px: int) -> None:
        self.thumbnail_size = max(MIN_SIZE, min(MAX_SIZE, int(px)))

    def set_tags(self, tags: list[Tag], members: dict[int, np.ndarray]) -> None:
        """Tags to mark with coloured dots; ``members``: tag id -> sorted sample ids."""
        empty = np.empty(0, dtype=np.int64)
        self._tags = [(tag, QColor(tag.color), members.get(tag.id, empty)) for tag in tags]

    def tags_of(self, sample_id: int) -> list[Tag]:
        """The tags ``sample_id`` has (O(log n) per tag)."""
        return [tag for tag, _, ids in self._tags if _has(ids, sample_id)]

    def cell_size(self, line_height: int) -> QSize:
        """The size of every cell: thumbnail plus padding plus one line of text."""
        side = self.thumbnail_size + 2 * PAD
        return QSize(side, side + line_height + 2)

    def sizeHint(self, option: QStyleOptionViewItem, index: AnyIndex) -> QSize:
        return self.cell_size(option.fontMetrics.height())

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        cell = index.model().cell(index.row())  # one call, not a data() call per role
        if cell is None:
            return
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = option.rect
        size = self.thumbnail_size
        palette = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if selected:
            fill = QColor(palette.color(QPalette.ColorRole.Highlight))
            fill.setAlpha(110)
            painter.setPen(QPen(palette.color(QPalette.ColorRole.Highlight), 2))
            painter.setBrush(fill)
            painter.drawRoundedRect(QRectF(rect).adjusted(1, 1, -1, -1), 6, 6)
        tile = QRect(rect.x() + (rect.width() - size) // 2, rect.y() + PAD, size, size)
        if cell.missing:
            painter.drawPixmap(tile, missing_pixmap(size))
        elif cell.broken:
            painter.drawPixmap(tile, broken_pixmap(size))
            self._paint_reason(painter, tile, cell.reason)
        else:
            self._paint_thumbnail(painter, tile, cell.thumbnail)
            self.boxes.paint(painter, tile, cell.sample_id)
        self._paint_dots(painter, tile, cell.sample_id)
        text_rect = QRect(
            rect.x() + 3, tile.bottom() + 3, rect.width() - 6, rect.bottom() - tile.bottom() - 3
        )
        name = option.fontMetrics.elidedText(
            cell.name, Qt.TextElideMode.ElideMiddle, text_rect.width()
        )
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        painter.setPen(palette.color(role))
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, name)
        if option.state & QStyle.StateFlag.State_HasFocus:
            painter.setPen(
                QPen(palette.color(QPalette.ColorRole.Highlight), 1, Qt.PenStyle.DotLine)
            )
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(QRectF(rect).adjusted(2, 2, -2, -2), 5, 5)
        painter.restore()

    def _paint_thumbnail(self, painter: QPainter, tile: QRect, pixmap: QPixmap | None) -> None:
        if pixmap is None or pixmap.isNull():
            painter.drawPixmap(tile.topLeft(), loading_pixmap(tile.width()))  # its own size
            return
        fitted = pixmap.size().scaled(tile.size(), Qt.AspectRatioMode.KeepAspectRatio)
        target = QRect(0, 0, fitted.width(), fitted.height())
        target.moveCenter(tile.center())
        smooth = fitted.width() < 2 * pixmap.width()  # enlarged 2x or more: keep pixels crisp
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
        painter.drawPixmap(target, pixmap)

    def _paint_reason(self, painter: QPainter, tile: QRect, reason: str) -> None:
        font = QFont(painter.font())
        font.setPixelSize(max(9, tile.width() // 12))
        painter.setFont(font)
        painter.setPen(REASON_COLOUR)
        top = tile.top() + int(tile.height() * 0.56)
        box = QRect(tile.left() + 4, top, tile.width() - 8, int(tile.height() * 0.12))
        text = painter.fontMetrics().elidedText(reason, Qt.TextElideMode.ElideRight, box.width())
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
        painter.setFont(QFont())

    def _paint_dots(self, painter: QPainter, tile: QRect, sample_id: object) -> None:
        if not self._tags or not isinstance(sample_id, int):
            return
        colours = [colour for tag, colour, ids in self._tags if _has(ids, sample_id)][:MAX_DOTS]
        painter.setPen(QPen(QColor(20, 20, 20, 200), 1))
        for i, colour in enumerate(colours):
            painter.setBrush(colour)
            x = tile.right() - 4 - DOT - i * (DOT + 3)
            painter.drawEllipse(QRectF(x, tile.top() + 4, DOT, DOT))


def _has(ids: np.ndarray, sample_id: int) -> bool:
    pos = int(np.searchsorted(ids, sample_id))
    return pos < len(ids) and int(ids[pos]) == sample_id
