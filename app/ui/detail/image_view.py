"""A zoomable, pannable view of one image, or a message in its place.

Fit is the default and follows resizes until the user zooms; the wheel zooms around the cursor,
``+`` / ``-`` around the centre, ``1`` shows pixels 1:1, ``0`` or ``F`` fits again. Dragging pans.
Navigation keys (arrows, Page Up / Down, Home, End, Esc) are left to the parent widget.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRectF, Qt
from PySide6.QtGui import QImage, QKeyEvent, QPainter, QPixmap, QResizeEvent, QWheelEvent
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QWidget,
)

ZOOM_STEP = 1.25
MIN_SCALE = 0.02
MAX_SCALE = 64.0
CRISP_FROM = 2.0  # at this magnification and above, pixels are drawn as squares
_PASSED_ON = {
    Qt.Key.Key_Left,
    Qt.Key.Key_Right,
    Qt.Key.Key_Up,
    Qt.Key.Key_Down,
    Qt.Key.Key_PageUp,
    Qt.Key.Key_PageDown,
    Qt.Key.Key_Home,
    Qt.Key.Key_End,
    Qt.Key.Key_Escape,
}


class ImageView(QGraphicsView):
    """Shows one QImage / QPixmap with fit, zoom and pan, or a one-line message."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self._item = QGraphicsPixmapItem()
        self._item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._text = QGraphicsSimpleTextItem()
        self._text.setBrush(self.palette().text())
        self.scene().addItem(self._item)
        self.scene().addItem(self._text)
        self._fit_mode = True
        self.setRenderHints(QPainter.RenderHint.SmoothPixmapTransform)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setBackgroundBrush(self.palette().window())
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.show_message("")

    # ------------------------------------------------------------------ content
    def set_image(self, image: QImage | QPixmap) -> None:
        """Show ``image`` fitted into the view."""
        pixmap = QPixmap.fromImage(image) if isinstance(image, QImage) else image
        self._text.hide()
        self._item.setPixmap(pixmap)
        self._item.show()
        self.setSceneRect(QRectF(pixmap.rect()))
        self.fit()

    def show_message(self, text: str) -> None:
        """Replace the image with ``text`` (e.g. "Loading…" or "broken: <reason>")."""
        self._item.hide()
        self._item.setPixmap(QPixmap())
        self._text.setText(text)
        self._text.show()
        self.resetTransform()
        self.setSceneRect(self._text.boundingRect())
        self.centerOn(self._text)

    def pixmap(self) -> QPixmap | None:
        """The image shown, or None in message mode."""
        return None if not self._item.isVisible() else self._item.pixmap()

    def message(self) -> str:
        """The message shown, or "" while an image is shown."""
        return self._text.text() if self._text.isVisible() else ""

    # --------------------------------------------------------------------- zoom
    @property
    def fit_mode(self) -> bool:
        return self._fit_mode

    def scale_factor(self) -> float:
        """Screen pixels per image pixel."""
        return self.transform().m11()

    def fit(self) -> None:
        """Fit the whole image into the view, and keep fitting on resizes."""
        self._fit_mode = True
        if self.pixmap() is not None and not self._item.pixmap().isNull():
            self.fitInView(self._item, Qt.AspectRatioMode.KeepAspectRatio)
            self._update_smoothing()

    def actual_size(self) -> None:
        """One image pixel per screen pixel."""
        self._set_scale(1.0)

    def zoom_by(self, factor: float, anchor: QPoint | None = None) -> None:
        """Multiply the scale by ``factor``, keeping the point under ``anchor`` in place."""
        self._set_scale(self.scale_factor() * factor, anchor)

    def _set_scale(self, scale: float, anchor: QPoint | None = None) -> None:
        if self.pixmap() is None:
            return
        self._fit_mode = False
        scale = min(max(scale, MIN_SCALE), MAX_SCALE)
        fixed = self.mapToScene(anchor) if anchor is not None else None
        factor = scale / self.scale_factor()
        self.scale(factor, factor)
        if fixed is not None:
            moved = self.mapFromScene(fixed) - anchor
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + moved.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() + moved.y())
        self._update_smoothing()

    def _update_smoothing(self) -> None:
        crisp = self.scale_factor() >= CRISP_FROM
        self._item.setTransformationMode(
            Qt.TransformationMode.FastTransformation
            if crisp
            else Qt.TransformationMode.SmoothTransformation
        )
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, not crisp)

    # ------------------------------------------------------------------- events
    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120
        if not steps or self.pixmap() is None:
            event.ignore()
            return
        self.zoom_by(ZOOM_STEP**steps, event.position().toPoint())
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in _PASSED_ON:
            event.ignore()
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom_by(ZOOM_STEP)
        elif key in (Qt.Key.Key_Minus, Qt.Key.Key_Underscore):
            self.zoom_by(1 / ZOOM_STEP)
        elif key == Qt.Key.Key_1:
            self.actual_size()
        elif key in (Qt.Key.Key_0, Qt.Key.Key_F):
            self.fit()
        else:
            super().keyPressEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._fit_mode:
            self.fit()
        elif self.pixmap() is None:
            self.centerOn(self._text)
