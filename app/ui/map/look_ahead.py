"""LookAhead: the map panel's quick-look process, started before the click and let go after.

The panel starts the process (:class:`~app.gui_model.look_process.LookProcess`)
:data:`PREWARM_DELAY_MS` after it comes to offer a quick look, so that torch and UMAP are loaded
when the button is pressed, and lets it go once a map is shown (the process holds ~1 GB with
torch loaded).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Slot

from app.gui_model.look_process import LookProcess, LookUnavailable

log = logging.getLogger("sieve")
PREWARM_DELAY_MS: int | None = 1000
"""How long the panel offers a quick look before it starts the quick-look process (None: only
at the click). The wait leaves the grid its last read of the rows the index listed."""


class LookAhead(QObject):
    """Starts ``process`` once ``offers()`` has held for :data:`PREWARM_DELAY_MS`."""

    def __init__(self, offers: Callable[[], bool], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.process = LookProcess()
        self._offers = offers
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._start)

    def schedule(self) -> None:
        """Start the process after the wait if a quick look is offered (and still is then)."""
        if self._timer.isActive() or PREWARM_DELAY_MS is None or self.process.running:
            return  # (an index's reasons change every second: the wait is not started again)
        if self._offers():
            self._timer.start(PREWARM_DELAY_MS)

    def release(self) -> None:
        """Let the process go, without waiting for it (a map is shown: no quick look offered)."""
        self._timer.stop()
        self.process.release()

    def close(self) -> None:
        self._timer.stop()
        self.process.close()

    @Slot()
    def _start(self) -> None:
        if not self._offers():
            return
        try:
            self.process.start()
        except LookUnavailable as error:  # the click embeds in the window's process instead
            log.warning("%s", error)
