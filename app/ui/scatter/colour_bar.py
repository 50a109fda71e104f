"""A small colour bar for a continuous colour-by: the ramp, its two ends, and the missing grey."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import QWidget

from app.ui.scatter.colouring import MISSING, RAMP
from app.ui.scatter.overlay_style import MUTED, TEXT, paint_panel

BAR_WIDTH = 150
BAR_HEIGHT = 10
PADDING = 8
GAP = 3


class ColourBar(QWidget):
    """Shows ``low`` .. ``high`` under the ramp, and how many points have no value."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._pixels = np.zeros(RAMP, dtype=np.uint32)
        self._ramp = QImage()
        self._range = (0.0, 0.0)
        self._missing = 0

    def set_ramp(self, palette: np.ndarray, low: float, high: float, missing: int) -> None:
        """``palette``: the colouring's palette (the ramp, then the missing grey; 0xRRGGBB)."""
        self._pixels = np.ascontiguousarray(palette[:RAMP].astype(np.uint32) | 0xFF000000)
        self._ramp = QImage(self._pixels.data, RAMP, 1, RAMP * 4, QImage.Format.Format_RGB32)
        self._range, self._missing = (low, high), missing
        self.resize(self.sizeHint())
        self.update()

    def sizeHint(self) -> QSize:
        lines = 2 if self._missing else 1
        text = lines * (self.fontMetrics().height() + GAP)
        label = self.fontMetrics().horizontalAdvance(self._missing_label()) + BAR_HEIGHT + 5
        width = max(BAR_WIDTH, label if self._missing else 0)
        return QSize(width + 2 * PADDING, BAR_HEIGHT + text + 2 * PADDING)

    def _missing_label(self) -> str:
        return f"{self._missing:,} without a value"

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        paint_panel(painter, QRectF(self.rect()))
        bar = QRect(PADDING, PADDING, self.width() - 2 * PADDING, BAR_HEIGHT)
        painter.drawImage(QRectF(bar), self._ramp)
        line = self.fontMetrics().height()
        text = QRect(PADDING, bar.bottom() + 1 + GAP, bar.width(), line)
        low, high = self._range
        painter.setPen(TEXT)
        painter.drawText(text, Qt.AlignmentFlag.AlignLeft, f"{low:.3g}")
        painter.drawText(text, Qt.AlignmentFlag.AlignRight, f"{high:.3g}")
        if self._missing:
            row = text.translated(0, line + GAP)
            swatch = QRectF(
                row.left(), row.center().y() - BAR_HEIGHT / 2 + 1, BAR_HEIGHT, BAR_HEIGHT
            )
            painter.fillRect(swatch, QColor.fromRgb(MISSING))
            painter.setPen(MUTED)
            label = row.adjusted(BAR_HEIGHT + 5, 0, 0, 0)
            painter.drawText(label, Qt.AlignmentFlag.AlignLeft, self._missing_label())
