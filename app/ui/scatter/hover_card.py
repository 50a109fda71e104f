"""The floating card shown near the cursor after a dwell on a point: thumbnail and a line or two."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRectF, Qt
from PySide6.QtGui import QPainter, QPaintEvent, QPixmap
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget

from app.ui.scatter.overlay_style import TEXT, paint_panel

THUMB = 128  # longest side of the thumbnail on the card, logical pixels
OFFSET = 16  # from the cursor
TEXT_WIDTH = 200


class HoverCard(QFrame):
    """A child of the map, kept inside it; it ignores the mouse so hovering continues under it."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self._image = QLabel(self)
        self._image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._text = QLabel(self)
        self._text.setWordWrap(True)
        self._text.setStyleSheet(f"color: {TEXT.name()}; background: transparent;")
        self._text.setTextFormat(Qt.TextFormat.PlainText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(6)
        layout.addWidget(self._image)
        layout.addWidget(self._text)
        self.hide()

    def show_at(self, cursor: QPoint, pixmap: QPixmap | None, text: str) -> None:
        """Shows the card beside ``cursor`` (parent coordinates), flipped to stay inside."""
        if pixmap is not None and not pixmap.isNull():
            scaled = pixmap
            if max(pixmap.width(), pixmap.height()) / pixmap.devicePixelRatio() > THUMB:
                scaled = pixmap.scaled(
                    THUMB * pixmap.devicePixelRatio(),
                    THUMB * pixmap.devicePixelRatio(),
                    Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
            self._image.setPixmap(scaled)
            self._image.show()
        else:
            self._image.hide()
        self._text.setText(text)
        lines = text.splitlines() or [""]
        widest = max(self._text.fontMetrics().horizontalAdvance(line) for line in lines)
        self._text.setFixedWidth(min(widest + 2, TEXT_WIDTH))
        self._text.setVisible(bool(text))
        self.adjustSize()
        parent = self.parentWidget()
        x, y = cursor.x() + OFFSET, cursor.y() + OFFSET
        if x + self.width() > parent.width():
            x = cursor.x() - OFFSET - self.width()
        if y + self.height() > parent.height():
            y = cursor.y() - OFFSET - self.height()
        self.move(max(0, x), max(0, y))
        self.show()
        self.raise_()

    def paintEvent(self, event: QPaintEvent) -> None:
        paint_panel(QPainter(self), QRectF(self.rect()))
