"""Measuring the image statistics a project lacks, after the index has thumbnailed its images.

The index decodes each new image once, for its thumbnail (and the content hash of a small file),
at the speed of a plain decode loop; the statistics come second, from the stored thumbnail (a
small JPEG, decoded in a fraction of the original's time), so the grid fills first.
:func:`measure_missing_job` runs at the end of every index and measures each usable image
without statistics, always from its thumbnail, so that every image of a project is measured
alike. It hashes the files the index did not (those over 64 KB, whose hash would slow the index
by 7%; a project from before statistics), and decodes once more an image whose thumbnail is gone
(a deleted cache), storing its thumbnail again. Work runs on a thread pool (Pillow releases the
GIL) and is committed in batches; a killed run keeps what it committed and the next run carries
on.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from app.core.data.images import THUMB_SIZE, probe_image
from app.core.jobs import CancelToken, Job, Progress
from app.core.quality.stats import ImageStats, file_digest, thumbnail_stats
from app.core.store.project import Project
from app.core.store.stats import (
    unmeasured_image_count,
    unmeasured_images,
    write_measures,
    write_stats,
)

BATCH = 256


@dataclass(frozen=True, slots=True)
class _Measured:
    stats: ImageStats | None  # None: the file cannot be read now (it is left unmeasured)
    thumbnail: bytes | None = None  # made again because the cache had none
    hash_stored: bool = False  # its row holds its content hash: only the statistics are new


def measure_missing_job(
    project: Project, workers: int = 2, cancel: CancelToken | None = None
) -> Job[int]:
    """Measure every usable image without statistics; return how many were measured."""
    cancel = cancel or CancelToken()
    total = unmeasured_image_count(project)
    if not total:
        return 0
    yield Progress("measure", 0, total, "measuring image statistics")
    done = 0
    batch: list[tuple[int, _Measured]] = []
    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="sieve-measure") as pool:
        pending: deque[tuple[int, Future[_Measured]]] = deque()
        try:
            for sample_id, arguments in _tasks(project):
                pending.append((sample_id, pool.submit(_measure, *arguments)))
                while len(pending) >= 4 * max(1, workers):
                    _take(pending, batch)
                    cancel.raise_if_cancelled()
                    if len(batch) >= BATCH:
                        done += _commit(project, batch)
                        yield Progress("measure", done, total, "measuring image statistics")
            while pending:
                _take(pending, batch)
        finally:
            for _, future in pending:
                future.cancel()
    done += _commit(project, batch)
    yield Progress("measure", done, total, "done")
    return done


def _tasks(project: Project) -> Iterator[tuple[int, tuple[Path, bytes | None, str | None]]]:
    """``(sample id, (file, thumbnail, content hash))`` of each unmeasured image, by id."""
    root = project.dataset_root
    after = 0
    while rows := unmeasured_images(project, after, BATCH):
        after = rows[-1][0]
        thumbnails = project.thumbs.get_many([row[0] for row in rows])
        for sample_id, relpath, content_hash in rows:
            yield sample_id, (root / relpath, thumbnails.get(sample_id), content_hash)


def _measure(path: Path, thumbnail: bytes | None, content_hash: str | None) -> _Measured:
    """Measure the thumbnail; hash the file when its hash is not stored; decode the file again
    (and keep its new thumbnail) when the thumbnail is missing or unreadable."""
    stored = content_hash is not None
    if thumbnail is not None:
        digest = _digest(path, content_hash)
        stats = None if digest is None else thumbnail_stats(thumbnail, digest)
        if digest is None or stats is not None:  # the file is gone, or measured
            return _Measured(stats, hash_stored=stored)
    made = thumbnail_again(path, content_hash=content_hash)
    if made is None:
        return _Measured(None)
    return _Measured(made[1], made[0], stored)


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


def _take(
    pending: deque[tuple[int, Future[_Measured]]], batch: list[tuple[int, _Measured]]
) -> None:
    sample_id, future = pending.popleft()
    batch.append((sample_id, future.result()))


def _commit(project: Project, batch: list[tuple[int, _Measured]]) -> int:
    measured = [(i, m) for i, m in batch if m.stats is not None]
    with project.db:
        write_measures(project.db, [(i, m.stats) for i, m in measured if m.hash_stored])
        write_stats(project.db, [(i, m.stats) for i, m in measured if not m.hash_stored])
    project.thumbs.put_many([(i, m.thumbnail) for i, m in batch if m.thumbnail is not None])
    count = len(batch)
    batch.clear()
    return count
