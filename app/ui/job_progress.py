"""The one job line: what a :class:`JobRunner` runs (stage, message), a bar, rate and ETA, Cancel.

Panels show it stacked (text above the bar) and hidden while idle, and only once a job has run
for :data:`SHOW_AFTER_MS` (as ``QProgressDialog``'s minimum duration: a job over in an instant
neither flickers a line into the panel nor costs the first show's layout); the status bar and the
selection panel show it as one row, at once. With ``idle="message"`` the text stays while idle
and shows the last outcome set with :meth:`JobProgress.show_message` or
:meth:`JobProgress.show_error`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QBoxLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.jobs import Progress, RateMeter, format_duration
from app.engine import JobRunner

BAR_WIDTH = 160
RATE_SAMPLE = "88,888/s · ETA 88:88:88"  # sizes the rate label so a row does not jitter
SHOW_AFTER_MS = 400  # a panel's line appears once its job has run this long


def progress_text(name: str, progress: Progress) -> str:
    """``job · stage: message`` (without the message when there is none)."""
    message = f": {progress.message}" if progress.message else ""
    return f"{name} · {progress.stage}{message}"


class JobProgress(QWidget):
    """Follows ``runner``; Cancel calls ``on_cancel`` (default: cancel the job).

    ``row`` lays it out on one line; ``text_width`` fixes the text's width (elided, with the
    full text as tooltip); ``idle`` says whether it hides or keeps its message when no job runs.
    """

    def __init__(
        self,
        runner: JobRunner,
        on_cancel: Callable[[], None] | None = None,
        *,
        row: bool = False,
        text_width: int | None = None,
        idle: Literal["hide", "message"] = "hide",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self._on_cancel = on_cancel or runner.cancel
        self._idle = idle
        self._name = ""
        self._stage = ""
        self._meter = RateMeter()
        self.label = QLabel()
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self._text_width = text_width
        if text_width is None:
            self.label.setWordWrap(True)
        else:
            self.label.setFixedWidth(text_width)
        self.bar = QProgressBar()
        self.bar.setTextVisible(True)
        self.rate_label = QLabel()
        if text_width is not None:  # a fixed row (the status bar) never asks for a relayout
            self.bar.setFixedWidth(BAR_WIDTH)
            sample = self.rate_label.fontMetrics().horizontalAdvance(RATE_SAMPLE)
            self.rate_label.setFixedWidth(sample)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the job at its next step")
        self.cancel_button.clicked.connect(self._cancel)
        self._build(row)
        self._show_timer = QTimer(self)
        self._show_timer.setSingleShot(True)
        self._show_timer.timeout.connect(lambda: self._show_busy(self.runner.is_busy))
        self._delays = idle == "hide" and not row  # a panel's line, not a row
        runner.started.connect(self._on_started)
        runner.progress.connect(self._on_progress)
        runner.busy_changed.connect(self._on_busy_changed)
        runner.cancelled.connect(self._on_cancelled)
        self._on_busy_changed(runner.is_busy)

    def _build(self, row: bool) -> None:
        line = QHBoxLayout()
        line.setContentsMargins(0, 0, 0, 0)
        if row:
            if self._text_width is None:
                self.bar.setMaximumWidth(BAR_WIDTH)
            line.addWidget(self.label, 1 if self._text_width is None else 0)
            line.addWidget(self.bar)
        else:
            line.addWidget(self.bar, 1)
        line.addWidget(self.rate_label)
        line.addWidget(self.cancel_button)
        layout: QBoxLayout = QHBoxLayout(self) if row else QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        if not row:
            layout.addWidget(self.label)
        layout.addLayout(line)

    # ------------------------------------------------------------------ messages
    def show_message(self, text: str) -> None:
        """The text to show (while idle, with ``idle="message"``)."""
        self.label.setStyleSheet("")
        self._set_text(text)

    def show_error(self, text: str) -> None:
        """Like :meth:`show_message`, in the palette's warning colour."""
        colour = self.palette().color(QPalette.ColorRole.BrightText).name()
        self.label.setStyleSheet(f"color: {colour};")
        self._set_text(text)

    def _set_text(self, text: str) -> None:
        if self._text_width is None:
            self.label.setText(text)
            return
        metrics = self.label.fontMetrics()
        elided = metrics.elidedText(text, Qt.TextElideMode.ElideRight, self._text_width)
        self.label.setText(elided)
        self.label.setToolTip(text)

    # -------------------------------------------------------------- runner events
    @Slot(str)
    def _on_started(self, name: str) -> None:
        self._name, self._stage = name, ""
        self._meter = RateMeter()
        self.show_message(f"{name}…")
        self.bar.setRange(0, 0)
        self.rate_label.clear()
        self.cancel_button.setEnabled(True)

    @Slot(object)
    def _on_progress(self, progress: Progress) -> None:
        self._set_text(progress_text(self._name, progress))
        if progress.stage != self._stage:
            self._stage, self._meter = progress.stage, RateMeter()
        self._meter.update(progress.done)
        if progress.total:
            self.bar.setRange(0, progress.total)
            self.bar.setValue(min(progress.done, progress.total))
            self.bar.setFormat(f"{progress.done:,} / {progress.total:,}")
        else:
            self.bar.setRange(0, 0)
        rate = self._meter.rate
        if rate is None:
            self.rate_label.clear()
        else:
            eta = format_duration(self._meter.eta(progress.done, progress.total))
            self.rate_label.setText(f"{rate:,.0f}/s · ETA {eta}")

    @Slot(bool)
    def _on_busy_changed(self, busy: bool) -> None:
        if busy and self._delays and not self.isVisible():
            self._show_timer.start(SHOW_AFTER_MS)
            return
        self._show_timer.stop()
        self._show_busy(busy)

    def _show_busy(self, busy: bool) -> None:
        if self._idle == "hide":
            self.setVisible(busy)
        for widget in (self.bar, self.rate_label, self.cancel_button):
            widget.setVisible(busy)

    @Slot()
    def _on_cancelled(self) -> None:
        self.show_message(f"{self._name} cancelled")

    def _cancel(self) -> None:
        self.cancel_button.setEnabled(False)
        self.show_message(f"{self._name} · stopping…")
        self._on_cancel()
