"""A one-line progress display for a :class:`JobRunner`: what runs, a bar, Cancel; and, once
idle, the last outcome (an error in the palette's warning colour)."""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from app.core.jobs import Progress
from app.engine import JobRunner


class ProgressLine(QWidget):
    """Follows ``runner``; :meth:`show_message` / :meth:`show_error` set the idle text."""

    def __init__(self, runner: JobRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self._job = ""
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setMaximumWidth(140)
        self.bar.setTextVisible(False)
        self.cancel = QPushButton("Cancel")
        self.cancel.setToolTip("Stop at the next step")
        self.cancel.clicked.connect(runner.cancel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel)
        runner.started.connect(self._on_started)
        runner.progress.connect(self._on_progress)
        runner.busy_changed.connect(self._on_busy)
        runner.cancelled.connect(lambda: self.show_message(f"{self._job} cancelled"))
        self._on_busy(runner.is_busy)

    def show_message(self, text: str) -> None:
        self.label.setStyleSheet("")
        self.label.setText(text)

    def show_error(self, text: str) -> None:
        colour = self.palette().color(QPalette.ColorRole.BrightText).name()
        self.label.setStyleSheet(f"color: {colour};")
        self.label.setText(text)

    @Slot(str)
    def _on_started(self, name: str) -> None:
        self._job = name
        self.show_message(f"{name}\u2026")
        self.bar.setRange(0, 0)

    @Slot(object)
    def _on_progress(self, progress: Progress) -> None:
        self.label.setText(f"{self._job}: {progress.message or progress.stage}")
        if progress.total:
            self.bar.setRange(0, progress.total)
            self.bar.setValue(min(progress.done, progress.total))
        else:
            self.bar.setRange(0, 0)

    @Slot(bool)
    def _on_busy(self, busy: bool) -> None:
        self.bar.setVisible(busy)
        self.cancel.setVisible(busy)
