"""The page shown when no project is open: what Sieve is and two ways to start."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.ui.theme import app_icon


class WelcomePage(QWidget):
    """Title, a short explanation, Open folder / Open demo buttons and the recent projects."""

    open_folder_clicked = Signal()
    open_demo_clicked = Signal()
    recent_clicked = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        title = QLabel("Sieve")
        font = QFont(title.font())
        font.setPointSizeF(font.pointSizeF() * 2.4)
        font.setBold(True)
        title.setFont(font)
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        logo = QLabel()
        logo.setPixmap(app_icon().pixmap(96, 96))
        logo.setAlignment(Qt.AlignmentFlag.AlignCenter)
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
        self.recent_title = QLabel("Recent projects")
        self.recent_title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.recent = QListWidget()
        self.recent.setMaximumWidth(560)
        self.recent.setMaximumHeight(180)
        self.recent.itemClicked.connect(self._on_recent)
        recent_row = QHBoxLayout()
        recent_row.addStretch(1)
        recent_row.addWidget(self.recent, 4)
        recent_row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(logo)
        layout.addWidget(title)
        layout.addSpacing(8)
        layout.addWidget(text)
        layout.addSpacing(16)
        layout.addLayout(buttons)
        layout.addSpacing(24)
        layout.addWidget(self.recent_title)
        layout.addLayout(recent_row)
        layout.addStretch(2)
        self.set_recent([])

    def set_recent(self, paths: list[Path]) -> None:
        """List recent project folders (the newest first); hidden when there are none."""
        self.recent.clear()
        for path in paths:
            item = QListWidgetItem(
                f"{path.parent.name if path.name == '.sieve' else path.name}  —  {path}"
            )
            item.setData(Qt.ItemDataRole.UserRole, str(path))
            item.setToolTip(str(path))
            self.recent.addItem(item)
        self.recent_title.setVisible(bool(paths))
        self.recent.setVisible(bool(paths))

    def _on_recent(self, item: QListWidgetItem) -> None:
        self.recent_clicked.emit(item.data(Qt.ItemDataRole.UserRole))

    def set_enabled_actions(self, enabled: bool) -> None:
        """Disable the buttons while a job runs."""
        self.open_folder_button.setEnabled(enabled)
        self.open_demo_button.setEnabled(enabled)
