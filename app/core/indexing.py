"""Indexing a dataset folder into its project: incremental, parallel, interruptible.

Files are compared with the project by size and modification time: new and changed ones are
decoded (images fully, which validates them and yields their thumbnail in the same pass; videos
are probed for their frames), removed ones are dropped with their tags, unchanged ones are left
alone with their tags. Results are committed in small transactions, so a killed run loses at most
one batch and the next run carries on.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from app.core.data.images import THUMB_SIZE, ImageProbe, probe_image
from app.core.data.scan import FoundFile, label_of, scan_folder
from app.core.data.video import VideoError, VideoInfo, probe_video, sample_frames
from app.core.errors import SieveError
from app.core.jobs import CancelToken, Job, Progress
from app.core.store.project import Project

BATCH_SIZE = 256
SCAN_REPORT_EVERY = 2000


@dataclass(frozen=True)
class IndexOptions:
    """How videos are sampled (every frame by default) and how thumbnails are made."""

    every_nth: int | None = None
    video_fps: float | None = None
    thumb_size: int = THUMB_SIZE
    workers: int = field(default_factory=lambda: max(2, os.cpu_count() or 2))

    def __post_init__(self) -> None:
        if self.every_nth is not None and self.video_fps is not None:
            raise SieveError("choose one of --every-nth and --video-fps")
        if self.every_nth is not None and self.every_nth < 1:
            raise SieveError("--every-nth must be 1 or more")
        if self.video_fps is not None and self.video_fps <= 0:
            raise SieveError("--video-fps must be greater than 0")

    @property
    def sampling_key(self) -> str:
        """Stored in the project: when it changes, every video is sampled again."""
        return f"every_nth={self.every_nth};fps={self.video_fps}"


@dataclass
class IndexResult:
    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    samples: int = 0
    broken: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class _Probed:
    """A worker's verdict on one file."""

    found: FoundFile
    image: ImageProbe | None = None
    video: VideoInfo | None = None
    frames: tuple[int, ...] = ()
    reason: str | None = None


def index_job(
    project: Project, options: IndexOptions | None = None, cancel: CancelToken | None = None
) -> Job[IndexResult]:
    """Bring ``project`` up to date with its dataset folder; return what changed."""
    options = options or IndexOptions()
    cancel = cancel or CancelToken()
    started = time.monotonic()
    root = project.dataset_root
    if not root.is_dir():
        raise SieveError(f"the dataset folder {root} does not exist (moved or unmounted?)")

    found: list[FoundFile] = []
    for item in scan_folder(root, exclude=[project.path], cancel=cancel):
        found.append(item)
        if len(found) % SCAN_REPORT_EVERY == 0:
            yield Progress("scan", len(found), None, f"found {len(found):,} files")
    yield Progress("scan", len(found), len(found), f"found {len(found):,} files")

    known = {
        relpath: (file_id, size, mtime_ns)
        for file_id, relpath, size, mtime_ns in project.db.execute(
            "SELECT id, relpath, size, mtime_ns FROM files"
        )
    }
    resample_videos = project.get_meta("video_sampling") != options.sampling_key
    todo = [
        item
        for item in found
        if item.relpath not in known
        or known[item.relpath][1:] != (item.size, item.mtime_ns)
        or (item.kind == "video" and resample_videos)
    ]
    present = {item.relpath for item in found}
    removed_ids = [file_id for relpath, (file_id, *_) in known.items() if relpath not in present]
    result = IndexResult(
        changed=sum(item.relpath in known for item in todo),
        removed=len(removed_ids),
    )
    result.added = len(todo) - result.changed
    result.unchanged = len(found) - len(todo)
    _remove_files(project, removed_ids)

    done = 0
    batch: list[_Probed] = []
    for probed in _probe_all(root, todo, options, cancel):
        batch.append(probed)
        done += 1
        if len(batch) >= BATCH_SIZE:
            _write_batch(project, batch)
            batch.clear()
            yield Progress("index", done, len(todo), probed.found.relpath)
    _write_batch(project, batch)
    project.set_meta("video_sampling", options.sampling_key)
    yield Progress("index", done, len(todo), "done")

    result.samples = project.sample_count(status="ok")
    result.broken = len(project.broken())
    result.seconds = time.monotonic() - started
    return result


def _probe_all(
    root: Path, todo: list[FoundFile], options: IndexOptions, cancel: CancelToken
) -> Iterator[_Probed]:
    """Probe files on a thread pool (Pillow and PyAV release the GIL), in order, bounded."""
    if not todo:
        return
    window = options.workers * 8
    with ThreadPoolExecutor(options.workers, thread_name_prefix="sieve-index") as pool:
        pending: deque[Future[_Probed]] = deque()
        try:
            for item in todo:
                pending.append(pool.submit(_probe_one, root, item, options))
                if len(pending) >= window:
                    yield pending.popleft().result()
                    cancel.raise_if_cancelled()
            while pending:
                yield pending.popleft().result()
                cancel.raise_if_cancelled()
        finally:
            for future in pending:
                future.cancel()


def _probe_one(root: Path, found: FoundFile, options: IndexOptions) -> _Probed:
    path = root / found.relpath
    if found.broken_link:
        return _Probed(found, reason="broken link: the file it points to is missing")
    if found.kind == "image":
        return _Probed(found, image=probe_image(path, options.thumb_size))
    try:
        info = probe_video(path)
        frames = sample_frames(info, every_nth=options.every_nth, target_fps=options.video_fps)
    except VideoError as error:
        return _Probed(found, reason=str(error))
    return _Probed(found, video=info, frames=tuple(frames))


def _remove_files(project: Project, file_ids: list[int]) -> None:
    if not file_ids:
        return
    sample_ids = _sample_ids_of(project, file_ids)
    with project.db:
        project.db.executemany("DELETE FROM files WHERE id = ?", ((i,) for i in file_ids))
    project.thumbs.delete(sample_ids)


def _sample_ids_of(project: Project, file_ids: list[int]) -> list[int]:
    ids: list[int] = []
    for file_id in file_ids:
        query = "SELECT id FROM samples WHERE file_id = ?"
        ids.extend(row[0] for row in project.db.execute(query, (file_id,)))
    return ids


def _write_batch(project: Project, batch: list[_Probed]) -> None:
    """Commit one batch of probed files, then their thumbnails (a cache: written second)."""
    if not batch:
        return
    thumbs: list[tuple[int, bytes]] = []
    stale: list[int] = []
    with project.db:
        for probed in batch:
            file_id = _upsert_file(project, probed)
            if probed.found.kind == "image":
                sample_id = _upsert_image_sample(project, file_id, probed)
                if probed.image is not None and probed.image.thumbnail is not None:
                    thumbs.append((sample_id, probed.image.thumbnail))
                else:
                    stale.append(sample_id)
            else:
                stale.extend(_replace_frames(project, file_id, probed))
    project.thumbs.delete(stale)
    project.thumbs.put_many(thumbs)


def _upsert_file(project: Project, probed: _Probed) -> int:
    found = probed.found
    reason = probed.reason or (probed.image.reason if probed.image else None)
    status = "broken" if reason else "ok"
    video = probed.video
    row = (
        found.kind,
        found.size,
        found.mtime_ns,
        status,
        reason,
        video.n_frames if video else None,
        video.fps if video else None,
    )
    project.db.execute(
        "INSERT INTO files(relpath, kind, size, mtime_ns, status, reason, n_frames, fps) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(relpath) DO UPDATE SET "
        "kind = excluded.kind, size = excluded.size, mtime_ns = excluded.mtime_ns, "
        "status = excluded.status, reason = excluded.reason, n_frames = excluded.n_frames, "
        "fps = excluded.fps",
        (found.relpath, *row),
    )
    query = "SELECT id FROM files WHERE relpath = ?"
    return project.db.execute(query, (found.relpath,)).fetchone()[0]


def _upsert_image_sample(project: Project, file_id: int, probed: _Probed) -> int:
    """Insert or update the image's one sample, keeping its id (and so its tags)."""
    image = probed.image
    reason = probed.reason or (image.reason if image else None)
    values = (
        image.width if image else None,
        image.height if image else None,
        label_of(probed.found.relpath),
        "broken" if reason else "ok",
        reason,
    )
    row = project.db.execute(
        "SELECT id FROM samples WHERE file_id = ? AND frame IS NULL", (file_id,)
    ).fetchone()
    if row is not None:
        project.db.execute(
            "UPDATE samples SET width = ?, height = ?, label = ?, status = ?, reason = ? "
            "WHERE id = ?",
            (*values, row[0]),
        )
        return row[0]
    cursor = project.db.execute(
        "INSERT INTO samples(file_id, frame, width, height, label, status, reason) "
        "VALUES (?, NULL, ?, ?, ?, ?, ?)",
        (file_id, *values),
    )
    return int(cursor.lastrowid)


def _replace_frames(project: Project, file_id: int, probed: _Probed) -> list[int]:
    """Make the video's frame samples match ``probed.frames``; return ids whose thumbs are stale.

    Frames kept by the new sampling keep their ids and tags.
    """
    existing = dict(
        project.db.execute("SELECT frame, id FROM samples WHERE file_id = ?", (file_id,))
    )
    wanted = set(probed.frames)
    gone = [sample_id for frame, sample_id in existing.items() if frame not in wanted]
    project.db.executemany("DELETE FROM samples WHERE id = ?", ((i,) for i in gone))
    video = probed.video
    label = label_of(probed.found.relpath)
    if video is not None:
        kept = [existing[frame] for frame in probed.frames if frame in existing]
        project.db.executemany(
            "UPDATE samples SET width = ?, height = ?, label = ?, status = 'ok', reason = NULL "
            "WHERE id = ?",
            ((video.width, video.height, label, sample_id) for sample_id in kept),
        )
        project.db.executemany(
            "INSERT INTO samples(file_id, frame, width, height, label, status) "
            "VALUES (?, ?, ?, ?, ?, 'ok')",
            (
                (file_id, frame, video.width, video.height, label)
                for frame in probed.frames
                if frame not in existing
            ),
        )
        return gone + kept
    return gone
