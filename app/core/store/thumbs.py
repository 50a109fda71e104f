"""The thumbnail cache: encoded JPEG bytes per sample id in ``<project>/thumbs.sqlite``.

A cache, kept apart from the project database: deleting it loses nothing but time. One
connection per thread (sqlite3 rule); WAL lets the GUI read while a job writes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

from app.core.store.db import connect

_SCHEMA = "CREATE TABLE IF NOT EXISTS thumbs (sample_id INTEGER PRIMARY KEY, data BLOB NOT NULL)"
_CHUNK = 900  # stays below SQLite's limit on bound parameters


class ThumbCache:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.db: sqlite3.Connection = connect(path)
        with self.db:
            self.db.execute(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    def get(self, sample_id: int) -> bytes | None:
        row = self.db.execute(
            "SELECT data FROM thumbs WHERE sample_id = ?", (sample_id,)
        ).fetchone()
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
