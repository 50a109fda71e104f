"""Ctrl-C in the terminal that started the GUI: close the windows the normal way, exit 130.

Python runs a signal handler only when the interpreter gets control, which it does not while
Qt's event loop waits in C++. ``signal.set_wakeup_fd`` makes the C-level handler write a byte to
one end of a socket pair; a QSocketNotifier on the other end wakes the loop, the interpreter gets
control and runs the Python handler, which schedules the quit on the loop.
"""

from __future__ import annotations

import signal
import socket
from collections.abc import Callable
from types import FrameType

from PySide6.QtCore import QObject, QSocketNotifier, QTimer

EXIT_CODE = 130
"""What shells report for a program ended by Ctrl-C (128 + SIGINT)."""


class CtrlCQuits(QObject):
    """While open, the first SIGINT calls ``on_interrupt`` from the event loop (repeats are
    ignored); ``close()`` restores the previous handler. Open it on the main thread."""

    def __init__(self, on_interrupt: Callable[[], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.on_interrupt = on_interrupt
        self.interrupted = False
        self._reader, self._writer = socket.socketpair()
        for end in (self._reader, self._writer):
            end.setblocking(False)
        self._notifier = QSocketNotifier(self._reader.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._drain)
        self._previous_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        self._previous_handler = signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if not self.interrupted:
            self.interrupted = True
            QTimer.singleShot(0, self.on_interrupt)

    def _drain(self) -> None:
        """Empty the wake-up socket (its bytes only served to wake the loop)."""
        try:
            while self._reader.recv(512):
                pass
        except OSError:
            pass

    def close(self) -> None:
        signal.signal(signal.SIGINT, self._previous_handler)
        signal.set_wakeup_fd(self._previous_fd)
        self._notifier.setEnabled(False)
        self._reader.close()
        self._writer.close()
