"""Indexing a dataset folder into its project: progressive, incremental, parallel, resumable.

Two phases. *List* (:mod:`app.core.ingest.listing`): the scan commits a row for every new file
at once, marked pending, so a view shows the folder within seconds whatever its size. *Probe*:
the files to validate are decoded on a thread pool, the rows on screen first
(:class:`~app.core.ingest.priority.VisibleFirst`), huge PNGs in their own lane; each batch of
verdicts clears its files' pending flag in one short transaction.

Files are compared with the project by size and modification time: new and changed ones are
decoded (images fully, which validates them and yields their thumbnail and content hash in the
same pass; videos are probed for their frames), unchanged ones are left alone with their tags.
Files no longer found are marked missing, never deleted: an unmounted drive must not cost the
curation. They keep their ids, tags, selections and scores, come back as they were (probed again)
when found again, and are forgotten only by :func:`forget_missing`. Results are committed in
small transactions, so a killed run loses at most one batch and the next run carries on with the
files still pending.

Progress stages: ``"list"`` (rows committed so far, total None; total set when the scan is
over), then ``"index"`` (files probed of those to probe: first 0 of the total, then after each
committed batch, message: the last file's path), then ``"measure"``
(:func:`~app.core.quality.backfill.measure_missing_job`: the image statistics, from the
thumbnails just made, once every file is thumbnailed), and ``"index"`` "done" at the end.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from app.core.data.images import THUMB_SIZE, ImageProbe, probe_image
from app.core.data.scan import FoundFile
from app.core.data.video import VideoError, VideoInfo, probe_video, sample_frames
from app.core.errors import SieveError
from app.core.ingest.listing import Listing, WriteTurns, known_files, list_files
from app.core.ingest.priority import ProbeQueue, VisibleFirst
from app.core.ingest.probers import Probers
from app.core.jobs import CancelToken, Job, Progress
from app.core.quality.backfill import measure_missing_job
from app.core.store.db import raw
from app.core.store.project import Project
from app.core.store.stats import write_content_hashes

log = logging.getLogger("sieve")

BATCH_SIZE = 256  # probed files committed per transaction at most
COMMIT_SECONDS = 0.5  # ... and at least this often, so thumbnails appear as they are made
MIN_BATCH = 8
TARGET_LOCK_S = 0.025  # a batch's transaction aims at this long (a GUI's writes wait behind it)
_CHUNK = 900
EARLY_POLL_S = 0.05  # how often the early probe looks at the rows on screen
EARLY_SETTLE_S = 0.1  # ... and how long they must stay before it probes them (not mid-scroll)
EARLY_BATCH = 16  # files the early probe commits together at most ...
EARLY_COMMIT_S = 0.05  # ... and at least this often


@dataclass(frozen=True)
class IndexOptions:
    """How videos are sampled (every frame by default) and how thumbnails are made."""

    every_nth: int | None = None
    video_fps: float | None = None
    thumb_size: int = THUMB_SIZE
    workers: int = field(default_factory=lambda: max(2, os.cpu_count() or 2))
    batch_size: int = BATCH_SIZE  # probed files per commit at most

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
    longest_write_s: float = 0.0  # the longest transaction this run held the write lock

    @property
    def mostly_missing(self) -> bool:
        """Most known files are gone (or none was found): more likely unmounted than deleted."""
        return _mostly_missing(self.missing, self.missing + self.found)

    def missing_warning(self, root: Path) -> str | None:
        """A loud sentence when most files are missing, else None."""
        return _missing_warning(self.missing, self.missing + self.found, root)


@dataclass(frozen=True)
class _Probed:
    """A worker's verdict on one file."""

    found: FoundFile
    image: ImageProbe | None = None
    video: VideoInfo | None = None
    frames: tuple[int, ...] = ()
    reason: str | None = None


def index_job(
    project: Project,
    options: IndexOptions | None = None,
    cancel: CancelToken | None = None,
    visible: VisibleFirst | None = None,
) -> Job[IndexResult]:
    """Bring ``project`` up to date with its dataset folder; return what changed.

    New files are listed (committed pending) first, then every file to probe is decoded, the
    samples ``visible`` prefers first whenever its wanted set changes.
    """
    options = options or IndexOptions()
    cancel = cancel or CancelToken()
    started = time.monotonic()
    root = project.dataset_root
    if not root.is_dir():
        raise SieveError(f"the dataset folder {root} does not exist (moved or unmounted?)")

    turns = WriteTurns()
    early = _EarlyProbe(project.path, options, visible, turns) if visible is not None else None
    try:
        known = known_files(project)  # ~3 s at 1M files here: the early probe goes on
        resample_videos = project.get_meta("video_sampling") != options.sampling_key
        listing = yield from list_files(project, known, resample_videos, cancel, turns)
    finally:
        early_done = early.stop() if early is not None else set()
    if early_done:  # the rows on screen while the folder was listed are done already
        listing.todo = [item for item in listing.todo if item.relpath not in early_done]
    result = _counts(listing)
    result.longest_write_s = listing.longest_commit_s
    gone = [f.id for p, f in known.items() if p not in listing.present and not f.missing]
    del known
    _mark_missing(project, gone)
    result.unreadable = [{"path": s.relpath, "reason": s.reason} for s in listing.skipped]
    project.set_unreadable(result.unreadable)

    todo, total, done = listing.todo, len(listing.todo), 0
    listing.todo = []
    cancel.raise_if_cancelled()
    yield Progress("index", 0, total, "")  # how many files the probe phase decodes
    batch: list[_Probed] = []
    limit, last_commit = options.batch_size, time.monotonic()
    for probed in _probe_all(project, todo, options, cancel, visible):
        batch.append(probed)
        done += 1
        if len(batch) >= limit or time.monotonic() - last_commit >= COMMIT_SECONDS:
            limit, took = _timed_write(project, batch, options.batch_size)
            result.longest_write_s = max(result.longest_write_s, took)
            batch.clear()
            last_commit = time.monotonic()
            yield Progress("index", done, total, probed.found.relpath)
    _write_batch(project, batch)
    yield Progress("index", done, total, "thumbnailed")  # every file is in the grid now
    yield from measure_missing_job(project, options.workers, cancel)  # from the thumbnails
    project.set_meta("video_sampling", options.sampling_key)
    yield Progress("index", done, total, "done")

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


def _timed_write(project: Project, batch: list[_Probed], most: int) -> tuple[int, float]:
    """Write ``batch``; return how many files the next batch may hold to keep the write lock
    about :data:`TARGET_LOCK_S` (under load, a batch's writes wait for the GIL between rows),
    and the seconds this write took."""
    started = time.perf_counter()
    _write_batch(project, batch)
    took = time.perf_counter() - started
    per_file = max(took, 1e-4) / len(batch)
    return int(min(most, max(MIN_BATCH, TARGET_LOCK_S / per_file))), took


def _counts(listing: Listing) -> IndexResult:
    """The files of ``listing`` by fate."""
    result = IndexResult(added=listing.added, changed=listing.changed, returned=listing.returned)
    result.found = listing.found
    result.unchanged = listing.found - len(listing.todo)
    return result


def _mark_missing(project: Project, file_ids: list[int]) -> None:
    """Files not found any more: kept with everything attached, but no longer usable."""
    for start in range(0, len(file_ids), _CHUNK):
        chunk = file_ids[start : start + _CHUNK]
        with project.db:
            project.db.executemany(
                "UPDATE files SET missing = 1 WHERE id = ?", ((i,) for i in chunk)
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
    project: Project,
    todo: Sequence[FoundFile],
    options: IndexOptions,
    cancel: CancelToken,
    visible: VisibleFirst | None,
) -> Iterator[_Probed]:
    """Probe files on worker threads (Pillow and PyAV release the GIL), as they finish.

    A worker takes the next file when it frees up: one ``visible`` wants first, else the next
    in its lane (see :class:`ProbeQueue` and :class:`Probers`).
    """
    if not todo:
        return
    queue = ProbeQueue(todo, options.workers)
    seen = None
    if visible is not None:  # before the workers start: the rows on screen come first
        seen, wanted = visible.wanted()
        queue.want(_relpaths_of(project, wanted))
    probe = partial(_probe_one, project.dataset_root, options=options)
    probers = Probers(queue, probe, options.workers)
    try:
        while not probers.done:
            if visible is not None and visible.version != seen:
                seen, wanted = visible.wanted()
                probers.want(_relpaths_of(project, wanted))
            arrived = probers.arrivals(timeout=0.1)
            cancel.raise_if_cancelled()
            yield from arrived
    finally:
        probers.stop()


class _EarlyProbe:
    """Probes the rows on screen while the folder is still being listed (a big folder takes
    seconds to list; what the user looks at gets its thumbnails meanwhile).

    Its own thread and project connection; one file at a time, since the scan needs the rest.
    """

    def __init__(
        self, project_dir: Path, options: IndexOptions, visible: VisibleFirst, turns: WriteTurns
    ) -> None:
        self.done: set[str] = set()
        self._options = options
        self._visible = visible
        self._turns = turns
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(project_dir,), name="sieve-index-early", daemon=True
        )
        self._thread.start()

    def stop(self) -> set[str]:
        """Stop after the file in hand; the relative paths probed and committed so far."""
        self._stopping.set()
        self._thread.join()
        return self.done

    def _run(self, project_dir: Path) -> None:
        try:
            with Project.open(project_dir) as project:
                seen = changed = None
                settle_at = 0.0
                while not self._stopping.wait(EARLY_POLL_S):
                    version = self._visible.version
                    if version == seen:
                        continue
                    if version != changed:  # the screen moved: wait until it settles
                        changed, settle_at = version, time.monotonic() + EARLY_SETTLE_S
                    if time.monotonic() >= settle_at:
                        seen, wanted = self._visible.wanted()
                        self._probe(project, _pending_files(project, wanted), seen)
        except Exception:  # an optional head start: the probe phase does these files anyway
            log.exception("probing the rows on screen early failed")

    def _probe(self, project: Project, files: list[FoundFile], version: int) -> None:
        """Probe ``files`` until stopped or the screen shows other rows (a newer version),
        committing a few at a time: each commit waits for the listing's write lock."""
        root = project.dataset_root
        batch: list[_Probed] = []
        last = time.monotonic()
        try:
            for found in files:
                if self._stopping.is_set() or self._visible.version != version:
                    return
                batch.append(_probe_one(root, found, self._options))
                if len(batch) >= EARLY_BATCH or time.monotonic() - last >= EARLY_COMMIT_S:
                    self._commit(project, batch)
                    last = time.monotonic()
        finally:
            self._commit(project, batch)

    def _commit(self, project: Project, batch: list[_Probed]) -> None:
        if not batch:
            return
        with self._turns.turn():  # the listing writer lets this commit in
            _write_batch(project, batch)
        self.done.update(probed.found.relpath for probed in batch)
        batch.clear()


def _pending_files(project: Project, sample_ids: Sequence[int]) -> list[FoundFile]:
    """The listed, not yet probed files of ``sample_ids`` (in that order)."""
    rows = _files_of(project, sample_ids, "f.relpath, f.kind, f.size, f.mtime_ns", "f.pending")
    return [FoundFile(*row) for row in rows]


def _relpaths_of(project: Project, sample_ids: Sequence[int]) -> list[str]:
    """The files of ``sample_ids``, in the order the ids are given."""
    return [row[0] for row in _files_of(project, sample_ids, "f.relpath")]


def _files_of(
    project: Project, sample_ids: Sequence[int], columns: str, where: str = "1"
) -> list[tuple]:
    """``columns`` of the files of ``sample_ids`` (those meeting ``where``), in the ids' order;
    read :data:`_CHUNK` ids at a time (SQLite's limit on parameters)."""
    found: dict[int, tuple] = {}
    for start in range(0, len(sample_ids), _CHUNK):
        chunk = [int(i) for i in sample_ids[start : start + _CHUNK]]
        marks = ",".join("?" * len(chunk))
        query = (
            f"SELECT s.id, {columns} FROM samples s JOIN files f ON f.id = s.file_id "
            f"WHERE {where} AND s.id IN ({marks})"
        )
        found.update((row[0], row[1:]) for row in project.db.execute(query, chunk))
    return [found[i] for i in sample_ids if i in found]


def _probe_one(root: Path, found: FoundFile, options: IndexOptions) -> _Probed:
    path = root / found.relpath
    if found.broken_link:
        return _Probed(found, reason="broken link: the file it points to is missing")
    if found.kind == "image":  # a new JPEG was listed without its stat: the probe reads it
        image = probe_image(path, options.thumb_size, measure=False)  # measured after
        if not found.stat_read and image.file_stat is not None:
            found = found._replace(size=image.file_stat[0], mtime_ns=image.file_stat[1])
        return _Probed(found, image=image)
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
    """Commit one batch of probed files, then their thumbnails (a cache: written second).

    An image whose rows exist (listed, changed or found again: nearly every one) is written by
    id, the batch's rows in one ``executemany`` per table; the rest row by row."""
    if not batch:
        return
    thumbs: list[tuple[int, bytes]] = []
    stale: list[int] = []
    hashed: list[tuple[int, str | None]] = []
    file_rows: list[tuple] = []
    sample_rows: list[tuple] = []
    with project.db:
        rows = _image_rows(project, [p.found.relpath for p in batch if p.found.kind == "image"])
        for probed in batch:
            if probed.found.kind != "image":
                stale.extend(_replace_frames(project, _upsert_file(project, probed), probed))
                continue
            ids = rows.get(probed.found.relpath)
            if ids is None:
                sample_id = _upsert_image_sample(project, _upsert_file(project, probed), probed)
            else:
                file_id, sample_id = ids
                file_rows.append((*_file_values(probed), file_id))
                sample_rows.append((*_sample_values(probed), sample_id))
            if probed.image is not None and probed.image.ok:  # measured after, anew
                hashed.append((sample_id, probed.image.content_hash))
            if probed.image is not None and probed.image.thumbnail is not None:
                thumbs.append((sample_id, probed.image.thumbnail))
            else:
                stale.append(sample_id)
        project.db.executemany(
            "UPDATE files SET kind = ?, size = ?, mtime_ns = ?, status = ?, reason = ?, "
            "n_frames = ?, fps = ?, missing = 0, pending = 0 WHERE id = ?",
            file_rows,
        )
        project.db.executemany(
            "UPDATE samples SET width = ?, height = ?, status = ?, reason = ? WHERE id = ?",
            sample_rows,
        )
        write_content_hashes(project.db, hashed)
    project.thumbs.delete(stale)
    project.thumbs.put_many(thumbs)


def _image_rows(project: Project, relpaths: list[str]) -> dict[str, tuple[int, int]]:
    """``relpath: (file id, sample id)`` of those image files whose rows exist."""
    rows: dict[str, tuple[int, int]] = {}
    for start in range(0, len(relpaths), _CHUNK):
        chunk = [raw(relpath) for relpath in relpaths[start : start + _CHUNK]]
        marks = ",".join(["CAST(? AS TEXT)"] * len(chunk))
        query = (
            "SELECT f.relpath, f.id, s.id FROM files f JOIN samples s "
            f"ON s.file_id = f.id AND s.frame IS NULL WHERE f.relpath IN ({marks})"
        )
        rows.update(
            (relpath, (file_id, sample_id))
            for relpath, file_id, sample_id in project.db.execute(query, chunk)
        )
    return rows


def _file_values(probed: _Probed) -> tuple:
    """The ``files`` columns kind, size, mtime_ns, status, reason, n_frames, fps of a probe."""
    found, video = probed.found, probed.video
    reason = probed.reason or (probed.image.reason if probed.image else None)
    return (
        found.kind,
        found.size,
        found.mtime_ns,
        "broken" if reason else "ok",
        reason,
        video.n_frames if video else None,
        video.fps if video else None,
    )


def _sample_values(probed: _Probed) -> tuple:
    """The ``samples`` columns width, height, status, reason of an image's probe."""
    image = probed.image
    reason = probed.reason or (image.reason if image else None)
    return (
        image.width if image else None,
        image.height if image else None,
        "broken" if reason else "ok",
        reason,
    )


def _upsert_file(project: Project, probed: _Probed) -> int:
    return project.db.execute(
        "INSERT INTO files(relpath, kind, size, mtime_ns, status, reason, n_frames, fps) "
        "VALUES (CAST(? AS TEXT), ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(relpath) DO UPDATE SET "
        "kind = excluded.kind, size = excluded.size, mtime_ns = excluded.mtime_ns, "
        "status = excluded.status, reason = excluded.reason, n_frames = excluded.n_frames, "
        "fps = excluded.fps, missing = 0, pending = 0 RETURNING id",
        (raw(probed.found.relpath), *_file_values(probed)),
    ).fetchone()[0]


def _upsert_image_sample(project: Project, file_id: int, probed: _Probed) -> int:
    """Insert or update the image's one sample, keeping its id (and so its tags)."""
    values = _sample_values(probed)
    row = project.db.execute(
        "UPDATE samples SET width = ?, height = ?, status = ?, reason = ? "
        "WHERE file_id = ? AND frame IS NULL RETURNING id",
        (*values, file_id),
    ).fetchone()
    if row is not None:
        return row[0]
    cursor = project.db.execute(
        "INSERT INTO samples(file_id, frame, width, height, status, reason) "
        "VALUES (?, NULL, ?, ?, ?, ?)",
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
    if video is not None:
        kept = [existing[frame] for frame in probed.frames if frame in existing]
        project.db.executemany(
            "UPDATE samples SET width = ?, height = ?, status = 'ok', reason = NULL WHERE id = ?",
            ((video.width, video.height, sample_id) for sample_id in kept),
        )
        project.db.executemany(
            "INSERT INTO samples(file_id, frame, width, height, status) VALUES (?, ?, ?, ?, 'ok')",
            (
                (file_id, frame, video.width, video.height)
                for frame in probed.frames
                if frame not in existing
            ),
        )
        return gone + kept
    return gone
