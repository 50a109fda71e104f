"""A job's progress inside a panel: what it is doing, a bar with rate and ETA, and Cancel.

The status bar follows the main window's runner; each panel's own runner reports here.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from app.core.jobs import Progress, RateMeter, format_duration
from app.engine import JobRunner


class JobProgress(QWidget):
    """Follows ``runner`` while it is busy; Cancel calls ``on_cancel`` (default: cancel the job)."""

    def __init__(
        self,
        runner: JobRunner,
        on_cancel: Callable[[], None] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._runner = runner
        self._on_cancel = on_cancel or runner.cancel
        self._name = ""
        self._stage = ""
        self._meter = RateMeter()
        self.text = QLabel()
        self.text.setTextFormat(Qt.TextFormat.PlainText)
        self.text.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the job at its next step")
        self.cancel_button.clicked.connect(self._cancel)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.bar, 1)
        row.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.text)
        layout.addLayout(row)
        runner.started.connect(self._on_started)
        runner.progress.connect(self._on_progress)
        runner.busy_changed.connect(self._on_busy_changed)
        self._on_busy_changed(runner.is_busy)

    @Slot(str)
    def _on_started(self, name: str) -> None:
        self._name, self._stage = name, ""
        self.text.setText(f"{name}…")
        self.bar.setRange(0, 0)
        self.cancel_button.setEnabled(True)

    @Slot(object)
    def _on_progress(self, progress: Progress) -> None:
        self.text.setText(progress.message or f"{self._name} · {progress.stage}")
        if progress.stage != self._stage:
            self._stage, self._meter = progress.stage, RateMeter()
        self._meter.update(progress.done)
        if progress.total:
            self.bar.setRange(0, progress.total)
            self.bar.setValue(min(progress.done, progress.total))
            eta = self._meter.eta(progress.done, progress.total)
            left = f" · ETA {format_duration(eta)}" if eta is not None else ""
            self.bar.setFormat(f"{progress.done:,} / {progress.total:,}{left}")
        else:
            self.bar.setRange(0, 0)

    @Slot(bool)
    def _on_busy_changed(self, busy: bool) -> None:
        self.setVisible(busy)

    def _cancel(self) -> None:
        self.cancel_button.setEnabled(False)
        self.text.setText(f"{self._name} · stopping…")
        self._on_cancel()
