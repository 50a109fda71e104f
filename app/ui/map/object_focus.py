"""The focused object's outline in the detail view: a click on the object map focuses an
object (``AppState.focused_object``) and opens its image; once the image is shown, its box is
outlined above the annotation overlay (a wide white frame around a class-neutral dark one)."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPen
from PySide6.QtWidgets import QGraphicsRectItem

from app.gui_model.object_map import ObjectFocus
from app.gui_model.state import AppState
from app.ui.detail.widget import DetailView

WIDTH = 4.0  # screen pixels
Z = 5.0  # above the boxes and labels of the annotation overlay


class ObjectFocusOutline:
    """Keeps the outline of the focused object on the detail image while that image is shown."""

    def __init__(self, detail: DetailView, state: AppState) -> None:
        self.detail, self.state = detail, state
        self.items: list[QGraphicsRectItem] = []
        state.subscribe(self._on_state)
        detail.loader.loaded.connect(self._on_loaded)

    def _on_state(self, event: str) -> None:
        if event in ("focused_object", "current"):
            self.update()

    def _on_loaded(self, sample_id: int, image: QImage) -> None:
        self.update()

    def update(self) -> None:
        """Draw the outline when the focused object's image is the one shown, else remove it."""
        self.clear()
        focus = self.state.focused_object
        pixmap = self.detail.image_view.pixmap()
        if not isinstance(focus, ObjectFocus) or pixmap is None or pixmap.isNull():
            return
        if self.detail.row is None or self.detail.row.id != focus.sample_id:
            return
        width = focus.image_size[0] or pixmap.width()
        scale = pixmap.width() / width if width else 1.0
        x, y, w, h = (value * scale for value in focus.box)
        scene = self.detail.image_view.scene()
        for colour, extra in ((QColor(255, 255, 255), WIDTH), (QColor(20, 20, 20), WIDTH / 2)):
            pen = QPen(colour, extra)
            pen.setCosmetic(True)
            pen.setJoinStyle(Qt.PenJoinStyle.MiterJoin)
            item = QGraphicsRectItem(QRectF(x, y, w, h))
            item.setPen(pen)
            item.setZValue(Z)
            item.setData(0, focus.object_id)
            scene.addItem(item)
            self.items.append(item)

    def clear(self) -> None:
        for item in self.items:
            if item.scene() is not None:
                item.scene().removeItem(item)
        self.items.clear()

    def rect(self) -> QRectF | None:
        """The outlined box in scene coordinates, or None."""
        return self.items[0].rect() if self.items else None


def install_object_focus(detail: DetailView, state: AppState) -> ObjectFocusOutline:
    """Outline the focused object in ``detail`` from now on."""
    return ObjectFocusOutline(detail, state)
