"""Indexing a dataset folder into its project: incremental, parallel, interruptible.

Files are compared with the project by size and modification time: new and changed ones are
decoded (images fully, which validates them and yields their thumbnail in the same pass; videos
are probed for their frames), unchanged ones are left alone with their tags. Files no longer found
are marked missing, never deleted: an unmounted drive must not cost the curation. They keep their
ids, tags, selections and scores, come back as they were (probed again) when found again, and are
forgotten only by :func:`forget_missing`. Results are committed in small transactions, so a killed
run loses at most one batch and the next run carries on.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from app.core.data.images import THUMB_SIZE, ImageProbe, probe_image
from app.core.data.scan import FoundFile, Skipped, label_of, scan_folder
from app.core.data.video import VideoError, VideoInfo, probe_video, sample_frames
from app.core.errors import TRANSIENT_REASON, SieveError
from app.core.jobs import CancelToken, Job, Progress
from app.core.quality.backfill import measure_missing_job
from app.core.quality.stats import ImageStats
from app.core.store.db import raw
from app.core.store.project import Project
from app.core.store.stats import write_stats

log = logging.getLogger("sieve")

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
    """What an index run found: files by fate, usable samples, and what could not be read."""

    added: int = 0
    changed: int = 0
    returned: int = 0  # missing files found again
    unchanged: int = 0
    missing: int = 0  # files of the project not found now (kept, not usable)
    found: int = 0  # sample files found on disk
    samples: int = 0
    broken: int = 0
    unreadable: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def mostly_missing(self) -> bool:
        """Most known files are gone (or none was found): more likely unmounted than deleted."""
        return _mostly_missing(self.missing, self.missing + self.found)

    def missing_warning(self, root: Path) -> str | None:
        """A loud sentence when most files are missing, else None."""
        return _missing_warning(self.missing, self.missing + self.found, root)


@dataclass(frozen=True, slots=True)
class _Known:
    """A file as the project knows it."""

    id: int
    size: int
    mtime_ns: int
    missing: bool
    retry: bool  # broken by a transient failure (EIO, EMFILE, MemoryError, ...)

    def needs_probe(self, found: FoundFile, resample_videos: bool) -> bool:
        return (
            self.missing
            or self.retry
            or (self.size, self.mtime_ns) != (found.size, found.mtime_ns)
            or (found.kind == "video" and resample_videos)
        )


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
    skipped: list[Skipped] = []
    for item in scan_folder(root, exclude=[project.path], cancel=cancel, skipped=skipped):
        found.append(item)
        if len(found) % SCAN_REPORT_EVERY == 0:
            yield Progress("scan", len(found), None, f"found {len(found):,} files")
    yield Progress("scan", len(found), len(found), f"found {len(found):,} files")

    known = _known_files(project)
    resample_videos = project.get_meta("video_sampling") != options.sampling_key
    todo = [
        item
        for item in found
        if item.relpath not in known or known[item.relpath].needs_probe(item, resample_videos)
    ]
    result = _classify(todo, known)
    result.found = len(found)
    result.unchanged = len(found) - len(todo)
    present = {item.relpath for item in found}
    _mark_missing(project, [f.id for p, f in known.items() if p not in present and not f.missing])
    result.unreadable = [{"path": s.relpath, "reason": s.reason} for s in skipped]
    project.set_unreadable(result.unreadable)

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
    yield from measure_missing_job(project, options.workers, cancel)  # projects from before stats
    project.set_meta("video_sampling", options.sampling_key)
    yield Progress("index", done, len(todo), "done")

    result.missing = project.missing_count()
    result.samples = project.sample_count(status="ok")
    result.broken = len(project.broken())
    result.seconds = time.monotonic() - started
    _log_outcome(root, result)
    return result


def mostly_missing(project: Project) -> bool:
    """Whether most of the project's files were missing at the last index."""
    return _mostly_missing(project.missing_count(), _file_count(project))


def missing_warning(project: Project) -> str | None:
    """The loud sentence of :meth:`IndexResult.missing_warning`, from the project's counts."""
    return _missing_warning(project.missing_count(), _file_count(project), project.dataset_root)


def forget_missing(project: Project) -> int:
    """Delete the files marked missing with their samples, tags, selection places and scores.

    The one way Sieve forgets a file: the user asks for it (``sieve index --prune``, or the
    GUI's File menu after a confirmation). Returns how many files were forgotten.
    """
    file_ids = [row[0] for row in project.db.execute("SELECT id FROM files WHERE missing")]
    _remove_files(project, file_ids)
    if file_ids:
        log.info("forgot %d missing files of %s", len(file_ids), project.path)
    return len(file_ids)


def _mostly_missing(missing: int, total: int) -> bool:
    return missing > 0 and missing * 2 > total


def _missing_warning(missing: int, total: int, root: Path) -> str | None:
    if not _mostly_missing(missing, total):
        return None
    return (
        f"{missing:,} of {total:,} files of the project are missing from {root}: is the drive "
        "mounted? They are kept with their tags, selections and scores (marked missing) until "
        "you forget them"
    )


def _file_count(project: Project) -> int:
    return project.db.execute("SELECT COUNT(*) FROM files").fetchone()[0]


def _known_files(project: Project) -> dict[str, _Known]:
    query = (
        "SELECT f.relpath, f.id, f.size, f.mtime_ns, f.missing, f.reason LIKE :transient "
        "OR EXISTS (SELECT 1 FROM samples s WHERE s.file_id = f.id AND s.reason LIKE :transient) "
        "FROM files f"
    )
    marker = {"transient": f"%{TRANSIENT_REASON}%"}
    return {
        relpath: _Known(file_id, size, mtime_ns, bool(missing), bool(retry))
        for relpath, file_id, size, mtime_ns, missing, retry in project.db.execute(query, marker)
    }


def _classify(todo: list[FoundFile], known: dict[str, _Known]) -> IndexResult:
    """Count the files to probe as new, changed, or missing ones found again."""
    result = IndexResult()
    for item in todo:
        before = known.get(item.relpath)
        if before is None:
            result.added += 1
        elif before.missing:
            result.returned += 1
        else:
            result.changed += 1
    return result


def _mark_missing(project: Project, file_ids: list[int]) -> None:
    """Files not found any more: kept with everything attached, but no longer usable."""
    with project.db:
        project.db.executemany(
            "UPDATE files SET missing = 1 WHERE id = ?", ((i,) for i in file_ids)
        )


def _log_outcome(root: Path, result: IndexResult) -> None:
    warning = result.missing_warning(root)
    if warning is not None:
        log.warning("%s", warning)
    elif result.missing:
        log.info("%d files of the project are missing from %s", result.missing, root)
    for entry in result.unreadable:
        log.warning("could not read %s in %s: %s", entry["path"], root, entry["reason"])


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
    measured: list[tuple[int, ImageStats]] = []
    with project.db:
        for probed in batch:
            file_id = _upsert_file(project, probed)
            if probed.found.kind == "image":
                sample_id = _upsert_image_sample(project, file_id, probed)
                if probed.image is not None and probed.image.stats is not None:
                    measured.append((sample_id, probed.image.stats))
                if probed.image is not None and probed.image.thumbnail is not None:
                    thumbs.append((sample_id, probed.image.thumbnail))
                else:
                    stale.append(sample_id)
            else:
                stale.extend(_replace_frames(project, file_id, probed))
        write_stats(project.db, measured)
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
        "VALUES (CAST(? AS TEXT), ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(relpath) DO UPDATE SET "
        "kind = excluded.kind, size = excluded.size, mtime_ns = excluded.mtime_ns, "
        "status = excluded.status, reason = excluded.reason, n_frames = excluded.n_frames, "
        "fps = excluded.fps, missing = 0",
        (raw(found.relpath), *row),
    )
    query = "SELECT id FROM files WHERE relpath = CAST(? AS TEXT)"
    return project.db.execute(query, (raw(found.relpath),)).fetchone()[0]


def _upsert_image_sample(project: Project, file_id: int, probed: _Probed) -> int:
    """Insert or update the image's one sample, keeping its id (and so its tags)."""
    image = probed.image
    reason = probed.reason or (image.reason if image else None)
    values = (
        image.width if image else None,
        image.height if image else None,
        raw(label_of(probed.found.relpath)),
        "broken" if reason else "ok",
        reason,
    )
    row = project.db.execute(
        "SELECT id FROM samples WHERE file_id = ? AND frame IS NULL", (file_id,)
    ).fetchone()
    if row is not None:
        project.db.execute(
            "UPDATE samples SET width = ?, height = ?, label = CAST(? AS TEXT), status = ?, "
            "reason = ? WHERE id = ?",
            (*values, row[0]),
        )
        return row[0]
    cursor = project.db.execute(
        "INSERT INTO samples(file_id, frame, width, height, label, status, reason) "
        "VALUES (?, NULL, ?, ?, CAST(? AS TEXT), ?, ?)",
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
    label = raw(label_of(probed.found.relpath))
    if video is not None:
        kept = [existing[frame] for frame in probed.frames if frame in existing]
        project.db.executemany(
            "UPDATE samples SET width = ?, height = ?, label = CAST(? AS TEXT), status = 'ok', "
            "reason = NULL WHERE id = ?",
            ((video.width, video.height, label, sample_id) for sample_id in kept),
        )
        project.db.executemany(
            "INSERT INTO samples(file_id, frame, width, height, label, status) "
            "VALUES (?, ?, ?, ?, CAST(? AS TEXT), 'ok')",
            (
                (file_id, frame, video.width, video.height, label)
                for frame in probed.frames
                if frame not in existing
            ),
        )
        return gone + kept
    return gone
