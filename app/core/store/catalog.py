"""The project's samples as numpy columns, for browsing and filtering millions of them.

One row per sample in browsing order (relative path, then frame), including the samples of files
that were missing at the last index (``missing``: shown, not usable). Strings are kept once per file
(``relpaths``) and once per label (``labels``); rows point into them with int32 codes. Each column
group is read with one SQL query (a whole read: one per 100k rows) straight into numpy, and sorted
in numpy, not in SQLite. A sample's label is its file's first folder, taken from the paths
(:mod:`app.core.store.folders`). A re-read whose paths did not change shares them with the table
read before (``like``).
"""

from __future__ import annotations

import posixpath
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import AnyStr

import numpy as np

from app.core.data.video import frame_name
from app.core.jobs import make_way
from app.core.store.db import connect, decode_text, read_snapshot
from app.core.store.folders import (
    Folders,
    folder_columns,
    in_path_order,
    joined_folders,
    labels_of,
    path_key,
)
from app.core.store.path_column import PathColumn
from app.core.store.project import DB_NAME, Project

_I64 = np.empty(0, dtype=np.int64)


@dataclass
class SampleTable:
    """Per-sample columns (all the same length) plus the strings they point into."""

    ids: np.ndarray  # int64
    file_index: np.ndarray  # int32 into relpaths
    relpaths: PathColumn  # any sequence of str works (tests build lists)
    frame: np.ndarray  # int32, -1 for an image
    n_frames: np.ndarray  # int32, 0 for an image
    label_code: np.ndarray  # int32 into labels, -1 for none
    labels: list[str]
    broken: np.ndarray  # bool
    missing: np.ndarray  # bool: the file was not found at the last index (shown, not usable)
    width: np.ndarray  # int32, 0 when unknown
    height: np.ndarray  # int32, 0 when unknown
    reason: dict[int, str] = field(default_factory=dict)  # sample id -> why it is broken
    file_ids: np.ndarray | None = None  # int64 per relpath: the file's id (read from a project)
    file_pending: np.ndarray | None = None  # bool per relpath: listed, not decoded, when read
    _sorted_ids: np.ndarray | None = field(default=None, repr=False)
    _id_rows: np.ndarray | None = field(default=None, repr=False)
    _folders: Folders | None = field(default=None, repr=False)
    _lower_frame_names: dict[int, str] | None = field(default=None, repr=False)
    _paths_text: tuple[bytes, ...] = field(default=(), repr=False)  # paths as read: NUL-joined

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def unusable(self) -> np.ndarray:
        """Per row: broken, or its file was not found at the last index."""
        return self.broken | self.missing

    def name(self, row: int) -> str:
        """The sample's name: its relative path, or lightly's frame name for a video frame."""
        relpath = self.relpaths[self.file_index[row]]
        frame = int(self.frame[row])
        return relpath if frame < 0 else frame_name(relpath, frame, int(self.n_frames[row]))

    def row_of(self, ids: np.ndarray) -> np.ndarray:
        """Table rows of sample ids; -1 for ids the table does not hold."""
        if self._sorted_ids is None:
            self._id_rows = np.argsort(self.ids, kind="stable")
            self._sorted_ids = self.ids[self._id_rows]
        ids = np.asarray(ids, dtype=np.int64)
        if not len(self._sorted_ids):
            return np.full(len(ids), -1, dtype=np.int64)
        pos = np.searchsorted(self._sorted_ids, ids).clip(0, len(self._sorted_ids) - 1)
        return np.where(self._sorted_ids[pos] == ids, self._id_rows[pos], -1)

    @property
    def folders(self) -> list[str]:
        """First path components of the files (sorted); files at the top have ``""``."""
        return self._folder_columns()[0]

    def folder_code(self) -> np.ndarray:
        """Per row: index into :attr:`folders`."""
        names, per_file = self._folder_columns()
        return per_file[self.file_index]

    def folder_of(self, row: int) -> str:
        """The first path component of the row's file, ``""`` for a file at the top."""
        names, per_file = self._folder_columns()
        return names[per_file[self.file_index[row]]]

    def _folder_columns(self) -> Folders:
        if self._folders is None:  # (a table read from a project has them from its read)
            self._folders = folder_columns(self.relpaths)
        return self._folders

    def text_mask(self, text: str) -> np.ndarray:
        """Rows whose name contains ``text``, ignoring case (tested once per file for images)."""
        needle = text.lower()
        per_file = np.fromiter(
            (needle in p.lower() for p in self.relpaths), dtype=bool, count=len(self.relpaths)
        )
        mask = per_file[self.file_index]
        frames = np.flatnonzero(self.frame >= 0)
        if len(frames):
            names = self._frame_names()
            mask[frames] = np.fromiter(
                (needle in names[int(row)] for row in frames), dtype=bool, count=len(frames)
            )
        return mask

    def _frame_names(self) -> dict[int, str]:
        """Lower-case names of the frame rows, made once (one string per frame)."""
        if self._lower_frame_names is None:
            names: dict[int, str] = {}
            for row in np.flatnonzero(self.frame >= 0).tolist():
                stem, ext = posixpath.splitext(self.relpaths[self.file_index[row]].lower())
                digits = len(str(int(self.n_frames[row])))
                names[row] = f"{stem}-{int(self.frame[row]):0{digits}}-{ext[1:]}.png"
            self._lower_frame_names = names
        return self._lower_frame_names


def empty_table() -> SampleTable:
    """A table with no rows."""
    i32 = np.empty(0, dtype=np.int32)
    no = np.empty(0, dtype=bool)
    return SampleTable(
        _I64, i32, PathColumn(), i32, i32, i32, [], no, no, i32, i32, file_ids=_I64, file_pending=no
    )


# group_concat hands a whole column to Python as one string, which numpy parses in C: several
# times faster than fetching a million row tuples. One query per column group keeps columns aligned.
# Numbers come as bytes (CAST ... AS BLOB): decoded to text, a million ids were a 7 MB string made
# in one call (7-9 ms holding the interpreter lock, a stall for a window waiting for it).
PIECE_CHARS = 1 << 18  # text parsed per call while the interpreter lock is held (0.4-1.5 ms)

_FILES = (  # the paths as bytes: decoded a piece at a time (17 MB at 1M: 6-20 ms in one call)
    "SELECT CAST(group_concat(id) AS BLOB), CAST(group_concat(relpath, char(0)) AS BLOB) "
    "FROM (SELECT id, relpath FROM files WHERE id <= ? {where} ORDER BY {path} {limit})"
)
READ_PIECE_ROWS = 100_000  # rows a whole read takes per query: each answer is copied into Python
# holding the interpreter lock (the paths of 1M files in one answer: 17-23 ms; a piece: 2 ms)
_FILES_PIECE = (  # the next piece of paths in browsing order after a path (a seek in their index)
    "SELECT count(*), CAST(group_concat(id) AS BLOB), CAST(group_concat(relpath, char(0)) AS BLOB) "
    "FROM (SELECT id, relpath FROM files WHERE id <= ? AND relpath > CAST(? AS TEXT) "
    "ORDER BY relpath LIMIT ?)"
)
_FILES_AS_LISTED = (  # by id, as the rows lie: no subquery to order them (a third cheaper);
    # and whether each is pending, a "0" or "1" a file from the rows read anyway (not a second
    # pass over them: an appending read of 350k files 0.1-0.2 s sooner). A read by path takes
    # its paths from their index alone (with the flags, a whole 1M read took 0.3 s longer), and
    # its pending files by id (_PENDING)
    "SELECT CAST(group_concat(id) AS BLOB), CAST(group_concat(relpath, char(0)) AS BLOB), "
    "CAST(group_concat(pending <> 0, '') AS BLOB) FROM files WHERE id <= ? AND id > {after}"
)
_HEAD_FILES_FLAGGED = (  # the first files in browsing order with their pending flags (a few
    # thousand rows looked up from the paths' index: a scan of every file's flag saved)
    "SELECT CAST(group_concat(id) AS BLOB), CAST(group_concat(relpath, char(0)) AS BLOB), "
    "CAST(group_concat(pending <> 0, '') AS BLOB) "
    "FROM (SELECT id, relpath, pending FROM files WHERE id <= ? ORDER BY relpath LIMIT {limit})"
)
_PENDING = (  # a scan of the files (no index of pending files: schema 8), beside the paths' read
    "SELECT CAST(group_concat(id) AS BLOB) FROM files WHERE {where}"
)
_VIDEOS = "SELECT id, n_frames FROM files WHERE n_frames IS NOT NULL AND id <= ? {head}"
_SAMPLES = (
    "SELECT CAST(group_concat(id) AS BLOB), CAST(group_concat(file_id) AS BLOB), "
    "CAST(group_concat(IFNULL(frame, -1)) AS BLOB), CAST(group_concat(IFNULL(width, 0)) AS BLOB), "
    "CAST(group_concat(IFNULL(height, 0)) AS BLOB) FROM samples {where}"
)
_ADDED_SAMPLES = (  # files just listed: no frame, no size but on a few (read as "id,frame,w,h"
    # of those only); no labels: a table takes them from its paths (folders.py)
    "SELECT CAST(group_concat(id) AS BLOB), CAST(group_concat(file_id) AS BLOB), "
    "CAST(group_concat(CASE WHEN frame IS NOT NULL "
    "OR width IS NOT NULL OR height IS NOT NULL THEN id || ',' || IFNULL(frame, -1) || ',' || "
    "IFNULL(width, 0) || ',' || IFNULL(height, 0) END) AS BLOB) FROM samples {where}"
)
_MISSING = (
    "SELECT CAST(group_concat(s.id) AS BLOB) FROM samples s JOIN files f ON f.id = s.file_id "
    "WHERE f.missing"
)
_HEAD_FILES = "(SELECT id FROM files ORDER BY relpath LIMIT {count})"


def _queries(
    first_files: int | None = None, after_file: int | None = None, by_path: bool = False
) -> dict[str, str]:
    """The column queries: for every file, the first ``first_files`` in browsing order, or
    those with an id above ``after_file`` (added since) in the order they were listed (the
    scan's: browsing order, a sort saved), or ``by_path``."""
    if first_files is not None:
        files = _HEAD_FILES.format(count=int(first_files))
        return {  # (the files query reads the pending flags itself)
            "files": _HEAD_FILES_FLAGGED.format(limit=int(first_files)),
            "videos": _VIDEOS.format(head=f"AND id IN {files}"),
            "samples": _SAMPLES.format(where=f"WHERE file_id IN {files}"),
        }
    if after_file is not None:
        after = int(after_file)  # "+": the id range is read and sorted, not a whole index
        by_path_files = _FILES.format(where=f"AND id > {after}", path="+relpath", limit="")
        first = f"(SELECT IFNULL(min(id), {ANY_FILE}) FROM samples WHERE file_id > {after})"
        queries = {
            "files": by_path_files if by_path else _FILES_AS_LISTED.format(after=after),
            "videos": _VIDEOS.format(head=f"AND id > {after}"),
            "samples": _ADDED_SAMPLES.format(where=f"WHERE id >= {first} AND +file_id > {after}"),
        }
        if by_path:  # (as listed, the files query reads the pending flags itself)
            queries["pending"] = _PENDING.format(where=f"id > {after} AND +pending")
        return queries
    return {  # read a piece at a time (READ_PIECE_ROWS): files by path, samples by id
        "files": _FILES_PIECE,
        "videos": _VIDEOS.format(head=""),
        "samples": _SAMPLES.format(where="WHERE id > ? AND id <= ?"),
        "pending": _PENDING.format(where="pending"),
        "pieces": "yes",  # (a key _read_files and _read_samples look for)
    }


Texts = list[bytes]  # a column's text as read, a piece per query (none when it had no rows)


def _texts(text: bytes | None) -> Texts:
    return [text] if text else []


def _read_files(
    db: sqlite3.Connection, queries: dict[str, str], bound: int
) -> tuple[Texts, Texts, bytes | None]:
    """The files query's ids and paths (as :data:`Texts`) and its pending flags, if it reads
    them; by pieces where ``queries`` says so, each after the last path of the one before."""
    if "pieces" not in queries:
        row = db.execute(queries["files"], (bound,)).fetchone()
        return _texts(row[0]), _texts(row[1]), row[2] if len(row) > 2 else None
    ids: Texts = []
    paths: Texts = []
    after = b""
    while True:
        make_way()
        piece = (bound, after, READ_PIECE_ROWS)
        count, id_text, path_text = db.execute(queries["files"], piece).fetchone()
        if count:
            ids.append(id_text)
            paths.append(path_text)
        if count < READ_PIECE_ROWS:
            return ids, paths, None
        after = path_text[path_text.rfind(b"\x00") + 1 :]


def _read_samples(db: sqlite3.Connection, queries: dict[str, str]) -> tuple[Texts, ...]:
    """The samples query's columns (as :data:`Texts`); by id ranges where ``queries`` says so."""
    if "pieces" not in queries:
        return tuple(_texts(text) for text in db.execute(queries["samples"]).fetchone())
    (top,) = db.execute("SELECT IFNULL(max(id), 0) FROM samples").fetchone()
    columns: tuple[Texts, ...] = tuple([] for _ in range(5))
    for low in range(0, int(top), READ_PIECE_ROWS):
        make_way()
        row = db.execute(queries["samples"], (low, low + READ_PIECE_ROWS)).fetchone()
        for column, text in zip(columns, row, strict=True):
            column.extend(_texts(text))
    return columns


def parse_ints(text: str | bytes | None, dtype: type = np.int64) -> np.ndarray:
    """A comma-separated list of integers (from group_concat, as text or bytes) as an array.

    Parsed in pieces of ~256 KB: one call over a million numbers holds the interpreter lock for
    tens of milliseconds, which a GUI thread waiting for it feels as a stall (a painting GUI
    thread hands the lock over many times: pieces of 1 MB, 2.5-10 ms each, made 40-60 ms).
    """
    if not text:
        return np.empty(0, dtype=dtype)
    parts = []
    for piece in _pieces(text, b"," if isinstance(text, bytes) else ","):
        make_way()
        parts.append(np.fromstring(piece, dtype=np.int64, sep=","))
    return np.concatenate(parts).astype(dtype, copy=False)


def _parse_texts(texts: Texts) -> np.ndarray:
    """:func:`parse_ints` of a column read a piece at a time."""
    if len(texts) == 1:
        return parse_ints(texts[0])
    return np.concatenate([parse_ints(text) for text in texts]) if texts else _I64


def split_paths(data: bytes, separator: str, count: int | None = None) -> PathColumn:
    """``data.decode().split(separator)`` into a :class:`PathColumn`, in pieces of ~256 KB (see
    :func:`parse_ints`), decoded as the connections decode text (stray bytes kept as surrogate
    escapes; a one-byte ASCII ``separator`` never cuts a character); no list of them all is made.
    ``count``: how many paths ``data`` holds, when known (counting the separators of 1M paths is
    one call of ~15 ms holding the interpreter lock)."""
    if count is None:
        count = data.count(separator.encode("ascii")) + 1
    return PathColumn.from_pieces(_split_pieces(data, separator), count)


def _split_texts(texts: Texts, count: int) -> PathColumn:
    """:func:`split_paths` of NUL-joined paths read a piece at a time."""
    pieces = (piece for text in texts for piece in _split_pieces(text, "\x00"))
    return PathColumn.from_pieces(pieces, count)


def _split_pieces(data: bytes, separator: str) -> Iterator[list[str]]:
    for piece in _pieces(data, separator.encode("ascii")):
        make_way()
        yield decode_text(piece).split(separator)


def _pieces(text: AnyStr, separator: AnyStr, size: int = PIECE_CHARS) -> list[AnyStr]:
    """``text`` cut at a ``separator`` every ~``size`` characters (the separators between
    pieces dropped, so splitting each piece gives the same items as splitting the whole)."""
    pieces, start = [], 0
    while len(text) - start > size:
        cut = text.find(separator, start + size)
        if cut < 0:
            break
        pieces.append(text[start:cut])
        start = cut + 1
    pieces.append(text[start:])
    return pieces


def load_table(
    project: Project, first_files: int | None = None, like: SampleTable | None = None
) -> SampleTable:
    """All samples of ``project`` in browsing order (relative path, then frame), consistent
    while an index adds rows meanwhile; with ``first_files``, only the samples of that many
    files, the first in browsing order (a screenful to show while the rest is read).

    ``like``: a table read before. Where the files' paths are still the same (a re-read while
    an index decodes them), the new table shares its paths and folders (:func:`_same_paths`).

    The two big lists are read at once, on two connections (SQLite runs both without the
    interpreter lock: at 1M rows 0.6 s saved of ~2 s): the samples from a snapshot pinned
    first, everything else from a later one, which holds every file those samples name (files
    are never removed by an index; a removal meanwhile is caught and read again serially). Its
    files are bounded by the largest file id of the first snapshot: one listed in between is
    left for the next read, not taken without its samples.
    """
    return _read(project, _queries(first_files), like)


def load_more(project: Project, table: SampleTable) -> SampleTable | None:
    """``table`` with the samples of the files added since it was read appended, when those all
    come after its last file in browsing order (a folder being listed, in name order); None
    when they do not (read the table whole then).

    Only the new files' rows are read (a folder listed to 1M rows grows in milliseconds, not a
    second and a half per read), in the order they were listed, which a scan makes browsing
    order (no sort); they are read sorted when it is not. What changed in the rows already read
    (a video's frames, a size, a thumbnail made) waits for the next whole read; broken and
    missing flags are renewed.
    """
    if table.file_ids is None:
        return None
    after = int(table.file_ids.max()) if len(table.file_ids) else 0
    more = _read(project, _queries(after_file=after))  # as listed: 400k in 0.15 s, not 0.36
    if not more.relpaths:
        return table
    if not in_path_order(more.relpaths):  # listed in another order (by another program)
        more = _read(project, _queries(after_file=after, by_path=True))
    if table.relpaths and path_key(more.relpaths[0]) <= path_key(table.relpaths[-1]):
        return None
    return _appended(project, table, more)


def _read(
    project: Project, queries: dict[str, str], like: SampleTable | None = None
) -> SampleTable:
    samples = _SnapshotRead(project.path / DB_NAME, queries)
    with read_snapshot(project.db):
        return _load_table(project, samples, queries, like)


def _appended(project: Project, table: SampleTable, more: SampleTable) -> SampleTable:
    """A new table: ``table``'s rows, then ``more``'s (whose files all come after)."""

    def joined(column: str) -> np.ndarray:
        return np.concatenate([getattr(table, column), getattr(more, column)])

    assert table.file_ids is not None and more.file_ids is not None
    assert table._folders is not None and more._folders is not None  # read: folders too
    assert table.file_pending is not None and more.file_pending is not None  # read: flags too
    joined_flags = np.concatenate([table.file_pending, more.file_pending])  # each as of its read
    offset = np.int32(len(table.relpaths))
    merged = SampleTable(
        ids=joined("ids"),
        file_index=np.concatenate([table.file_index, more.file_index + offset]),
        relpaths=table.relpaths + more.relpaths,
        frame=joined("frame"),
        n_frames=joined("n_frames"),
        label_code=np.empty(0, dtype=np.int32),  # from the folders, below
        labels=[],
        broken=np.zeros(len(table) + len(more), dtype=bool),
        missing=np.zeros(len(table) + len(more), dtype=bool),
        width=joined("width"),
        height=joined("height"),
        reason={**table.reason, **more.reason},
        file_ids=np.concatenate([table.file_ids, more.file_ids]),
        file_pending=joined_flags,
        _paths_text=table._paths_text + more._paths_text if table._paths_text else (),
    )
    _set_folders(merged, joined_folders(table._folders, more._folders))
    _mark_unusable(project, merged)  # rows already shown may have turned broken or missing
    return merged


ANY_FILE = 1 << 62  # a bound on file ids that every file meets


class _SnapshotRead:
    """The samples query on its own connection and thread, its snapshot pinned before __init__
    returns.

    :attr:`last_file` is the largest file id in that snapshot: files above it were listed after
    it was pinned (their samples are not in its answer), so a later read leaves them out.
    """

    def __init__(self, path: Path, queries: dict[str, str]) -> None:
        self._pinned = threading.Event()
        self._row: tuple[Texts, ...] | None = None
        self.last_file = ANY_FILE
        self._thread = threading.Thread(
            target=self._run, args=(path, queries), name="sieve-catalog-read", daemon=True
        )
        self._thread.start()
        self._pinned.wait()

    def row(self) -> tuple[Texts, ...] | None:
        """The query's columns, or None when it could not be read (the caller reads it)."""
        self._thread.join()
        return self._row

    def _run(self, path: Path, queries: dict[str, str]) -> None:
        try:
            db = connect(path)
            try:
                db.execute("BEGIN")
                (last,) = db.execute("SELECT IFNULL(max(id), 0) FROM files").fetchone()  # pins it
                self.last_file = int(last)
                self._pinned.set()
                self._row = _read_samples(db, queries)
                db.execute("COMMIT")
            finally:
                db.close()
        except sqlite3.Error:
            self._row = None
        finally:
            self._pinned.set()


def _load_table(
    project: Project,
    samples: _SnapshotRead,
    queries: dict[str, str],
    like: SampleTable | None = None,
) -> SampleTable:
    bound = samples.last_file  # the files the samples' snapshot knows (listed later: left out)
    file_ids_texts, path_texts, flags = _read_files(project.db, queries, bound)
    columns = samples.row()
    if columns is None:  # read here instead, all of it in this snapshot
        bound = ANY_FILE
        columns = _read_samples(project.db, queries)
        file_ids_texts, path_texts, flags = _read_files(project.db, queries, bound)
    if not path_texts:
        return empty_table()
    file_ids = _parse_texts(file_ids_texts)
    rank = _ranks(file_ids)
    ids, file_col, frame, width, height = _sample_columns(columns)
    if len(file_col) and (file_col.max() >= len(rank) or (rank[file_col] < 0).any()):
        bound = ANY_FILE  # a file removed meanwhile: read everything in one snapshot
        columns = _read_samples(project.db, queries)
        ids, file_col, frame, width, height = _sample_columns(columns)
        file_ids_texts, path_texts, flags = _read_files(project.db, queries, bound)
        file_ids = _parse_texts(file_ids_texts)
        rank = _ranks(file_ids)
    if not path_texts:
        return empty_table()
    if like is not None and _same_paths(path_texts, len(file_ids), like):
        relpaths, folders = like.relpaths, like._folders
    else:
        relpaths, folders = _split_texts(path_texts, len(file_ids)), None
    file_frames = np.zeros(len(file_ids), dtype=np.int32)
    for file_id, n_frames in project.db.execute(queries["videos"], (bound,)):
        file_frames[rank[file_id]] = n_frames

    file_index = rank[file_col]
    frame = frame.astype(np.int32)
    order = np.lexsort((frame, file_index))
    ids, file_index, frame = ids[order], file_index[order], frame[order]
    reason = _reasons(project)
    table = SampleTable(
        ids=ids,
        file_index=file_index,
        relpaths=relpaths,
        frame=frame,
        n_frames=np.where(frame >= 0, file_frames[file_index], 0).astype(np.int32),
        label_code=np.full(len(ids), -1, dtype=np.int32),
        labels=[],
        broken=np.zeros(len(ids), dtype=bool),
        missing=np.zeros(len(ids), dtype=bool),
        width=width[order].astype(np.int32),
        height=height[order].astype(np.int32),
        reason=reason,
        file_ids=file_ids,
        file_pending=_pending_files(project, queries, file_ids, flags),
        _paths_text=tuple(path_texts),
    )
    _set_folders(table, folders or folder_columns(relpaths))
    _mark_unusable(project, table)
    return table


def _same_paths(texts: Texts, count: int, like: SampleTable) -> bool:
    """Whether ``texts`` (``count`` paths, NUL-joined, as read) hold ``like``'s paths, compared
    as bytes a piece at a time (a few ms at 1M). Sharing them saves their decoding and folders
    (0.3 s of a 1M read, the interpreter lock held) and, in the window, freeing a million
    strings on its GUI thread when the table they replace goes (18-25 ms)."""
    if not like._paths_text or like._folders is None or len(like.relpaths) != count:
        return False
    if _joined_length(texts) != _joined_length(like._paths_text):
        return False
    return all(
        mine == theirs
        for mine, theirs in zip(
            _joined_pieces(texts), _joined_pieces(like._paths_text), strict=True
        )
    )


def _joined_length(texts: Sequence[bytes]) -> int:
    return sum(map(len, texts)) + len(texts) - 1


def _joined_pieces(texts: Sequence[bytes], size: int = PIECE_CHARS) -> Iterator[bytes]:
    """``b"\\x00".join(texts)`` in pieces of ``size`` bytes (the last one shorter), made a piece at
    a time: however the texts were cut, two equal joins give equal pieces."""
    parts = (part for i, text in enumerate(texts) for part in ((b"\x00", text) if i else (text,)))
    piece = bytearray()
    for part in parts:
        view, at = memoryview(part), 0
        while at < len(view):
            take = min(size - len(piece), len(view) - at)
            piece += view[at : at + take]
            at += take
            if len(piece) == size:
                yield bytes(piece)
                piece.clear()
    if piece:
        yield bytes(piece)


_ADDED_COLUMNS = ("ids", "file ids", "frames and sizes where set")


def _pending_files(
    project: Project, queries: dict[str, str], file_ids: np.ndarray, flags: bytes | None
) -> np.ndarray:
    """Per file: listed, not decoded yet; from the files query's flags where it read them,
    else by id (in the same snapshot either way)."""
    if "pending" not in queries:
        return parse_flags(flags, len(file_ids))
    (pending_ids,) = project.db.execute(queries["pending"]).fetchone()
    return np.isin(file_ids, parse_ints(pending_ids), kind="table")  # O(n), no sort


def parse_flags(data: bytes | None, count: int) -> np.ndarray:
    """A string of ``"0"`` and ``"1"`` (group_concat of 0/1 without a separator) as booleans,
    one per item; refused when it does not hold ``count`` flags."""
    flags = np.frombuffer(data or b"", dtype=np.uint8) == ord("1")
    if len(flags) != count:
        raise ValueError(f"{len(flags)} pending flags read for {count} files")
    return flags


def _sample_columns(columns: tuple[Texts, ...]) -> tuple[np.ndarray, ...]:
    """Sample ids, file ids, frames, widths and heights from a samples query's row: five full
    columns, or :data:`_ADDED_SAMPLES`' (ids ascending, frames and sizes where set)."""
    if len(columns) != len(_ADDED_COLUMNS):
        return tuple(_parse_texts(column) for column in columns)
    ids, file_col = _parse_texts(columns[0]), _parse_texts(columns[1])
    frame = np.full(len(ids), -1, dtype=np.int64)
    width, height = np.zeros(len(ids), dtype=np.int64), np.zeros(len(ids), dtype=np.int64)
    where_set = _parse_texts(columns[2]).reshape(-1, 4)
    if len(where_set):
        by_id = np.argsort(ids, kind="stable")  # ascending already (a rowid scan): cheap
        rows = by_id[np.searchsorted(ids, where_set[:, 0], sorter=by_id)]
        frame[rows], width[rows], height[rows] = where_set[:, 1:].T
    return ids, file_col, frame, width, height


def _set_folders(table: SampleTable, folders: Folders) -> None:
    """Set the table's folder columns and its labels, which are its files' first folders
    (:func:`~app.core.data.scan.label_of`: none for a file at the top)."""
    table._folders = folders
    table.labels, label_of_file = labels_of(folders)
    table.label_code = label_of_file[table.file_index].astype(np.int32, copy=False)


def _mark_unusable(project: Project, table: SampleTable) -> None:
    """Set the table's broken rows (from its reasons) and missing rows (read now)."""
    reason = table.reason
    if reason:
        table.broken[_rows(table, np.fromiter(reason, np.int64, len(reason)))] = True
    (missing_ids,) = project.db.execute(_MISSING).fetchone()
    table.missing[_rows(table, parse_ints(missing_ids))] = True


def _ranks(file_ids: np.ndarray) -> np.ndarray:
    """File id -> its place in ``file_ids`` (-1: not there)."""
    rank = np.full(int(file_ids.max()) + 1 if len(file_ids) else 0, -1, dtype=np.int32)
    rank[file_ids] = np.arange(len(file_ids), dtype=np.int32)
    return rank


def _rows(table: SampleTable, ids: np.ndarray) -> np.ndarray:
    """Table rows of ``ids``, leaving out samples added after the table's own snapshot."""
    rows = table.row_of(ids)
    return rows[rows >= 0]


def _reasons(project: Project) -> dict[int, str]:
    query = (
        "SELECT s.id, COALESCE(s.reason, f.reason, 'unreadable') FROM samples s "
        "JOIN files f ON f.id = s.file_id WHERE s.status = 'broken' AND NOT f.missing"
    )
    return dict(project.db.execute(query).fetchall())


def tag_members(project: Project) -> dict[int, np.ndarray]:
    """Tag id -> sorted sample ids (every tag, also those without members)."""
    query = (
        "SELECT t.id, group_concat(st.sample_id) FROM tags t "
        "LEFT JOIN sample_tags st ON st.tag_id = t.id GROUP BY t.id"
    )
    return {int(t): np.sort(parse_ints(ids)) for t, ids in project.db.execute(query)}


def saved_selections(project: Project) -> dict[str, np.ndarray]:
    """Saved selection name -> sorted sample ids."""
    query = (
        "SELECT s.name, group_concat(m.sample_id) FROM selections s "
        "LEFT JOIN selection_members m ON m.selection_id = s.id GROUP BY s.id"
    )
    return {str(name): np.unique(parse_ints(ids)) for name, ids in project.db.execute(query)}


def score_keys(project: Project) -> list[str]:
    """Metadata keys holding numbers, which the browser can sort by."""
    query = (
        "SELECT DISTINCT key FROM metadata WHERE typeof(value) IN ('integer', 'real') ORDER BY key"
    )
    return [row[0] for row in project.db.execute(query)]


def scores(project: Project, key: str, table: SampleTable) -> np.ndarray | None:
    """Per table row: the numeric metadata value for ``key``, NaN where missing; None if none."""
    query = (
        "SELECT group_concat(sample_id), group_concat(CASE WHEN typeof(value) IN "
        "('integer', 'real') THEN value ELSE 'nan' END) FROM metadata WHERE key = ?"
    )
    ids_text, values_text = project.db.execute(query, (key,)).fetchone()
    if not ids_text:
        return None
    ids = parse_ints(ids_text)
    found = np.fromstring(values_text, dtype=np.float64, sep=",")
    values = np.full(len(table), np.nan)
    rows = table.row_of(ids)
    known = rows >= 0
    values[rows[known]] = found[known]
    return values
