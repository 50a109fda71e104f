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

from app.core.jobs import CancelToken, Job, Progress
from app.core.quality.measuring import Measured, Task, measure_batch
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


def measure_missing_job(
    project: Project,
    workers: int = 2,
    cancel: CancelToken | None = None,
    processes: bool | None = None,
) -> Job[int]:
    """Measure every usable image without statistics; return how many were measured.

    ``processes``: None measures on worker processes from :data:`PROCESSES_FROM` images, and
    processes that fail (one killed, or none could start: a script that starts an index at its
    top level, which a started process imports again) leave the rest to threads; True always
    on processes, a failure raised (a bundle's self-test); False on threads."""
    cancel = cancel or CancelToken()
    total = unmeasured_image_count(project)
    if not total:
        return 0
    yield Progress("measure", 0, total, "measuring image statistics")
    workers = max(1, workers)
    if processes or (processes is None and total >= PROCESSES_FROM and workers > 1):
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        try:
            done = yield from _measure_on(pool, project, workers, 0, total, cancel)
        except BrokenProcessPool as error:
            if processes:
                raise
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
) -> Iterator[tuple[list[int], Future[list[Measured]]]]:
    """Submit each batch to ``pool``, keeping ``depth`` of them on their way (one waiting for
    each worker while it measures another); yield them oldest first, to be stored."""
    waiting: deque[tuple[list[int], Future[list[Measured]]]] = deque()
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


def _commit(project: Project, batch: list[tuple[int, Measured]]) -> int:
    measured = [(i, m) for i, m in batch if m.stats is not None]
    with project.db:
        write_measures(project.db, [(i, m.stats) for i, m in measured if m.hash_stored])
        write_stats(project.db, [(i, m.stats) for i, m in measured if not m.hash_stored])
    project.thumbs.put_many([(i, m.thumbnail) for i, m in batch if m.thumbnail is not None])
    count = len(batch)
    batch.clear()
    return count
