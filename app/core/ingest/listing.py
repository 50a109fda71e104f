"""The first phase of an index: list the folder and commit rows for new files at once.

New files get a ``files`` row with ``pending = 1`` (and an image its one sample, status 'ok',
size unknown; its label is its path's first folder, never stored) in transactions of a few
thousand rows, so a view shows the folder's rows while the scan goes on. A pending file is
*listed, not validated*: the project reports it with status ``"pending"`` (never ``"ok"``), so
nothing that needs the whole index trains on, embeds or counts it until the probe phase has
decoded it and cleared the flag. A video's frames are listed when the probe reads its
container's frame count.

Known files are compared by size and modification time; those to probe again (changed, found
again after missing, transiently unreadable, still pending from a stopped run, videos to sample
again) keep their rows as they are until their probe lands. A new JPEG is listed without a stat
(size and mtime :data:`~app.core.data.scan.NOT_READ`; its probe reads them): nothing before the
probe needs its size, and the stats were most of a scan's time. So is a known JPEG probed anyway
(still pending, missing, transiently broken): only an indexed file's stat says if it changed.

The rows are committed back to back: another writer of this process (the early probe) asks for
its turn (:class:`WriteTurns`); one in another process (the window's tag edits) asks by touching
a file beside the database (:func:`~app.core.store.db.ask_write_turn`) and gets a gap after
the next commit (at most one every :data:`ASKED_GAP_AFTER_S` of commits); one that does not ask
gets a gap every :data:`OUTSIDE_GAP_EVERY_S` of commits (at every 0.1 s, those gaps made a 1M
listing 14% slower). Its connection checks no foreign keys: the only rows it writes are files
and the samples of those files, in one transaction.
"""

from __future__ import annotations

import gc
import json
import queue
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import NamedTuple

from app.core.data.scan import NOT_READ, FoundFile, Skipped, Unread, scan_batches
from app.core.errors import TRANSIENT_REASON, SieveError
from app.core.ingest.priority import REDUCIBLE_SUFFIXES
from app.core.jobs import CancelToken, Job, Progress
from app.core.store.catalog import parse_flags, parse_ints
from app.core.store.db import TurnRequests, connect, decode_text, raw
from app.core.store.project import DB_NAME, Project

FIRST_CHUNK = 500  # rows of the first commit: the first screenful appears at once
MAX_CHUNK = 10_000  # rows per commit at most (a loaded machine may run 10x slower)
TARGET_LOCK_S = 0.03  # commits are sized to hold the write lock about this long (each commit
# rewrites the last pages of six B-trees: 5,000-row commits cost 25% more than 10,000-row ones)
OUTSIDE_GAP_S = 0.02  # the lock is left free this long when a writer of another process asks
ASKED_GAP_AFTER_S = 0.1  # ... but after at least this long of commits since the last gap
OUTSIDE_GAP_EVERY_S = 0.5  # ... and after this long of commits for one that does not ask
TURN_WAIT_S = 0.5  # the longest the writer pauses for this process's other writers
LIST_SECONDS = 0.25  # commit at least this often while a slow disk is scanned
WRITER_CACHE_KB = 65_536
CHECKPOINT_ROWS = 50_000  # the WAL is checkpointed this often (passive, on its own thread)


class Known(NamedTuple):
    """A file as the project knows it (a named tuple: one per file, a million at 1M)."""

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
    longest_commit_s: float = 0.0  # the longest of those commits (the write lock held)


def known_files(project: Project) -> dict[str, Known]:
    """Every file of the project by relative path.

    Read as whole columns (the paths as one text, the numbers parsed by numpy) and made into
    records without a Python step per field, the collector off: at 1M files 3.0-3.5 s, not 7.4-7.8
    (a row a Python tuple, a subquery a file for its transient failures, the collector walking
    the records made so far).
    """
    paths, ids, sizes, mtimes, missing, pending = project.db.execute(_KNOWN).fetchone()
    if paths is None:
        return {}
    transient = {"transient": f"%{TRANSIENT_REASON}%"}
    retry = {row[0] for row in project.db.execute(_TRANSIENT, transient)}
    with collector_paused():
        file_ids = parse_ints(ids).tolist()
        count = len(file_ids)
        records = zip(
            file_ids,
            parse_ints(sizes).tolist(),
            parse_ints(mtimes).tolist(),
            parse_flags(missing, count).tolist(),
            [file_id in retry for file_id in file_ids] if retry else repeat(False, count),
            parse_flags(pending, count).tolist(),
            strict=True,
        )
        relpaths = decode_text(paths).split("\0")
        if len(relpaths) != count:
            raise SieveError(f"{len(relpaths)} paths read for {count} files")
        return dict(zip(relpaths, map(tuple.__new__, repeat(Known), records), strict=True))


def stat_decides(known: dict[str, Known]) -> set[str]:
    """The known files whose size and modification time decide whether they are probed again:
    not those probed anyway (pending, missing, transiently broken). A 1M folder re-opened after
    its first index stopped early holds ~1M pending files: ~10 s of stats saved here."""
    return {
        relpath
        for relpath, file in known.items()
        if not (file.missing or file.retry or file.pending)
    }


_KNOWN = (  # one row: each column of every file (a path may hold no NUL: the separator)
    "SELECT CAST(group_concat(relpath, char(0)) AS BLOB), CAST(group_concat(id) AS BLOB), "
    "CAST(group_concat(size) AS BLOB), CAST(group_concat(mtime_ns) AS BLOB), "
    "CAST(group_concat(missing <> 0, '') AS BLOB), CAST(group_concat(pending <> 0, '') AS BLOB) "
    "FROM files"
)
_TRANSIENT = (  # files broken by a transient failure, of their own or of a sample
    "SELECT id FROM files WHERE reason LIKE :transient "
    "UNION SELECT file_id FROM samples WHERE reason LIKE :transient"
)


class WriteTurns:
    """Writers of this process that wait for the write lock, so the listing lets them in.

    SQLite lets a waiting writer in only when its busy handler happens to wake while the lock
    is free; the listing's back-to-back commits leave it little chance. A writer wraps its
    transaction in :meth:`turn`; the listing writer pauses after a commit while one is asked.
    """

    def __init__(self) -> None:
        self._waiting = 0
        self._changed = threading.Condition()

    @contextmanager
    def turn(self) -> Iterator[None]:
        with self._changed:
            self._waiting += 1
        try:
            yield
        finally:
            with self._changed:
                self._waiting -= 1
                self._changed.notify_all()

    def let_waiting_in(self, timeout: float) -> None:
        """Return once no writer of this process waits (or after ``timeout`` seconds)."""
        with self._changed:
            self._changed.wait_for(lambda: self._waiting == 0, timeout)


def list_files(
    project: Project,
    known: dict[str, Known],
    resample_videos: bool,
    cancel: CancelToken,
    turns: WriteTurns | None = None,
) -> Job[Listing]:
    """Scan the dataset folder, committing new files as pending rows as they are found.

    The rows are written by a :class:`_RowWriter` (its own connection and thread) while the scan
    goes on. Yields ``Progress("list", rows committed, None)`` as commits land, and at least
    every :data:`LIST_SECONDS` while known files are checked (a view then picks up what the
    early probe made), and ``Progress("list", n, n)`` when every row is in.
    """
    listing = Listing()
    buffer: list[FoundFile] = []
    writer: _RowWriter | None = None
    reported = 0
    last = said = time.monotonic()
    root = project.dataset_root
    batches = scan_batches(
        root,
        exclude=[project.path],
        cancel=cancel,
        skipped=listing.skipped,
        unread=Unread(stat_decides(known), REDUCIBLE_SUFFIXES),  # a JPEG's size never routes
        # its probe, and a file probed anyway needs no stat (its probe reads it)
    )
    try:
        with collector_paused():
            for batch in batches:
                buffer += _sort(listing, batch, known, resample_videos)
                chunk = writer.chunk if writer is not None else FIRST_CHUNK
                if buffer and (len(buffer) >= chunk or time.monotonic() - last >= LIST_SECONDS):
                    writer = writer or _RowWriter(project.path / DB_NAME, turns)
                    writer.put(buffer)
                    buffer, last = [], time.monotonic()
                committed = writer.committed if writer is not None else 0
                if committed > reported or time.monotonic() - said >= LIST_SECONDS:
                    reported, said = committed, time.monotonic()  # also while known files pass
                    yield Progress("list", reported, None, f"listed {reported:,} files")
        if buffer:
            writer = writer or _RowWriter(project.path / DB_NAME, turns)
            writer.put(buffer)
    finally:
        if writer is not None:
            writer.close()
    if writer is not None:
        listing.listed, listing.longest_commit_s = writer.committed, writer.longest
    yield Progress("list", listing.listed, listing.listed, f"listed {listing.found:,} files")
    return listing


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector off: a listing keeps a million tuples and makes no cycles, and
    the collector would walk them again and again (a tenth of a 1M listing's time)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _RowWriter:
    """Commits chunks of new files as pending rows on its own connection and thread.

    Each commit is timed: :attr:`chunk` is how many rows the next one may take to hold the write
    lock about :data:`TARGET_LOCK_S`. Between commits the writer lets ``turns`` in, and leaves
    the lock free for a writer of another process every :data:`OUTSIDE_GAP_EVERY_S`, so none
    starves. At most two chunks wait in its queue, so a slow disk bounds the memory, not the scan.
    """

    def __init__(self, db_path: Path, turns: WriteTurns | None = None) -> None:
        self.chunk = FIRST_CHUNK
        self.committed = 0
        self.longest = 0.0  # seconds of the longest commit
        self._turns = turns
        self._locked_s = 0.0  # commit time since the last gap
        self._outside: TurnRequests | None = None  # made on the writer's thread
        self._asked = False  # a writer of another process asked for a gap not given yet
        self.gaps = 0  # times the lock was left free for another process
        self._error: BaseException | None = None
        self._queue: queue.Queue[PendingRows | None] = queue.Queue(maxsize=2)
        self._thread = threading.Thread(
            target=self._run, args=(db_path,), name="sieve-list-writer", daemon=True
        )
        self._thread.start()

    def put(self, files: list[FoundFile]) -> None:
        """Queue ``files`` to be committed (their rows are made here, on the caller's thread)."""
        self._raise()
        self._queue.put(pending_rows(files))

    def close(self) -> None:
        """Commit what is queued, stop the thread, raise what failed in it."""
        self._queue.put(None)
        self._thread.join()
        self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            raise SieveError(
                f"cannot list the files in the project: {self._error}"
            ) from self._error

    def _run(self, db_path: Path) -> None:
        db = None
        try:
            db = connect(db_path)
            db.execute(f"PRAGMA cache_size = -{WRITER_CACHE_KB}")  # 1M rows: indexes stay cached
            db.execute("PRAGMA foreign_keys = OFF")  # samples of the files it inserts, only
            db.execute("PRAGMA wal_autocheckpoint = 0")  # checkpoints run outside the commits
            self._outside = TurnRequests(db_path)
        except BaseException as error:
            self._error = error
        unchecked = 0
        checkpoints = _Checkpoints(db_path)
        while (rows := self._queue.get()) is not None:
            if self._error is not None or db is None:
                continue  # keep draining so the scan never waits on a dead writer
            try:
                if unchecked >= CHECKPOINT_ROWS:  # the WAL stays small
                    checkpoints.ask()
                    unchecked = 0
                if checkpoints.finished():  # what came meanwhile: then the WAL starts over
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)")
                started = time.perf_counter()
                insert_rows(db, rows)
                took = time.perf_counter() - started
                per_row = max(took, 1e-4) / max(1, rows.count)
                self.chunk = int(min(MAX_CHUNK, max(FIRST_CHUNK, TARGET_LOCK_S / per_row)))
                self.committed += rows.count
                unchecked += rows.count
                self.longest = max(self.longest, took)
                self._let_others_in(took)
            except BaseException as error:
                self._error = error
        checkpoints.close()
        if db is not None:
            db.close()

    def _let_others_in(self, took: float) -> None:
        if self._turns is not None:
            self._turns.let_waiting_in(TURN_WAIT_S)
        self._locked_s += took
        self._asked = self._asked or (self._outside is not None and self._outside.asked())
        due = ASKED_GAP_AFTER_S if self._asked else OUTSIDE_GAP_EVERY_S
        if self._locked_s >= due:
            time.sleep(OUTSIDE_GAP_S)
            self._locked_s = 0.0
            self._asked = False
            self.gaps += 1


class _Checkpoints:
    """Passive WAL checkpoints on their own connection and thread, run while the writer goes on
    committing (inline, their writes and syncs took 0.7 s of a 1M listing's 5.5 s).

    The writer then checkpoints the few frames it added meanwhile itself: with every frame
    copied, its next commit starts the WAL over (it stays ~10 MB at 1M rows, not 160 MB).
    """

    def __init__(self, db_path: Path) -> None:
        self._asked = threading.Event()
        self._finished = threading.Event()
        self._closing = False
        self._thread = threading.Thread(
            target=self._run, args=(db_path,), name="sieve-list-checkpoints", daemon=True
        )
        self._thread.start()

    def ask(self) -> None:
        self._asked.set()

    def finished(self) -> bool:
        """Whether a checkpoint finished since the last call."""
        if not self._finished.is_set():
            return False
        self._finished.clear()
        return True

    def close(self) -> None:
        self._closing = True
        self._asked.set()
        self._thread.join()

    def _run(self, db_path: Path) -> None:
        with suppress(sqlite3.Error, SieveError), closing(connect(db_path)) as db:
            while self._asked.wait() and not self._closing:
                self._asked.clear()
                db.execute("PRAGMA wal_checkpoint(PASSIVE)")
                self._finished.set()


def _sort(
    listing: Listing, batch: list[FoundFile], known: dict[str, Known], resample: bool
) -> list[FoundFile]:
    """File the files of ``batch`` under their fates in ``listing``; the new ones (to be listed).
    A never-seen folder's batches are new as a whole, without a step per file."""
    listing.found += len(batch)
    if not known:
        listing.added += len(batch)
        listing.todo += batch
        return [item for item in batch if not item.broken_link]
    new = []
    for item in batch:
        before = known.get(item.relpath)
        if before is None:
            listing.added += 1
            listing.todo.append(item)
            if not item.broken_link:
                new.append(item)
            continue
        listing.present.add(item.relpath)
        if before.needs_probe(item, resample):
            listing.todo.append(item)
            if before.missing:
                listing.returned += 1
            elif before.pending:
                listing.added += 1
            else:
                listing.changed += 1
    return new


class PendingRows(NamedTuple):
    """New files as :func:`insert_rows` takes them, made on the scanning thread (the writer's
    thread is the listing's bottleneck: it only runs SQL)."""

    unread: str  # JSON array of the paths of images listed without a stat
    stated: str  # JSON array of [path, kind, size, mtime_ns] of the others
    odd: list[tuple]  # (raw path, kind, size, mtime_ns) of names that are not valid UTF-8
    count: int


def pending_rows(files: Sequence[FoundFile]) -> PendingRows:
    """``files`` as rows to insert: images listed without a stat as a plain array of paths (5x
    cheaper to build and insert at 1M), the others with their kind, size and mtime."""
    plain, odd = _split_by_encoding(files)
    unread = [f[0] for f in plain if f[2] == NOT_READ and f[1] == "image"]
    stated = [list(f[:4]) for f in plain if f[2] != NOT_READ or f[1] != "image"]
    return PendingRows(
        json.dumps(unread, ensure_ascii=False),
        json.dumps(stated, ensure_ascii=False),
        [(raw(f.relpath), f.kind, f.size, f.mtime_ns) for f in odd],
        len(files),
    )


def insert_pending(db: sqlite3.Connection, files: Sequence[FoundFile]) -> int:
    """Commit rows for new files, pending (:func:`insert_rows`). Returns the count."""
    return insert_rows(db, pending_rows(files)) if files else 0


def insert_rows(db: sqlite3.Connection, rows: PendingRows) -> int:
    """Commit rows for new files, pending; an image also gets its sample. Returns the count.

    One transaction: the files' rows from the JSON arrays, each a single step (so the thread
    holds neither the GIL nor the write lock longer than SQLite needs); then their images'
    samples (ids inserted together are consecutive), and names that are not valid UTF-8 row
    by row. A file another process listed meanwhile is left as it is.
    """
    if not rows.count:
        return 0
    payloads = (rows.unread, rows.stated)
    try:
        with db:
            added = _insert_files(db, "INSERT", payloads)
            last = db.execute("SELECT last_insert_rowid()").fetchone()[0]
            db.execute(_INSERT_SAMPLES + "id BETWEEN ? AND ?", (last - added + 1, last))
            _insert_odd(db, rows.odd)
    except sqlite3.IntegrityError:
        with db:
            _insert_files(db, "INSERT OR IGNORE", payloads)
            for query, payload in zip(_PATHS_IN, payloads, strict=True):
                db.execute(_INSERT_SAMPLES + f"relpath IN ({query})", (payload,))
            _insert_odd(db, rows.odd)
    return rows.count


def _insert_files(db: sqlite3.Connection, verb: str, payloads: tuple[str, str]) -> int:
    """Insert both payloads' files (ids in one run); how many were inserted."""
    unread, stated = payloads
    added = db.execute(_INSERT_UNREAD.format(verb=verb), (NOT_READ, NOT_READ, unread)).rowcount
    return added + db.execute(_INSERT_JSON.format(verb=verb), (stated,)).rowcount


def _split_by_encoding(files: Sequence[FoundFile]) -> tuple[Sequence[FoundFile], list[FoundFile]]:
    """Files whose names are valid UTF-8 (JSON carries them), and the others (all checked in
    one encode, as a rule)."""
    if _utf8("\x00".join([f[0] for f in files])):
        return files, []
    plain: list[FoundFile] = []
    odd: list[FoundFile] = []
    for item in files:
        (plain if _utf8(item.relpath) else odd).append(item)
    return plain, odd


def _utf8(text: str) -> bool:
    """Whether ``text`` encodes as UTF-8 (a name with stray bytes kept as escapes does not)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _insert_odd(db: sqlite3.Connection, rows: list[tuple]) -> None:
    if rows:
        db.executemany(_INSERT_FILE, rows)
        db.executemany(_INSERT_SAMPLES + "relpath = CAST(? AS TEXT)", ((r[0],) for r in rows))


_INSERT_UNREAD = (
    "{verb} INTO files(relpath, kind, size, mtime_ns, status, pending) "
    "SELECT value, 'image', ?, ?, 'ok', 1 FROM json_each(?)"
)
_PATHS_IN = (
    "SELECT value FROM json_each(?)",
    "SELECT json_extract(value, '$[0]') FROM json_each(?)",
)
_INSERT_JSON = (
    "{verb} INTO files(relpath, kind, size, mtime_ns, status, pending) SELECT "
    "json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), "
    "json_extract(value, '$[3]'), 'ok', 1 FROM json_each(?)"
)
_INSERT_FILE = (
    "INSERT OR IGNORE INTO files(relpath, kind, size, mtime_ns, status, pending) "
    "VALUES (CAST(? AS TEXT), ?, ?, ?, 'ok', 1)"
)
_INSERT_SAMPLES = (
    "INSERT OR IGNORE INTO samples(file_id, frame, status) SELECT id, NULL, 'ok' FROM files "
    "WHERE kind = 'image' AND "
)
