"""The first phase of an index: list the folder and commit rows for new files at once.

New files get a ``files`` row with ``pending = 1`` (and an image its one sample, status 'ok',
label from its folder, size unknown) in transactions of a few thousand rows, so a view shows the
folder's rows while the scan goes on. A pending file is *listed, not validated*: the project
reports it with status ``"pending"`` (never ``"ok"``), so nothing that needs the whole index
trains on, embeds or counts it until the probe phase has decoded it and cleared the flag. A
video's frames are listed when the probe reads its container's frame count.

Known files are compared by size and modification time; those to probe again (changed, found
again after missing, transiently unreadable, still pending from a stopped run, videos to sample
again) keep their rows as they are until their probe lands.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from app.core.data.scan import FoundFile, Skipped, scan_folder
from app.core.errors import TRANSIENT_REASON
from app.core.jobs import CancelToken, Job, Progress
from app.core.store.db import raw
from app.core.store.project import Project

FIRST_CHUNK = 500  # rows of the first commit: the first screenful appears at once
MAX_CHUNK = 20_000  # rows per commit at most
TARGET_LOCK_S = 0.02  # commits are sized to hold the write lock about this long
LIST_SECONDS = 0.25  # commit at least this often while a slow disk is scanned
_CHECK_EVERY = 256


@dataclass(frozen=True, slots=True)
class Known:
    """A file as the project knows it."""

    id: int
    size: int
    mtime_ns: int
    missing: bool
    retry: bool  # broken by a transient failure (EIO, EMFILE, MemoryError, ...)
    pending: bool = False  # listed by a run that stopped before probing it

    def needs_probe(self, found: FoundFile, resample_videos: bool) -> bool:
        return (
            self.missing
            or self.retry
            or self.pending
            or (self.size, self.mtime_ns) != (found.size, found.mtime_ns)
            or (found.kind == "video" and resample_videos)
        )


@dataclass
class Listing:
    """What the scan found: files to probe (in scan order) and counts by fate."""

    todo: list[FoundFile] = field(default_factory=list)
    present: set[str] = field(default_factory=set)  # known files found again
    skipped: list[Skipped] = field(default_factory=list)
    found: int = 0
    added: int = 0  # new files, and files listed by a stopped run
    changed: int = 0
    returned: int = 0
    listed: int = 0  # rows committed as pending by this run


def known_files(project: Project) -> dict[str, Known]:
    """Every file of the project by relative path."""
    query = (
        "SELECT f.relpath, f.id, f.size, f.mtime_ns, f.missing, f.reason LIKE :transient "
        "OR EXISTS (SELECT 1 FROM samples s WHERE s.file_id = f.id AND s.reason LIKE :transient), "
        "f.pending FROM files f"
    )
    marker = {"transient": f"%{TRANSIENT_REASON}%"}
    return {
        relpath: Known(file_id, size, mtime_ns, bool(missing), bool(retry), bool(pending))
        for relpath, file_id, size, mtime_ns, missing, retry, pending in project.db.execute(
            query, marker
        )
    }


def list_files(
    project: Project, known: dict[str, Known], resample_videos: bool, cancel: CancelToken
) -> Job[Listing]:
    """Scan the dataset folder, committing new files as pending rows as they are found.

    Yields ``Progress("list", rows committed, None)`` after each commit and
    ``Progress("list", n, n)`` when the scan is over.
    """
    listing = Listing()
    buffer: list[FoundFile] = []
    chunk = FIRST_CHUNK
    last = time.monotonic()
    root = project.dataset_root
    found = scan_folder(root, exclude=[project.path], cancel=cancel, skipped=listing.skipped)
    for item in found:
        listing.found += 1
        if _sort(listing, item, known.get(item.relpath), resample_videos) and not item.broken_link:
            buffer.append(item)
        if listing.found % _CHECK_EVERY or not buffer:
            continue
        if len(buffer) >= chunk or time.monotonic() - last >= LIST_SECONDS:
            chunk = _next_chunk(project, buffer)
            listing.listed += len(buffer)
            buffer.clear()
            last = time.monotonic()
            yield Progress("list", listing.listed, None, f"listed {listing.listed:,} files")
    listing.listed += insert_pending(project, buffer)
    yield Progress("list", listing.listed, listing.listed, f"listed {listing.found:,} files")
    return listing


def _next_chunk(project: Project, files: Sequence[FoundFile]) -> int:
    """Commit ``files``; return how many rows the next commit may take to hold the write lock
    about :data:`TARGET_LOCK_S` (a GUI's own writes wait no longer than that)."""
    started = time.perf_counter()
    insert_pending(project, files)
    per_row = max(time.perf_counter() - started, 1e-4) / max(1, len(files))
    return int(min(MAX_CHUNK, max(FIRST_CHUNK, TARGET_LOCK_S / per_row)))


def _sort(listing: Listing, item: FoundFile, before: Known | None, resample: bool) -> bool:
    """File ``item`` under its fate in ``listing``; True when it is new (to be listed)."""
    if before is None:
        listing.added += 1
        listing.todo.append(item)
        return True
    listing.present.add(item.relpath)
    if before.needs_probe(item, resample):
        listing.todo.append(item)
        if before.missing:
            listing.returned += 1
        elif before.pending:
            listing.added += 1
        else:
            listing.changed += 1
    return False


def insert_pending(project: Project, files: Sequence[FoundFile]) -> int:
    """Commit rows for new files, pending; an image also gets its sample. Returns the count.

    One transaction: the files' rows, then their images' samples in one statement (ids of rows
    inserted together are consecutive; the label, the first folder, is cut out by SQLite). A
    file another process listed meanwhile is left as it is.
    """
    rows = [(raw(item.relpath), item.kind, item.size, item.mtime_ns) for item in files]
    if not rows:
        return 0
    try:
        with project.db:
            project.db.executemany(_INSERT_FILE.format(verb="INSERT"), rows)
            last = project.db.execute("SELECT last_insert_rowid()").fetchone()[0]
            project.db.execute(_INSERT_SAMPLES + "id BETWEEN ? AND ?", (last - len(rows) + 1, last))
    except sqlite3.IntegrityError:
        with project.db:
            project.db.executemany(_INSERT_FILE.format(verb="INSERT OR IGNORE"), rows)
            project.db.executemany(
                _INSERT_SAMPLES + "relpath = CAST(? AS TEXT)", ((row[0],) for row in rows)
            )
    return len(rows)


_INSERT_FILE = (
    "{verb} INTO files(relpath, kind, size, mtime_ns, status, pending) "
    "VALUES (CAST(? AS TEXT), ?, ?, ?, 'ok', 1)"
)
_LABEL = "CASE WHEN instr(relpath, '/') > 0 THEN substr(relpath, 1, instr(relpath, '/') - 1) END"
_INSERT_SAMPLES = (
    f"INSERT OR IGNORE INTO samples(file_id, frame, label, status) SELECT id, NULL, {_LABEL}, "
    "'ok' FROM files WHERE kind = 'image' AND "
)
