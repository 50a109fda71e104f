"""Opening SQLite the way every Sieve process does: WAL, a busy timeout, foreign keys.

File names that are not valid UTF-8 reach Python as ``str`` with surrogate escapes (what
``os.scandir`` gives). They are bound as their raw bytes with :func:`raw` and ``CAST(? AS TEXT)``,
stored as TEXT, and read back as the same ``str`` (the connection decodes with surrogateescape).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from app.core.errors import SieveError

BUSY_TIMEOUT_S = 30.0


def raw(text: str | None) -> bytes | None:
    """``text`` as bytes to bind with ``CAST(? AS TEXT)``: surrogate escapes become their bytes."""
    return None if text is None else text.encode("utf-8", "surrogateescape")


def decode_text(data: bytes) -> str:
    """The connections' text factory: UTF-8, with stray bytes kept as surrogate escapes."""
    return data.decode("utf-8", "surrogateescape")


def connect(path: Path) -> sqlite3.Connection:
    """Open (or create) a database shared safely by the GUI and CLI processes."""
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S)
        conn.text_factory = decode_text
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.OperationalError as error:
        raise SieveError(f"cannot open the database {path}: {error}") from error
    return conn


@contextmanager
def read_snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    """Several reads that see one state of the database, while another connection writes.

    Outside a transaction every statement sees the latest commit, so two queries can disagree
    (rows a concurrent index added between them). A read transaction pins one WAL snapshot.
    """
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN")
    try:
        yield
    finally:
        conn.execute("COMMIT")
