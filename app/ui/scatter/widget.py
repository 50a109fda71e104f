"""EmbeddingScatter: the embedding map widget (points, tools, legend, hover card).

The widget keeps the view and turns events into view changes, signals and overlays; what is
drawn and found lives in :class:`~app.ui.scatter.scene.Scene`. Selection is not changed here:
a lasso, a box or Esc emits a signal, the app edits its shared state, and calls
``set_selection`` back, so every view shows the same selection.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPixmap,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QWidget

from app.ui.scatter.colour_bar import ColourBar
from app.ui.scatter.colouring import BACKGROUND
from app.ui.scatter.gesture import Gesture
from app.ui.scatter.hover_card import HoverCard
from app.ui.scatter.legend import Legend
from app.ui.scatter.overlay_style import MARGIN, MUTED
from app.ui.scatter.raster import PAD, PixelTransform
from app.ui.scatter.scene import Scene
from app.ui.scatter.toolbar import ScatterToolbar
from app.ui.scatter.viewport import Viewport

CardProvider = Callable[[int], tuple[QPixmap | None, str]]
HOVER_DELAY_MS = 250
PICK_RADIUS = 6.0  # logical pixels around the cursor that count as "on" a point
WHEEL_NOTCH = 1.25  # zoom per wheel notch
_TOOL_KEYS = {Qt.Key.Key_L: "lasso", Qt.Key.Key_B: "box", Qt.Key.Key_P: "pan"}
_CURSORS = {
    "lasso": Qt.CursorShape.CrossCursor,
    "box": Qt.CursorShape.CrossCursor,
    "pan": Qt.CursorShape.OpenHandCursor,
}


class EmbeddingScatter(QWidget):
    """A 2-D map of up to millions of samples, drawn with numpy into one image per frame."""

    clicked = Signal(int)
    lasso_selected = Signal(object, str)
    hovered = Signal(int)
    selection_cleared = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._scene = Scene()
        self._view = Viewport()
        self._fitted = False
        self._user_moved = False
        self._tool = "lasso"
        self._gesture: Gesture | None = None
        self._card_provider: CardProvider | None = None
        self._hover_at = QPoint()
        self._hovered = -1
        self._hover_timer = QTimer(self, singleShot=True, interval=HOVER_DELAY_MS)
        self._hover_timer.timeout.connect(self._dwell)
        self._toolbar = ScatterToolbar(self)
        self._toolbar.tool_chosen.connect(self.set_tool)
        self._toolbar.fit_requested.connect(self.fit_view)
        self.legend = Legend(self)
        self.legend.rows.toggled.connect(self._toggle_class)
        self.legend.rows.isolated.connect(self._isolate_class)
        self.legend.hide()
        self.colour_bar = ColourBar(self)
        self.colour_bar.hide()
        self._card = HoverCard(self)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setMinimumSize(160, 120)
        self.set_tool("lasso")

    # ------------------------------------------------------------------ content
    def set_points(self, xy: np.ndarray, categories: object = None, values: object = None) -> None:
        """Shows ``xy`` ((N, 2); non-finite rows are left out), coloured as ``set_colours``."""
        old_n = self._scene.n
        self._scene.set_points(xy, categories, values)
        self._hide_card()
        self._colours_changed()
        if self._scene.n != old_n or not self._fitted:
            self.fit_view()
        self.update()

    def set_positions(self, xy: np.ndarray) -> None:
        """Moves the same N points (a UMAP epoch), keeping colours and marks.

        The view follows the points (refits) until the user pans or zooms; then it stays put.
        """
        self._scene.set_positions(xy)
        if not self._fitted or not self._user_moved:
            self.fit_view()
        self.update()

    def set_colours(self, categories: object = None, values: object = None) -> None:
        """Colours by ``values`` (float, NaN = missing) if given, else by ``categories``."""
        self._scene.set_colours(categories, values)
        self._colours_changed()
        self.update()

    def set_selection(self, indices: object) -> None:
        self._scene.set_selection(indices)
        self.update()

    def set_highlight(self, indices: object) -> None:
        self._scene.set_highlight(indices)
        self.update()

    def selected_rows(self) -> np.ndarray:
        """The rows drawn as selected (sorted)."""
        return self._scene.selection

    def set_current(self, index: int | None) -> None:
        self._scene.set_current(index)
        self.update()

    def set_card_provider(self, provider: CardProvider | None) -> None:
        """``provider(row) -> (thumbnail or None, text)`` fills the hover card."""
        self._card_provider = provider

    def set_class_visibility(self, visible: np.ndarray) -> None:
        """One flag per legend class; hidden classes are neither drawn nor picked nor lassoed."""
        self._scene.set_class_visibility(visible)
        self.legend.rows.set_visible(self._scene.class_visible)
        self.update()

    def class_visibility(self) -> np.ndarray:
        return self._scene.class_visible.copy()

    # --------------------------------------------------------------------- view
    def fit_view(self) -> None:
        self._user_moved = False
        bounds = self._scene.data_bounds()
        self._fitted = bounds is not None
        if bounds is None:
            self._view = Viewport(width=self.width(), height=self.height())
        else:
            self._view = Viewport.fit(bounds, self.width(), self.height())
        self.update()

    def view(self) -> Viewport:
        return self._view

    def set_view(self, view: Viewport) -> None:
        self._view = view.resized(self.width(), self.height())
        self._user_moved = True
        self.update()

    def map_to_widget(self, xy: np.ndarray) -> np.ndarray:
        """Widget coordinates (logical pixels) of data points ((M, 2) -> (M, 2))."""
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        return np.column_stack(self._view.to_widget(xy[:, 0], xy[:, 1]))

    def tool(self) -> str:
        return self._tool

    def set_tool(self, name: str) -> None:
        """``"lasso"``, ``"box"`` or ``"pan"``: what a left drag does."""
        if name not in _CURSORS:
            raise ValueError(f"unknown tool {name!r}")
        self._tool = name
        self._toolbar.show_tool(name)
        self.setCursor(_CURSORS[name])

    # ------------------------------------------------------------------ queries
    def pick(self, x: float, y: float) -> int | None:
        """The drawn row nearest widget ``(x, y)`` within a few pixels, else None."""
        if self._scene.n == 0:
            return None
        radius = max(PICK_RADIUS, self._scene.last_style_radius + 3)
        return self._scene.pick(self._view, self._dpr(), x, y, radius)

    def rows_in_polygon(self, polygon: np.ndarray) -> np.ndarray:
        """Sorted rows of the drawn points inside a widget-pixel polygon ((V, 2))."""
        return self._scene.rows_in_polygon(self._view, self._dpr(), polygon)

    # ------------------------------------------------------------------ painting
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        if self._scene.data_bounds() is None:
            painter.fillRect(self.rect(), QColor.fromRgb(BACKGROUND))
            painter.setPen(MUTED)
            message = "No points to show" if self._scene.n == 0 else "No point has a position"
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, message)
            return
        dpr = self._dpr()
        frame = self._scene.frame(self._view, dpr)
        height, width = frame.shape
        image = QImage(frame.data, width, height, width * 4, QImage.Format.Format_RGB32)
        source = QRectF(PAD, PAD, width - 2 * PAD, height - 2 * PAD)
        painter.drawImage(QRectF(0, 0, self.width(), self.height()), image, source)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        self._paint_current(painter, dpr)
        if self._gesture is not None and self._gesture.kind != "pan":
            painter.setPen(QPen(QColor(255, 255, 255, 220), 1.3, Qt.PenStyle.DashLine))
            painter.setBrush(QColor(255, 255, 255, 28))
            painter.drawPath(self._gesture.outline())

    def _paint_current(self, painter: QPainter, dpr: float) -> None:
        row = self._scene.current
        if row is None or not self._scene.row_shown(row):
            return
        t = PixelTransform.of(self._view, self._scene.layout.frame, dpr)
        px, py = t.apply(*self._scene.row_unit(row))
        centre = QPointF((px - PAD) / dpr, (py - PAD) / dpr)
        painter.setPen(QPen(QColor(20, 20, 24), 4.0))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawEllipse(centre, 7.0, 7.0)
        painter.setPen(QPen(QColor(255, 255, 255), 2.0))
        painter.setBrush(QColor.fromRgba(self._scene.row_colour(row)))
        painter.drawEllipse(centre, 7.0, 7.0)

    # ------------------------------------------------------------------- mouse
    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        self._hide_card()
        if self._gesture is not None:
            return
        button = event.button()
        if button == Qt.MouseButton.LeftButton:
            kind = self._tool
        elif button in (Qt.MouseButton.MiddleButton, Qt.MouseButton.RightButton):
            kind = "pan"
        else:
            return
        self._gesture = Gesture(kind, button, event.position(), event.modifiers())
        if kind == "pan":
            self.setCursor(Qt.CursorShape.ClosedHandCursor)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        gesture = self._gesture
        if gesture is None:
            self._follow_hover(event.position().toPoint())
            return
        delta = gesture.move(event.position())
        if gesture.dragging and gesture.kind == "pan":
            self._view = self._view.panned(delta.x(), delta.y())
            self._user_moved = True
        if gesture.dragging:
            self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        gesture = self._gesture
        if gesture is None or event.button() != gesture.button:
            return
        gesture.move(event.position())
        self._gesture = None
        self.setCursor(_CURSORS[self._tool])
        if not gesture.dragging:
            if gesture.button == Qt.MouseButton.LeftButton:
                row = self.pick(event.position().x(), event.position().y())
                self.clicked.emit(-1 if row is None else row)
        elif gesture.kind == "lasso":
            rows = self.rows_in_polygon(gesture.polygon())
            self.lasso_selected.emit(rows, gesture.mode(event.modifiers()))
        elif gesture.kind == "box":
            box = gesture.box()
            rows = self._scene.rows_in_box(
                self._view, self._dpr(), box.left(), box.top(), box.right(), box.bottom()
            )
            self.lasso_selected.emit(rows, gesture.mode(event.modifiers()))
        self.update()

    def wheelEvent(self, event: QWheelEvent) -> None:
        notches = event.angleDelta().y() / 120
        if notches == 0 or self._scene.data_bounds() is None:
            return
        at = event.position()
        self._view = self._view.zoomed(WHEEL_NOTCH**notches, at.x(), at.y())
        self._user_moved = True
        self._hide_card()
        self.update()

    def leaveEvent(self, event: object) -> None:
        self._hover_timer.stop()
        self._hide_card()
        super().leaveEvent(event)

    # --------------------------------------------------------------------- keys
    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key == Qt.Key.Key_Escape:
            if self._gesture is not None and self._gesture.kind != "pan":
                self._gesture = None
                self.update()
            else:
                self.selection_cleared.emit()
        elif key in _TOOL_KEYS and not event.modifiers():
            self.set_tool(_TOOL_KEYS[key])
        elif key == Qt.Key.Key_F and not event.modifiers():
            self.fit_view()
        else:
            super().keyPressEvent(event)

    # ------------------------------------------------------------------- layout
    def resizeEvent(self, event: QResizeEvent) -> None:
        old_size_valid = event.oldSize().isValid() and min(event.oldSize().toTuple()) > 0
        if self._fitted and self._user_moved and old_size_valid:
            self._view = self._view.resized(self.width(), self.height())
        else:
            self.fit_view()
        self._place_overlays()
        super().resizeEvent(event)

    def _place_overlays(self) -> None:
        self._toolbar.move(MARGIN, MARGIN)
        bar = self.colour_bar
        bar.move(self.width() - bar.width() - MARGIN, self.height() - bar.height() - MARGIN)
        reserved = bar.height() + MARGIN if not bar.isHidden() else 0
        self.legend.fit(self.height() - 2 * MARGIN - reserved)
        self.legend.move(self.width() - self.legend.width() - MARGIN, MARGIN)

    # ------------------------------------------------------------------ helpers
    def _colours_changed(self) -> None:
        colouring = self._scene.colouring
        if colouring.names:
            filled = not colouring.continuous
            self.legend.rows.set_classes(
                colouring.names, colouring.counts, colouring.class_colours, filled
            )
            self.legend.rows.set_visible(self._scene.class_visible)
        self.legend.setVisible(bool(colouring.names))
        if colouring.continuous:
            low, high = colouring.value_range
            self.colour_bar.set_ramp(colouring.palette, low, high, colouring.missing)
        self.colour_bar.setVisible(colouring.continuous)
        self._place_overlays()

    def _toggle_class(self, index: int) -> None:
        visible = self._scene.class_visible.copy()
        visible[index] = not visible[index]
        self.set_class_visibility(visible)

    def _isolate_class(self, index: int) -> None:
        """Shows only class ``index``; when every other class is hidden already, shows all."""
        visible = self._scene.class_visible
        others = np.delete(visible, index)
        if not others.any():
            self.set_class_visibility(np.ones_like(visible))
        else:
            isolated = np.zeros_like(visible)
            isolated[index] = True
            self.set_class_visibility(isolated)

    def _follow_hover(self, position: QPoint) -> None:
        self._hover_at = position
        self._hover_timer.start()
        if self._hovered >= 0 and self.pick(position.x(), position.y()) != self._hovered:
            self._hide_card()

    def _dwell(self) -> None:
        if self._gesture is not None:
            return
        row = self.pick(self._hover_at.x(), self._hover_at.y())
        row = -1 if row is None else row
        if row != self._hovered:
            self._hovered = row
            self.hovered.emit(row)
        if row >= 0 and self._card_provider is not None:
            pixmap, text = self._card_provider(row)
            self._card.show_at(self._hover_at, pixmap, text)
        else:
            self._card.hide()

    def _hide_card(self) -> None:
        self._card.hide()
        if self._hovered >= 0:
            self._hovered = -1
            self.hovered.emit(-1)

    def _dpr(self) -> float:
        return float(self.devicePixelRatioF())
