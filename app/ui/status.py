"""The status bar panel: the main runner's job line (see :mod:`app.ui.job_progress`) or counts."""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from app.engine import JobRunner
from app.ui.job_progress import JobProgress

STAGE_WIDTH = 360


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"


class StatusPanel(QWidget):
    """Follows a :class:`JobRunner`; shows ``counts`` whenever no job runs."""

    def __init__(self, runner: JobRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.job = JobProgress(runner, row=True, text_width=STAGE_WIDTH)
        self.stage_label = self.job.label
        self.progress_bar = self.job.bar
        self.rate_label = self.job.rate_label
        self.cancel_button = self.job.cancel_button
        self.counts_label = QLabel("No project open")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.addWidget(self.job)
        layout.addStretch(1)
        layout.addWidget(self.counts_label, 0, Qt.AlignmentFlag.AlignRight)
        runner.busy_changed.connect(self._on_busy_changed)
        self._on_busy_changed(runner.is_busy)

    def set_counts(self, text: str, details: str = "") -> None:
        """The idle line; ``details`` (e.g. what could not be read) is its tooltip."""
        self.counts_label.setText(text)
        self.counts_label.setToolTip(details)

    @Slot(bool)
    def _on_busy_changed(self, busy: bool) -> None:
        self.counts_label.setVisible(not busy)
