"""The ``sample_stats`` table: image statistics written by indexing, read back as numpy columns."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from app.core.data.video import frame_name
from app.core.store.project import Project
from app.core.store.schema import label_sql

FLOAT_COLUMNS = ("brightness", "contrast", "colourfulness", "sharpness", "entropy")


class StatsLike(Protocol):
    brightness: float
    contrast: float
    colourfulness: float
    sharpness: float
    entropy: float
    content_hash: str | None
    phash: int


@dataclass(frozen=True)
class StatsColumns:
    """One row per usable sample (ascending id) with its statistics; NaN / None where unmeasured.

    ``names``: the sample's name (relative path, or a video frame's name); ``kind``: "image" or
    "frame"; ``width`` / ``height`` from the samples table; ``measured``: its statistics are
    measured (a row may hold only the content hash until then).
    """

    ids: np.ndarray
    names: list[str]
    kind: np.ndarray
    width: np.ndarray
    height: np.ndarray
    labels: list[str | None]
    file_size: np.ndarray
    values: dict[str, np.ndarray]
    content_hash: np.ndarray  # object: str or None
    phash: np.ndarray  # int64 (0 where unmeasured)
    measured: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


def write_stats(db: sqlite3.Connection, rows: Iterable[tuple[int, StatsLike]]) -> None:
    """Insert or replace the stats of samples (inside the caller's transaction)."""
    db.executemany(
        "INSERT OR REPLACE INTO sample_stats(sample_id, brightness, contrast, colourfulness, "
        "sharpness, entropy, content_hash, phash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            (
                int(sample_id),
                s.brightness,
                s.contrast,
                s.colourfulness,
                s.sharpness,
                s.entropy,
                s.content_hash,
                int(s.phash),
            )
            for sample_id, s in rows
        ),
    )


def write_content_hashes(db: sqlite3.Connection, rows: Iterable[tuple[int, str | None]]) -> None:
    """Store the content hashes (None: not hashed yet) of freshly decoded files, their statistics
    not yet measured (any earlier ones were of the file as it was): inside the caller's
    transaction."""
    db.executemany(
        "INSERT OR REPLACE INTO sample_stats(sample_id, content_hash) VALUES (?, ?)",
        ((int(sample_id), content_hash) for sample_id, content_hash in rows),
    )


def write_measures(db: sqlite3.Connection, rows: Iterable[tuple[int, StatsLike]]) -> None:
    """Fill in the statistics of samples whose row (and content hash) is stored: the hash and
    its index are left as they are (an ``INSERT OR REPLACE`` rewrites a random page of that
    index for each row)."""
    db.executemany(
        "UPDATE sample_stats SET brightness = ?, contrast = ?, colourfulness = ?, "
        "sharpness = ?, entropy = ?, phash = ? WHERE sample_id = ?",
        (
            (s.brightness, s.contrast, s.colourfulness, s.sharpness, s.entropy, int(s.phash), i)
            for i, s in rows
        ),
    )


def read_stats(project: Project) -> StatsColumns:
    """The usable samples (status ok, file present) with their statistics."""
    query = (
        f"SELECT s.id, f.relpath, s.frame, f.n_frames, s.width, s.height, {label_sql()}, f.size, "
        "st.brightness, st.contrast, st.colourfulness, st.sharpness, st.entropy, "
        "st.content_hash, st.phash, st.brightness IS NOT NULL "
        "FROM samples s JOIN files f ON f.id = s.file_id "
        "LEFT JOIN sample_stats st ON st.sample_id = s.id "
        "WHERE s.status = 'ok' AND f.status = 'ok' AND NOT f.missing AND NOT f.pending "
        "ORDER BY s.id"
    )
    rows = project.db.execute(query).fetchall()
    count = len(rows)
    names: list[str] = []
    labels: list[str | None] = []
    numbers = np.full((count, len(FLOAT_COLUMNS)), np.nan)
    ints = np.zeros((count, 6), dtype=np.int64)  # id, frame?, width, height, size, measured
    content = np.empty(count, dtype=object)
    phash = np.zeros(count, dtype=np.int64)
    for i, row in enumerate(rows):
        sample_id, relpath, frame, n_frames, width, height, label, size = row[:8]
        names.append(
            relpath if frame is None else frame_name(relpath, frame, n_frames or frame + 1)
        )
        labels.append(label)
        ints[i] = (sample_id, frame is not None, width or 0, height or 0, size or 0, row[15])
        if row[15]:
            numbers[i] = [np.nan if v is None else v for v in row[8:13]]
            content[i] = row[13]
            phash[i] = row[14] or 0
    return StatsColumns(
        ids=ints[:, 0].copy(),
        names=names,
        kind=np.where(ints[:, 1] == 1, "frame", "image"),
        width=ints[:, 2].astype(np.float64),
        height=ints[:, 3].astype(np.float64),
        labels=labels,
        file_size=ints[:, 4].copy(),
        values={name: numbers[:, j].copy() for j, name in enumerate(FLOAT_COLUMNS)},
        content_hash=content,
        phash=phash,
        measured=ints[:, 5].astype(bool),
    )


def sample_ids_without_stats(project: Project) -> list[int]:
    """Usable samples not measured (e.g. video frames not thumbnailed since stats came)."""
    query = (
        "SELECT s.id FROM samples s JOIN files f ON f.id = s.file_id WHERE s.status = 'ok' "
        "AND NOT f.missing AND NOT f.pending AND NOT EXISTS "
        "(SELECT 1 FROM sample_stats st WHERE st.sample_id = s.id AND st.brightness IS NOT NULL)"
    )
    return [row[0] for row in project.db.execute(query)]


_UNMEASURED_IMAGES = (
    "FROM samples s JOIN files f ON f.id = s.file_id "
    "LEFT JOIN sample_stats st ON st.sample_id = s.id "
    "WHERE s.status = 'ok' AND f.status = 'ok' AND s.frame IS NULL AND NOT f.missing "
    "AND NOT f.pending AND st.brightness IS NULL"
)


def unmeasured_image_count(project: Project) -> int:
    """How many usable images have no statistics yet."""
    return project.db.execute(f"SELECT COUNT(*) {_UNMEASURED_IMAGES}").fetchone()[0]


def unmeasured_images(
    project: Project, after_id: int = 0, limit: int = -1
) -> list[tuple[int, str, str | None]]:
    """``(sample id, relative path, content hash or None)`` of usable images with no statistics,
    by ascending id after ``after_id`` (at most ``limit``; all when negative)."""
    query = (
        f"SELECT s.id, f.relpath, st.content_hash {_UNMEASURED_IMAGES} "
        "AND s.id > ? ORDER BY s.id LIMIT ?"
    )
    return project.db.execute(query, (after_id, limit)).fetchall()
