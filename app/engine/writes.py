"""Store writes from the GUI thread that never hold the event loop while another writer works.

SQLite lets one connection write at a time and queues nobody: a GUI edit that meets a job's
write transaction would sleep in SQLite's busy handler, up to the 30 s busy timeout, with the
window frozen. :class:`WriteQueue` applies writes in order. Each try polls for the lock for at
most ``wait_ms`` (so a writer's short pause between its transactions lets the edit in); a write
still locked out goes back to the event loop and is tried again ``retry_ms`` later. A write that
meets the lock asks for a turn (:func:`~app.core.store.db.ask_write_turn`): a folder being listed,
which commits back to back, then leaves the lock free after its next commit.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, QTimer, Signal

from app.core.errors import SieveError
from app.core.store.db import BUSY_TIMEOUT_S, ask_write_turn

log = logging.getLogger("sieve")

WAIT_MS = 15
RETRY_MS = 10
POLL_S = 0.001
BUSY_CODES = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}


def is_busy(error: sqlite3.Error) -> bool:
    """Whether ``error`` means another connection holds the lock (worth trying again)."""
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in BUSY_CODES
    return "locked" in str(error) or "busy" in str(error)


@dataclass
class _Write:
    db: sqlite3.Connection
    apply: Callable[[], None]
    done: Callable[[], None]


class WriteQueue(QObject):
    """Applies writes in submission order on the GUI thread; ``failed`` reports a refused one.

    ``done`` runs after each write lands (or fails), so views re-read what is stored.
    """

    failed = Signal(str)

    def __init__(
        self, wait_ms: int = WAIT_MS, retry_ms: int = RETRY_MS, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.wait_ms = wait_ms
        self._writes: deque[_Write] = deque()
        self._retry = QTimer(self)
        self._retry.setSingleShot(True)
        self._retry.setInterval(retry_ms)
        self._retry.timeout.connect(self._drain)

    @property
    def pending(self) -> int:
        """Writes submitted but not yet applied."""
        return len(self._writes)

    def submit(
        self, db: sqlite3.Connection, apply: Callable[[], None], done: Callable[[], None]
    ) -> bool:
        """Queue ``apply`` (a write on ``db``); True when it (and all before it) landed now."""
        self._writes.append(_Write(db, apply, done))
        if not self._retry.isActive():
            self._drain()
        return not self._writes

    def flush(self, timeout_ms: int = int(BUSY_TIMEOUT_S * 1000)) -> bool:
        """Block until every queued write landed or ``timeout_ms`` passed (closing a project)."""
        self._retry.stop()
        self._drain(timeout_ms)
        return not self._writes

    def _drain(self, wait_ms: int | None = None) -> None:
        deadline = time.monotonic() + (self.wait_ms if wait_ms is None else wait_ms) / 1000
        while self._writes:
            write = self._writes[0]
            if not self._try(write, deadline):
                self._retry.start()
                return
            self._writes.popleft()
            write.done()

    def _try(self, write: _Write, deadline: float) -> bool:
        """Apply one write, polling for the lock until ``deadline``; False when still locked."""
        write.db.execute("PRAGMA busy_timeout = 0")
        asked = False
        try:
            while True:
                try:
                    write.apply()
                    return True
                except sqlite3.OperationalError as error:
                    if not is_busy(error):
                        self._fail(error)
                        return True
                    if not asked:
                        ask_write_turn(write.db)
                        asked = True
                    if time.monotonic() >= deadline:
                        return False
                    time.sleep(POLL_S)
                except (SieveError, sqlite3.Error) as error:
                    self._fail(error)
                    return True
        finally:
            write.db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")

    def _fail(self, error: Exception) -> None:
        message = str(error) or type(error).__name__
        log.warning("store write failed: %s", message)
        self.failed.emit(message)
