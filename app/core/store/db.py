"""Opening SQLite the way every Sieve process does: WAL, a busy timeout, foreign keys.

File names that are not valid UTF-8 reach Python as ``str`` with surrogate escapes (what
``os.scandir`` gives). They are bound as their raw bytes with :func:`raw` and ``CAST(? AS TEXT)``,
stored as TEXT, and read back as the same ``str`` (the connection decodes with surrogateescape).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
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


TURN_SUFFIX = ".turn"  # beside the database: its modification time asks for a turn to write


def ask_write_turn(conn: sqlite3.Connection) -> None:
    """Ask a writer that commits back to back on ``conn``'s database (a folder being listed,
    in any process) to leave the lock free after its next commit (see :class:`TurnRequests`).

    A project that cannot be written to asks nothing: the writer's regular gaps let it in."""
    path = next((row[2] for row in conn.execute("PRAGMA database_list") if row[1] == "main"), "")
    if not path:
        return  # an in-memory database: no other process writes to it
    with suppress(OSError):
        Path(path + TURN_SUFFIX).touch()


class TurnRequests:
    """What a back-to-back writer of ``db_path`` reads after each commit: whether another
    writer asked for a turn (:func:`ask_write_turn`) since it last looked (one ``stat``)."""

    def __init__(self, db_path: Path) -> None:
        self._path = Path(str(db_path) + TURN_SUFFIX)
        self._seen = self._stamp()

    def asked(self) -> bool:
        stamp = self._stamp()
        if stamp == self._seen:
            return False
        self._seen = stamp
        return True

    def _stamp(self) -> int | None:
        try:
            return self._path.stat().st_mtime_ns
        except OSError:
            return None
