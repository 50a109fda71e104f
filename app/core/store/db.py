"""Opening SQLite the way every Sieve process does: WAL, a busy timeout, foreign keys."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from app.core.errors import SieveError

BUSY_TIMEOUT_S = 30.0


def connect(path: Path) -> sqlite3.Connection:
    """Open (or create) a database shared safely by the GUI and CLI processes."""
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S)
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.OperationalError as error:
        raise SieveError(f"cannot open the database {path}: {error}") from error
    return conn
