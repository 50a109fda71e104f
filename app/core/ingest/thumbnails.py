"""Making the thumbnails the project lacks: images one by one, each video in one pass.

Indexing already thumbnails images (it decodes them anyway); this job fills in video frames and
anything missing from the cache (e.g. after it was deleted), on a bounded thread pool. The image
statistics of what it thumbnails are measured from the thumbnails it makes (video frames get
theirs here; frames thumbnailed before statistics existed are decoded again once for them).
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from PIL import Image

from app.core.data.images import THUMB_SIZE, encode_thumbnail
from app.core.data.video import VideoError, VideoReader
from app.core.jobs import CancelToken, Job, Progress
from app.core.quality.measuring import thumbnail_again
from app.core.quality.stats import ImageStats, thumbnail_stats
from app.core.store.project import Project, SampleRow
from app.core.store.stats import sample_ids_without_stats, write_stats

WRITE_EVERY = 128

Made = tuple[int, bytes, ImageStats | None]


def missing_thumbnails(project: Project) -> list[SampleRow]:
    """Usable samples that have no cached thumbnail yet, then video frames without statistics."""
    rows = project.samples_without_thumbnails()
    listed = {row.id for row in rows}
    unmeasured = [i for i in sample_ids_without_stats(project) if i not in listed]
    frames = [row for row in project.samples_by_id(unmeasured).values() if row.frame is not None]
    return rows + sorted(frames, key=lambda row: (row.relpath, row.frame))


def thumbnail_job(
    project: Project,
    samples: Sequence[SampleRow] | None = None,
    size: int = THUMB_SIZE,
    workers: int | None = None,
    cancel: CancelToken | None = None,
) -> Job[int]:
    """Thumbnail ``samples`` (default: all missing ones); return how many were made."""
    cancel = cancel or CancelToken()
    todo = list(missing_thumbnails(project) if samples is None else samples)
    root = project.dataset_root
    tasks = _group_by_file(todo)
    made = 0
    buffer: list[Made] = []
    yield Progress("thumbnails", 0, len(todo))
    with ThreadPoolExecutor(workers or max(2, os.cpu_count() or 2)) as pool:
        futures = [pool.submit(_thumbnail_file, root, group, size, cancel) for group in tasks]
        try:
            for future in as_completed(futures):
                buffer.extend(future.result())
                if len(buffer) >= WRITE_EVERY:
                    made += _flush(project, buffer)
                    yield Progress("thumbnails", made, len(todo))
                cancel.raise_if_cancelled()
        finally:
            for future in futures:
                future.cancel()
            made += _flush(project, buffer)
    yield Progress("thumbnails", made, len(todo), "done")
    return made


def _group_by_file(samples: Sequence[SampleRow]) -> list[list[SampleRow]]:
    """One task per image; one task per video holding all its wanted frames."""
    videos: dict[str, list[SampleRow]] = defaultdict(list)
    groups: list[list[SampleRow]] = []
    for row in samples:
        if row.frame is None:
            groups.append([row])
        else:
            videos[row.relpath].append(row)
    groups.extend(videos.values())
    return groups


def _thumbnail_file(
    root: Path, group: list[SampleRow], size: int, cancel: CancelToken
) -> list[Made]:
    if cancel.cancelled:
        return []
    first = group[0]
    if first.frame is None:
        made = thumbnail_again(root / first.relpath, size)
        return [] if made is None else [(first.id, *made)]
    return list(_video_thumbnails(root / first.relpath, group, size, cancel))


def _thumbnail_and_stats(image: Image.Image, size: int) -> tuple[bytes, ImageStats | None]:
    """A video frame's thumbnail bytes and their statistics (as every thumbnail is measured)."""
    data = encode_thumbnail(image, size)
    return data, thumbnail_stats(data, None)


def _video_thumbnails(
    path: Path, group: list[SampleRow], size: int, cancel: CancelToken
) -> Iterator[Made]:
    by_frame = {row.frame: row.id for row in group}
    try:
        with VideoReader(path) as reader:
            for frame, image in reader.iter_frames(sorted(by_frame)):
                if cancel.cancelled:
                    return
                yield (by_frame[frame], *_thumbnail_and_stats(image, size))
    except VideoError:
        return


def _flush(project: Project, buffer: list[Made]) -> int:
    count = len(buffer)
    if count:
        measured = [(sample_id, stats) for sample_id, _, stats in buffer if stats is not None]
        with project.db:
            write_stats(project.db, measured)
        project.thumbs.put_many([(sample_id, data) for sample_id, data, _ in buffer])
        buffer.clear()
    return count
