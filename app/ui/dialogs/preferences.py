"""Edit > Preferences: thumbnail size and what Sieve remembers."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QPushButton, QSpinBox, QWidget

from app.ui.settings import Settings

MIN_THUMBNAIL, MAX_THUMBNAIL = 64, 256


class PreferencesDialog(QDialog):
    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.settings = settings
        self.thumbnail_size = QSpinBox()
        self.thumbnail_size.setRange(MIN_THUMBNAIL, MAX_THUMBNAIL)
        self.thumbnail_size.setSingleStep(16)
        self.thumbnail_size.setSuffix(" px")
        self.thumbnail_size.setValue(settings.thumbnail_size())
        self.clear_recent = QPushButton("Forget recent projects")
        self.clear_recent.clicked.connect(self._clear_recent)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Thumbnail size", self.thumbnail_size)
        form.addRow("Recent projects", self.clear_recent)
        form.addRow(buttons)

    def _clear_recent(self) -> None:
        self.settings.clear_recent_projects()
        self.clear_recent.setEnabled(False)

    def accept(self) -> None:
        self.settings.set_thumbnail_size(self.thumbnail_size.value())
        super().accept()
