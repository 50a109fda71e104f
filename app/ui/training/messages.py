"""A word-wrapped message line in the panel: information, a warning or an error."""

from __future__ import annotations

from typing import Literal

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

Level = Literal["info", "success", "warning", "error"]
COLOURS: dict[Level, str] = {
    "info": "palette(window-text)",
    "success": "#5cb85c",
    "warning": "#e0a030",
    "error": "#ff6b6b",
}


class MessageLabel(QLabel):
    """Shows one message at a time; hidden when empty. ``level`` tells which kind is shown."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.level: Level | None = None
        self.clear_message()

    def show_message(self, text: str, level: Level = "info") -> None:
        self.level = level
        self.setText(text)
        self.setStyleSheet(f"QLabel {{ color: {COLOURS[level]}; }}")
        self.setVisible(bool(text))

    def clear_message(self) -> None:
        self.level = None
        self.clear()
        self.setVisible(False)
