"""Shared look of the panels floating over the map (toolbar, legend, colour bar, hover card)."""

from __future__ import annotations

from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QPainter, QPen

PANEL = QColor(36, 37, 43, 225)
PANEL_BORDER = QColor(255, 255, 255, 38)
TEXT = QColor(226, 229, 233)
MUTED = QColor(150, 154, 162)
RADIUS = 6.0
MARGIN = 8  # between a panel and the map's edge


def paint_panel(painter: QPainter, rect: QRectF) -> None:
    """The rounded translucent background every overlay panel sits on."""
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(PANEL_BORDER, 1.0))
    painter.setBrush(PANEL)
    painter.drawRoundedRect(rect.adjusted(0.5, 0.5, -0.5, -0.5), RADIUS, RADIUS)
