"""One mouse gesture on the map, from press to release: a click, a lasso, a box or a pan."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QPainterPath

Kind = Literal["lasso", "box", "pan"]
DRAG_START = 4.0  # pixels the mouse moves before a press becomes a drag
LASSO_STEP = 2.0  # pixels between recorded lasso vertices


@dataclass
class Gesture:
    kind: Kind
    button: Qt.MouseButton
    start: QPointF
    modifiers: Qt.KeyboardModifier
    last: QPointF = field(default_factory=QPointF)
    path: list[tuple[float, float]] = field(default_factory=list)
    dragging: bool = False

    def __post_init__(self) -> None:
        self.last = QPointF(self.start)
        self.path = [(self.start.x(), self.start.y())]

    def move(self, position: QPointF) -> QPointF:
        """Follows the mouse; returns how far it moved since the last call."""
        delta = position - self.last
        self.last = QPointF(position)
        if not self.dragging and (position - self.start).manhattanLength() >= DRAG_START:
            self.dragging = True
        if self.kind == "lasso" and self.dragging:
            px, py = self.path[-1]
            if abs(position.x() - px) + abs(position.y() - py) >= LASSO_STEP:
                self.path.append((position.x(), position.y()))
        return delta

    def polygon(self) -> np.ndarray:
        """The lasso's vertices (V, 2), closed implicitly."""
        return np.array(self.path, dtype=np.float64).reshape(-1, 2)

    def box(self) -> QRectF:
        return QRectF(self.start, self.last).normalized()

    def outline(self) -> QPainterPath:
        """What to draw while the gesture runs (empty for a pan)."""
        path = QPainterPath()
        if self.kind == "lasso" and len(self.path) > 1:
            path.moveTo(*self.path[0])
            for x, y in self.path[1:]:
                path.lineTo(x, y)
            path.lineTo(self.last)
            path.closeSubpath()
        elif self.kind == "box" and self.dragging:
            path.addRect(self.box())
        return path

    def mode(self, modifiers: Qt.KeyboardModifier) -> str:
        """Selection mode from the keys held at press or release: Ctrl removes, Shift adds."""
        held = self.modifiers | modifiers
        if held & Qt.KeyboardModifier.ControlModifier:
            return "remove"
        if held & Qt.KeyboardModifier.ShiftModifier:
            return "add"
        return "replace"
