"""ProgressLine: the panel's own running job (what it does, a bar, Cancel); hidden when idle."""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from app.core.jobs import Progress
from app.engine import JobRunner


class ProgressLine(QWidget):
    """Follows a :class:`JobRunner`."""

    def __init__(self, runner: JobRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._job = ""
        self.label = QLabel()
        self.label.setMinimumWidth(80)
        self.bar = QProgressBar()
        self.bar.setMaximumWidth(90)
        self.bar.setTextVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the running job at its next step")
        self.cancel_button.clicked.connect(runner.cancel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)
        runner.started.connect(self._on_started)
        runner.progress.connect(self._on_progress)
        runner.busy_changed.connect(self.setVisible)
        self.setVisible(runner.is_busy)

    @Slot(str)
    def _on_started(self, name: str) -> None:
        self._job = name
        self.label.setText(f"{name}\u2026")
        self.bar.setRange(0, 0)

    @Slot(object)
    def _on_progress(self, progress: Progress) -> None:
        self.label.setText(progress.message or f"{self._job}: {progress.stage}")
        if progress.total:
            self.bar.setRange(0, progress.total)
            self.bar.setValue(min(progress.done, progress.total))
        else:
            self.bar.setRange(0, 0)
