"""The status bar panel: the running job (stage, bar, rate, ETA, Cancel) or, when idle, counts."""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from app.core.jobs import Progress, RateMeter, format_duration
from app.engine import JobRunner

STAGE_WIDTH = 360
RATE_SAMPLE = "88,888/s · ETA 88:88:88"  # sizes the rate label so it does not jitter


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"


class StatusPanel(QWidget):
    """Follows a :class:`JobRunner`; shows ``counts`` whenever no job runs."""

    def __init__(self, runner: JobRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._job = ""
        self._stage = ""
        self._meter = RateMeter()
        self.stage_label = QLabel()
        self.stage_label.setFixedWidth(STAGE_WIDTH)
        self.progress_bar = QProgressBar()
        self.progress_bar.setFixedWidth(200)
        self.progress_bar.setTextVisible(True)
        self.rate_label = QLabel()
        self.rate_label.setMinimumWidth(
            self.rate_label.fontMetrics().horizontalAdvance(RATE_SAMPLE)
        )
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the running job at its next step")
        self.cancel_button.clicked.connect(self._on_cancel)
        self.counts_label = QLabel("No project open")

        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.addWidget(self.stage_label)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.rate_label)
        layout.addWidget(self.cancel_button)
        layout.addStretch(1)
        layout.addWidget(self.counts_label, 0, Qt.AlignmentFlag.AlignRight)

        runner.started.connect(self._on_started)
        runner.progress.connect(self._on_progress)
        runner.busy_changed.connect(self._on_busy_changed)
        self._on_busy_changed(runner.is_busy)

    def set_counts(self, text: str, details: str = "") -> None:
        """The idle line; ``details`` (e.g. what could not be read) is its tooltip."""
        self.counts_label.setText(text)
        self.counts_label.setToolTip(details)

    @Slot(str)
    def _on_started(self, name: str) -> None:
        self._job, self._stage = name, ""
        self._meter = RateMeter()
        self._set_stage(f"{name}…")
        self.progress_bar.setRange(0, 0)
        self.rate_label.clear()
        self.cancel_button.setEnabled(True)

    @Slot(object)
    def _on_progress(self, progress: Progress) -> None:
        if progress.stage != self._stage:
            self._stage = progress.stage
            self._meter = RateMeter()
        self._meter.update(progress.done)
        message = f": {progress.message}" if progress.message else ""
        self._set_stage(f"{self._job} · {progress.stage}{message}")
        if progress.total:
            self.progress_bar.setRange(0, progress.total)
            self.progress_bar.setValue(min(progress.done, progress.total))
            self.progress_bar.setFormat(f"{progress.done:,} / {progress.total:,}")
        else:
            self.progress_bar.setRange(0, 0)
        rate = self._meter.rate
        if rate is None:
            self.rate_label.clear()
        else:
            eta = format_duration(self._meter.eta(progress.done, progress.total))
            self.rate_label.setText(f"{rate:,.0f}/s · ETA {eta}")

    @Slot(bool)
    def _on_busy_changed(self, busy: bool) -> None:
        for widget in (self.stage_label, self.progress_bar, self.rate_label, self.cancel_button):
            widget.setVisible(busy)
        self.counts_label.setVisible(not busy)

    @Slot()
    def _on_cancel(self) -> None:
        self.cancel_button.setEnabled(False)
        self._set_stage(f"{self._job} · cancelling…")
        self._runner.cancel()

    def _set_stage(self, text: str) -> None:
        metrics = self.stage_label.fontMetrics()
        self.stage_label.setText(metrics.elidedText(text, Qt.TextElideMode.ElideRight, STAGE_WIDTH))
        self.stage_label.setToolTip(text)
