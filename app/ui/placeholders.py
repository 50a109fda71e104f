"""The pixmaps shown instead of a thumbnail: while loading, for a broken or a missing sample."""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen, QPixmap

LOADING_FILL = QColor(70, 70, 74)
BROKEN_FILL = QColor(60, 40, 40)
BROKEN_MARK = QColor(220, 70, 60)
MISSING_FILL = QColor(48, 50, 60)
MISSING_MARK = QColor(110, 120, 145)


def _blank(size: int, fill: QColor) -> tuple[QPixmap, QPainter]:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(fill)
    painter.drawRoundedRect(QRectF(2, 2, size - 4, size - 4), 6, 6)
    return pixmap, painter


@cache
def loading_pixmap(size: int) -> QPixmap:
    """A plain neutral tile (cached per size, so views can compare by cacheKey)."""
    pixmap, painter = _blank(size, LOADING_FILL)
    painter.end()
    return pixmap


@cache
def broken_pixmap(size: int) -> QPixmap:
    """A dark tile with a red cross and a 'broken' badge."""
    pixmap, painter = _blank(size, BROKEN_FILL)
    left, right, top, bottom = size * 0.32, size * 0.68, size * 0.2, size * 0.56
    pen = QPen(BROKEN_MARK, max(2.0, size / 24))
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    painter.setPen(pen)
    painter.drawLine(QPointF(left, top), QPointF(right, bottom))
    painter.drawLine(QPointF(right, top), QPointF(left, bottom))
    _badge(painter, size, BROKEN_MARK, "broken")
    return pixmap


@cache
def missing_pixmap(size: int) -> QPixmap:
    """A dim tile with a question mark and a 'missing' badge (file not found at the last index)."""
    pixmap, painter = _blank(size, MISSING_FILL)
    font = QFont()
    font.setBold(True)
    font.setPixelSize(max(10, int(size * 0.4)))
    painter.setFont(font)
    painter.setPen(MISSING_MARK)
    painter.drawText(QRectF(0, size * 0.12, size, size * 0.5), Qt.AlignmentFlag.AlignCenter, "?")
    _badge(painter, size, MISSING_MARK, "missing")
    return pixmap


def _badge(painter: QPainter, size: int, colour: QColor, text: str) -> None:
    """A rounded label across the lower part of the tile; ends the painter."""
    badge = QRectF(size * 0.15, size * 0.68, size * 0.7, size * 0.2)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(colour)
    painter.drawRoundedRect(badge, badge.height() / 2, badge.height() / 2)
    font = QFont()
    font.setBold(True)
    font.setPixelSize(max(8, int(badge.height() * 0.65)))
    painter.setFont(font)
    painter.setPen(Qt.GlobalColor.white)
    painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)
    painter.end()
