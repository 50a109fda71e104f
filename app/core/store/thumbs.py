"""The thumbnail cache: encoded JPEG bytes per sample id in ``<project>/thumbs.sqlite``.

A cache, kept apart from the project database: deleting it loses nothing but time. One
connection per thread (sqlite3 rule); WAL lets the GUI read while a job writes. A cache that is
not a database, is malformed or has another schema is set aside (renamed, never deleted) and made
again, with a warning in the log.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from app.core.errors import SieveError
from app.core.store.db import connect

log = logging.getLogger("sieve")

_SCHEMA = "CREATE TABLE IF NOT EXISTS thumbs (sample_id INTEGER PRIMARY KEY, data BLOB NOT NULL)"
_ONE = "SELECT data FROM thumbs WHERE sample_id = ?"
_CHUNK = 900  # stays below SQLite's limit on bound parameters
_BROKEN = {sqlite3.SQLITE_ERROR, sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}
_REBUILDING = threading.Lock()  # one thread sets a broken cache aside; the others then open it


class ThumbCache:
    """``set_aside`` names where a broken cache went when this one replaced it (else None)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.set_aside: Path | None = None
        try:
            self.db: sqlite3.Connection = _open(path)
        except sqlite3.DatabaseError as error:
            if not _is_broken(error):
                raise SieveError(f"cannot open the thumbnail cache {path}: {error}") from error
            self.db, self.set_aside = _rebuild(path, error)

    def close(self) -> None:
        self.db.close()

    def get(self, sample_id: int) -> bytes | None:
        row = self.db.execute(_ONE, (sample_id,)).fetchone()
        return None if row is None else row[0]

    def get_many(self, sample_ids: Sequence[int]) -> dict[int, bytes]:
        found: dict[int, bytes] = {}
        for start in range(0, len(sample_ids), _CHUNK):
            chunk = [int(i) for i in sample_ids[start : start + _CHUNK]]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT sample_id, data FROM thumbs WHERE sample_id IN ({marks})"
            found.update(self.db.execute(query, chunk).fetchall())
        return found

    def put_many(self, items: Iterable[tuple[int, bytes]]) -> None:
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO thumbs VALUES (?, ?)", items)

    def delete(self, sample_ids: Iterable[int]) -> None:
        with self.db:
            self.db.executemany(
                "DELETE FROM thumbs WHERE sample_id = ?", ((int(i),) for i in sample_ids)
            )

    def count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM thumbs").fetchone()[0]


class ThumbReader:
    """One sample's thumbnail at a time for hover cards, from a cache opened at the first read.

    Showing a project opens nothing: a :class:`ThumbCache` made on the GUI thread as a folder
    opened waited up to 70 ms on the index process, which was creating and writing the same
    file. The reader never creates, repairs or writes a cache; a missing, unreadable or locked
    one reads as no thumbnail.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None

    def get(self, sample_id: int) -> bytes | None:
        try:
            if self._db is None:
                if not self.path.is_file():
                    return None
                self._db = connect(self.path)
            row = self._db.execute(_ONE, (int(sample_id),)).fetchone()
        except (sqlite3.DatabaseError, SieveError) as error:
            log.debug("no thumbnail of sample %s from %s: %s", sample_id, self.path, error)
            return None
        return None if row is None else row[0]

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def _open(path: Path) -> sqlite3.Connection:
    """Connect and check the schema (creating it in a new cache)."""
    db = connect(path)
    try:
        with db:
            db.execute(_SCHEMA)
        db.execute("SELECT sample_id, data FROM thumbs LIMIT 1").fetchall()
    except BaseException:
        db.close()
        raise
    return db


def _is_broken(error: sqlite3.DatabaseError) -> bool:
    """Not a database, malformed, or not our schema (a locked or unreadable file is not)."""
    return (getattr(error, "sqlite_errorcode", 0) & 0xFF) in _BROKEN


def _rebuild(path: Path, error: sqlite3.DatabaseError) -> tuple[sqlite3.Connection, Path | None]:
    """Set the broken cache at ``path`` aside and open a new one there."""
    with _REBUILDING:
        try:
            return _open(path), None  # another thread got here first
        except sqlite3.DatabaseError as again:
            if not _is_broken(again):
                raise SieveError(f"cannot open the thumbnail cache {path}: {again}") from again
        aside = _aside_name(path)
        try:
            for suffix in ("-wal", "-shm", ""):
                sidecar = path.with_name(path.name + suffix)
                if sidecar.exists():
                    sidecar.rename(aside.with_name(aside.name + suffix))
        except OSError as move_error:
            raise SieveError(
                f"the thumbnail cache {path} is broken ({error}) and cannot be set aside: "
                f"{move_error}"
            ) from move_error
        log.warning("the thumbnail cache was broken (%s): set aside as %s", error, aside)
        return _open(path), aside


def _aside_name(path: Path) -> Path:
    """``thumbs.sqlite.broken-<time>`` next to ``path``, not yet taken."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate = path.with_name(f"{path.name}.broken-{stamp}")
    serial = 1
    while candidate.exists():
        serial += 1
        candidate = path.with_name(f"{path.name}.broken-{stamp}-{serial}")
    return candidate
