"""The map's tool strip (Lasso / Box / Pan / Fit) floating in its top-left corner."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QButtonGroup, QFrame, QHBoxLayout, QToolButton, QWidget

TOOLS = {
    "lasso": ("Lasso", "Lasso select (L): draw around points. Shift adds, Ctrl removes."),
    "box": ("Box", "Box select (B): drag a rectangle. Shift adds, Ctrl removes."),
    "pan": ("Pan", "Pan (P): drag to move. The wheel zooms; right- or middle-drag always pans."),
}
SHEET = """
QFrame#scatterTools { background: rgba(36, 37, 43, 225); border: 1px solid rgba(255, 255, 255, 38);
  border-radius: 6px; }
QToolButton { color: rgb(226, 229, 233); background: transparent; border: none; border-radius: 4px;
  padding: 3px 8px; }
QToolButton:hover { background: rgba(255, 255, 255, 30); }
QToolButton:checked { background: rgb(45, 120, 200); color: white; }
"""


class ScatterToolbar(QFrame):
    """Checkable tool buttons plus Fit; emits ``tool_chosen(name)`` and ``fit_requested()``."""

    tool_chosen = Signal(str)
    fit_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("scatterTools")
        self.setStyleSheet(SHEET)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(3, 3, 3, 3)
        layout.setSpacing(2)
        self._group = QButtonGroup(self)
        self.buttons: dict[str, QToolButton] = {}
        for name, (text, tip) in TOOLS.items():
            button = self._button(text, tip)
            button.setCheckable(True)
            button.clicked.connect(lambda _=False, name=name: self.tool_chosen.emit(name))
            self._group.addButton(button)
            self.buttons[name] = button
            layout.addWidget(button)
        fit = self._button("Fit", "Fit the whole map in view (F)")
        fit.clicked.connect(self.fit_requested)
        self.buttons["fit"] = fit
        layout.addWidget(fit)
        self.adjustSize()

    def show_tool(self, name: str) -> None:
        self.buttons[name].setChecked(True)

    def _button(self, text: str, tip: str) -> QToolButton:
        button = QToolButton(self)
        button.setText(text)
        button.setToolTip(tip)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        button.setCursor(Qt.CursorShape.PointingHandCursor)
        return button
