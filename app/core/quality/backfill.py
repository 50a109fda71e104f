"""Measuring the image statistics a project lacks, after the index has thumbnailed its images.

The index decodes each new image once, for its thumbnail (and the content hash of a small file),
at the speed of a plain decode loop; the statistics come second, from the stored thumbnail (a
small JPEG, decoded in a fraction of the original's time), so the grid fills first.
:func:`measure_missing_job` runs at the end of every index and measures each usable image
without statistics, always from its thumbnail, so that every image of a project is measured
alike. It hashes the files the index did not (those over 64 KB, whose hash would slow the index
by 7%; a project from before statistics), and decodes once more an image whose thumbnail is gone
(a deleted cache), storing its thumbnail again.

Images are measured a batch at a time by a pool of workers and each batch is committed as it
comes back; a killed run keeps what it committed and the next run carries on. Measuring a tiny
thumbnail is mostly numpy and Python calls that hold the interpreter lock, so threads measured
on about one core; from :data:`PROCESSES_FROM` images on the workers are processes (each starts
in about half a second), below that threads.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
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

log = logging.getLogger(__name__)

BATCH = 256  # images a worker measures at a time, and a commit stores
PROCESSES_FROM = 4_000  # images to measure from which the workers are processes

Task = tuple[Path, bytes | None, str | None]  # an image's file, stored thumbnail, content hash


@dataclass(frozen=True, slots=True)
class _Measured:
    stats: ImageStats | None  # None: the file cannot be read now (it is left unmeasured)
    thumbnail: bytes | None = None  # made again because the cache had none
    hash_stored: bool = False  # its row holds its content hash: only the statistics are new


def measure_missing_job(
    project: Project, workers: int = 2, cancel: CancelToken | None = None
) -> Job[int]:
    """Measure every usable image without statistics; return how many were measured.

    Worker processes that fail (one killed, or none could start: a script that starts an index
    at its top level, which a started process imports again) leave the rest to threads."""
    cancel = cancel or CancelToken()
    total = unmeasured_image_count(project)
    if not total:
        return 0
    yield Progress("measure", 0, total, "measuring image statistics")
    workers = max(1, workers)
    if total >= PROCESSES_FROM and workers > 1:
        processes = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        try:
            done = yield from _measure_on(processes, project, workers, 0, total, cancel)
        except BrokenProcessPool as error:
            log.warning("statistics: worker processes failed (%s); measuring on threads", error)
        else:
            yield Progress("measure", done, total, "done")
            return done
    threads = ThreadPoolExecutor(workers, thread_name_prefix="sieve-measure")
    done = total - unmeasured_image_count(project)  # (by failed processes: what they stored)
    done = yield from _measure_on(threads, project, workers, done, total, cancel)
    yield Progress("measure", done, total, "done")
    return done


def _measure_on(
    pool: Executor, project: Project, workers: int, done: int, total: int, cancel: CancelToken
) -> Job[int]:
    """Measure the unmeasured images on ``pool`` (shut down at the end); return ``done`` plus
    how many it measured."""
    try:
        for sample_ids, measured in _in_flight(_batches(project), pool, 2 * workers):
            cancel.raise_if_cancelled()
            done += _commit(project, list(zip(sample_ids, measured.result(), strict=True)))
            yield Progress("measure", done, total, "measuring image statistics")
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return done


def _in_flight(
    batches: Iterator[tuple[list[int], list[Task]]], pool: Executor, depth: int
) -> Iterator[tuple[list[int], Future[list[_Measured]]]]:
    """Submit each batch to ``pool``, keeping ``depth`` of them on their way (one waiting for
    each worker while it measures another); yield them oldest first, to be stored."""
    waiting: deque[tuple[list[int], Future[list[_Measured]]]] = deque()
    for sample_ids, tasks in batches:
        waiting.append((sample_ids, pool.submit(measure_batch, tasks)))
        if len(waiting) >= depth:
            yield waiting.popleft()
    yield from waiting


def _batches(project: Project) -> Iterator[tuple[list[int], list[Task]]]:
    """The unmeasured images by id, :data:`BATCH` at a time: their sample ids and tasks."""
    root = project.dataset_root
    after = 0
    while rows := unmeasured_images(project, after, BATCH):
        after = rows[-1][0]
        thumbnails = project.thumbs.get_many([row[0] for row in rows])
        sample_ids = [row[0] for row in rows]
        yield sample_ids, [(root / path, thumbnails.get(i), digest) for i, path, digest in rows]


def measure_batch(tasks: list[Task]) -> list[_Measured]:
    """:func:`_measure` of each task (a worker's unit of work, in a thread or a process)."""
    return [_measure(*task) for task in tasks]


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


def _commit(project: Project, batch: list[tuple[int, _Measured]]) -> int:
    measured = [(i, m) for i, m in batch if m.stats is not None]
    with project.db:
        write_measures(project.db, [(i, m.stats) for i, m in measured if m.hash_stored])
        write_stats(project.db, [(i, m.stats) for i, m in measured if not m.hash_stored])
    project.thumbs.put_many([(i, m.thumbnail) for i, m in batch if m.thumbnail is not None])
    count = len(batch)
    batch.clear()
    return count
