"""The page shown when no project is open: what Sieve is and two ways to start."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget


class WelcomePage(QWidget):
    """Title, a short explanation, and Open folder / Open demo buttons."""

    open_folder_clicked = Signal()
    open_demo_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        title = QLabel("Sieve")
        font = QFont(title.font())
        font.setPointSizeF(font.pointSizeF() * 2.4)
        font.setBold(True)
        title.setFont(font)
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        text = QLabel(
            "Curate image and video datasets with self-supervised learning.\n"
            "Open a folder of images or videos (one sub-folder per label, if it has labels),\n"
            "or try the small demo dataset."
        )
        text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.open_folder_button = QPushButton("Open folder…")
        self.open_demo_button = QPushButton("Open demo")
        for button in (self.open_folder_button, self.open_demo_button):
            button.setMinimumWidth(140)
        self.open_folder_button.setDefault(True)
        self.open_folder_button.clicked.connect(self.open_folder_clicked)
        self.open_demo_button.clicked.connect(self.open_demo_clicked)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.open_folder_button)
        buttons.addWidget(self.open_demo_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(title)
        layout.addSpacing(8)
        layout.addWidget(text)
        layout.addSpacing(16)
        layout.addLayout(buttons)
        layout.addStretch(2)

    def set_enabled_actions(self, enabled: bool) -> None:
        """Disable the buttons while a job runs."""
        self.open_folder_button.setEnabled(enabled)
        self.open_demo_button.setEnabled(enabled)
