"""Per-sample lookups beyond :class:`SampleRow`: stored metadata (scores) and sibling frames."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np

from app.core.store.project import Project

CHUNK_ROWS = 20_000
LOCK_PAUSE_S = 0.003  # between transactions: SQLite has no queue, so waiting writers need a gap


def sample_metadata(project: Project, sample_id: int) -> dict[str, object]:
    """Every metadata key of one sample with its value, ordered by key."""
    query = "SELECT key, value FROM metadata WHERE sample_id = ? ORDER BY key"
    return dict(project.db.execute(query, (int(sample_id),)).fetchall())


def adjacent_frame(project: Project, sample_id: int, step: int) -> int | None:
    """The sampled frame of the same video after (``step`` > 0) or before (< 0) this one.

    None for an image, or at the first / last sampled frame.
    """
    later = step > 0
    query = (
        "SELECT other.id FROM samples this JOIN samples other ON other.file_id = this.file_id "
        f"WHERE this.id = ? AND this.frame IS NOT NULL AND other.frame {'>' if later else '<'} "
        f"this.frame ORDER BY other.frame {'ASC' if later else 'DESC'} LIMIT 1"
    )
    row = project.db.execute(query, (int(sample_id),)).fetchone()
    return None if row is None else row[0]


def write_scores(project: Project, sample_ids: np.ndarray, scores: dict[str, np.ndarray]) -> None:
    """Replace each ``scores`` key's values for every sample (NaN: no value for that sample).

    Integer and boolean arrays are stored as integers, others as reals, so the grid can sort and
    filter by them. The rows are written :data:`CHUNK_ROWS` per transaction with a short pause
    between transactions, so another writer (a tag edit in the GUI) never waits long for the
    lock; meanwhile a reader may see a key partly rewritten.
    """
    ids = np.asarray(sample_ids, dtype=np.int64)
    arrays = {key: np.asarray(values) for key, values in scores.items()}
    for key, values in arrays.items():
        if len(values) != len(ids):
            raise ValueError(f"{len(values)} {key} values for {len(ids)} samples")
    for key, values in arrays.items():
        _delete_key(project, key)
        for start in range(0, len(ids), CHUNK_ROWS):
            end = start + CHUNK_ROWS
            with project.db:
                project.db.executemany(
                    "INSERT INTO metadata(sample_id, key, value) VALUES (?, ?, ?)",
                    _rows(ids[start:end].tolist(), key, values[start:end]),
                )
            time.sleep(LOCK_PAUSE_S)


def _delete_key(project: Project, key: str) -> None:
    """Delete every value of ``key``, :data:`CHUNK_ROWS` per transaction."""
    query = (
        "DELETE FROM metadata WHERE key = ? AND sample_id IN "
        "(SELECT sample_id FROM metadata WHERE key = ? LIMIT ?)"
    )
    while True:
        with project.db:
            deleted = project.db.execute(query, (key, key, CHUNK_ROWS)).rowcount
        if deleted < CHUNK_ROWS:
            return
        time.sleep(LOCK_PAUSE_S)


def _rows(ids: list[int], key: str, values: np.ndarray) -> Iterator[tuple[int, str, object]]:
    as_int = values.dtype.kind in "biu"
    for sample_id, value in zip(ids, values.tolist(), strict=True):
        if as_int:
            yield sample_id, key, int(value)
        elif value == value:
            yield sample_id, key, float(value)


def numeric_scores(project: Project, sample_ids: np.ndarray) -> dict[str, np.ndarray]:
    """Every numeric metadata key with one value per sample of ``sample_ids`` (NaN: missing)."""
    ids = np.asarray(sample_ids, dtype=np.int64)
    position = {int(sample_id): i for i, sample_id in enumerate(ids.tolist())}
    out: dict[str, np.ndarray] = {}
    query = (
        "SELECT sample_id, key, value FROM metadata WHERE typeof(value) IN ('integer', 'real') "
        "ORDER BY key"
    )
    for sample_id, key, value in project.db.execute(query):
        row = position.get(sample_id)
        if row is None:
            continue
        if key not in out:
            out[key] = np.full(len(ids), np.nan)
        out[key][row] = value
    return out
