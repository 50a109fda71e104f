"""Measuring one image for the statistics pass (:mod:`app.core.quality.backfill`): the work a
pool's worker does, threads or processes. Kept apart from the project store so that a worker
process started afresh imports only Pillow, numpy and these functions (not PyAV, not SQLite).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.core.data.images import THUMB_SIZE, probe_image
from app.core.quality.stats import ImageStats, file_digest, thumbnail_stats

Task = tuple[Path, bytes | None, str | None]  # an image's file, stored thumbnail, content hash


@dataclass(frozen=True, slots=True)
class Measured:
    """One image measured: what a commit stores."""

    stats: ImageStats | None  # None: the file cannot be read now (it is left unmeasured)
    thumbnail: bytes | None = None  # made again because the cache had none
    hash_stored: bool = False  # its row holds its content hash: only the statistics are new


def measure_batch(tasks: list[Task]) -> list[Measured]:
    """:func:`_measure` of each task (a worker's unit of work, in a thread or a process)."""
    return [_measure(*task) for task in tasks]


def _measure(path: Path, thumbnail: bytes | None, content_hash: str | None) -> Measured:
    """Measure the thumbnail; hash the file when its hash is not stored; decode the file again
    (and keep its new thumbnail) when the thumbnail is missing or unreadable."""
    stored = content_hash is not None
    if thumbnail is not None:
        digest = _digest(path, content_hash)
        stats = None if digest is None else thumbnail_stats(thumbnail, digest)
        if digest is None or stats is not None:  # the file is gone, or measured
            return Measured(stats, hash_stored=stored)
    made = thumbnail_again(path, content_hash=content_hash)
    if made is None:
        return Measured(None)
    return Measured(made[1], made[0], stored)


def thumbnail_again(
    path: Path, size: int = THUMB_SIZE, content_hash: str | None = None
) -> tuple[bytes, ImageStats | None] | None:
    """Decode an image file again: its thumbnail and that thumbnail's statistics, with the file's
    content hash (``content_hash`` when known; a small file's from the bytes read to decode it,
    else hashed). None when the file cannot be read or decoded."""
    probe = probe_image(path, size, measure=False)
    if probe.thumbnail is None:
        return None
    digest = _digest(path, content_hash, probe.content_hash)
    if digest is None:
        return None
    return probe.thumbnail, thumbnail_stats(probe.thumbnail, digest)


def _digest(path: Path, *known: str | None) -> str | None:
    """The first known content hash, else the file's (None when it cannot be read)."""
    for value in known:
        if value is not None:
            return value
    try:
        return file_digest(path)
    except OSError:
        return None
