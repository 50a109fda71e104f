"""Measuring the image statistics a project lacks (images indexed before Sieve measured them).

Indexing calls :func:`measure_missing_job` after its probe phase, so an existing project gets
its statistics on the next ``sieve index``: each unmeasured image is decoded once more at
thumbnail scale on a thread pool (Pillow releases the GIL) and its statistics committed in
batches. A killed run keeps what it committed; the next run carries on.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

from app.core.data.images import ImageProbe, probe_image
from app.core.jobs import CancelToken, Job, Progress
from app.core.store.project import Project
from app.core.store.stats import unmeasured_images, write_stats

BATCH = 256


def measure_missing_job(
    project: Project, workers: int = 2, cancel: CancelToken | None = None
) -> Job[int]:
    """Measure every usable image without statistics; return how many were measured."""
    cancel = cancel or CancelToken()
    todo = unmeasured_images(project)
    if not todo:
        return 0
    root = project.dataset_root
    yield Progress("measure", 0, len(todo), "measuring image statistics")
    done = 0
    batch: list[tuple[int, ImageProbe]] = []
    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="sieve-measure") as pool:
        pending: deque[tuple[int, Future[ImageProbe]]] = deque()
        try:
            for position in range(len(todo) + 1):
                if position < len(todo):
                    sample_id, relpath = todo[position]
                    pending.append((sample_id, pool.submit(probe_image, root / relpath)))
                last = position == len(todo)
                while pending and (last or len(pending) >= 4 * workers):
                    finished_id, future = pending.popleft()
                    batch.append((finished_id, future.result()))
                    cancel.raise_if_cancelled()
                    if len(batch) >= BATCH:
                        done += _commit(project, batch)
                        yield Progress("measure", done, len(todo), "measuring image statistics")
        finally:
            for _, future in pending:
                future.cancel()
    done += _commit(project, batch)
    yield Progress("measure", done, len(todo), "done")
    return done


def _commit(project: Project, batch: list[tuple[int, ImageProbe]]) -> int:
    measured = [(i, probe.stats) for i, probe in batch if probe.stats is not None]
    with project.db:
        write_stats(project.db, measured)
    count = len(batch)
    batch.clear()
    return count
