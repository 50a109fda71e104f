"""The log panel: every record of the ``sieve`` logger, live, in a dock (errors in red)."""

from __future__ import annotations

import contextlib
import logging

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QTextCharFormat
from PySide6.QtWidgets import QPlainTextEdit, QWidget

MAX_LINES = 5000


class _Bridge(QObject):
    """Carries records from any thread to the GUI thread (queued signal)."""

    record = Signal(str, int)


class QtLogHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.bridge = _Bridge()
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(RuntimeError):  # the panel is gone (app shutting down)
            self.bridge.record.emit(self.format(record), record.levelno)


class LogPanel(QPlainTextEdit):
    """Read-only view of the log; attaches a handler to the ``sieve`` logger while it lives."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMaximumBlockCount(MAX_LINES)
        self.setPlaceholderText("Messages from jobs appear here.")
        self.handler = QtLogHandler()
        self.handler.bridge.record.connect(self._append)
        logging.getLogger("sieve").addHandler(self.handler)
        self.destroyed.connect(self._detach)

    def detach(self) -> None:
        logging.getLogger("sieve").removeHandler(self.handler)

    @Slot()
    def _detach(self) -> None:
        self.detach()

    @Slot(str, int)
    def _append(self, text: str, level: int) -> None:
        fmt = QTextCharFormat()
        if level >= logging.ERROR:
            fmt.setForeground(self.palette().brightText())
        cursor = self.textCursor()
        cursor.movePosition(cursor.MoveOperation.End)
        if not self.document().isEmpty():
            cursor.insertBlock()
        cursor.insertText(text, fmt)
        self.verticalScrollBar().setValue(self.verticalScrollBar().maximum())
