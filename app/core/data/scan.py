"""Walking a dataset folder: which files are samples, in a stable order, safely.

Hidden files and folders and the project folder are skipped; folder symlinks are followed once
(loops are cut); labels come from the first-level sub-folder. The walk keeps its own stack, so any
depth works; what cannot be read (permissions, over-long paths) is reported, not fatal.
Names that are not valid UTF-8 keep their bytes as surrogate escapes (as ``os.scandir`` gives).
A caller that needs no size yet for some files (a never-seen folder's JPEGs) can leave them
unread: a ``stat`` per file is most of a scan's cost (about 4 µs each, 4 s at 1M files).
"""

from __future__ import annotations

import errno
import operator
import os
from bisect import bisect_left
from collections.abc import Container, Iterable, Iterator
from dataclasses import dataclass
from itertools import compress, repeat
from pathlib import Path
from typing import NamedTuple

from app.core.data.video import VIDEO_EXTENSIONS
from app.core.jobs import CancelToken

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
)


NOT_READ = -1  # the size and modification time of a file scanned without its stat
BATCH = 4096  # files of one folder per batch of a scan (the cancel token is checked between)
_PATH_KEY = operator.itemgetter(0)
_IS_FOLDER = operator.itemgetter(1)


class FoundFile(NamedTuple):
    """A file that becomes one sample (an image) or several (a video's frames).

    A named tuple: a million of them are made per million files scanned, cheaply."""

    relpath: str  # forward slashes, relative to the dataset root
    kind: str  # "image" | "video"
    size: int  # NOT_READ when scanned without a stat (an image's probe reads it)
    mtime_ns: int
    broken_link: bool = False

    @property
    def stat_read(self) -> bool:
        return self.size != NOT_READ


_as_found = tuple.__new__  # (FoundFile, values): a fifth of FoundFile(...)'s cost, a million a scan

_KINDS = {
    **dict.fromkeys(IMAGE_EXTENSIONS, "image"),
    **dict.fromkeys(VIDEO_EXTENSIONS, "video"),
}


@dataclass(frozen=True, slots=True)
class Unread:
    """The files a scan yields without a stat: those not in ``known`` (relative paths: the
    files whose stat matters) whose lower-case suffix is one of ``suffixes``."""

    known: Container[str]
    suffixes: frozenset[str]


@dataclass(frozen=True, slots=True)
class Skipped:
    """A path below the root that could not be read, and why."""

    relpath: str
    reason: str


def kind_of(name: str) -> str | None:
    """'image', 'video' or None (not a sample) from a file name's extension, in any case."""
    return _kind_and_suffix(name)[0]


def _kind_and_suffix(name: str) -> tuple[str | None, str]:
    """The kind of file ``name`` (None: not a sample) and its lower-case suffix."""
    dot = name.rfind(".")
    if dot <= 0:
        return None, ""
    suffix = name[dot:].lower()  # never holds a "/": no sample suffix does
    kind = _KINDS.get(suffix)
    if kind is None or (name[0] == "." and not name[:dot].strip(".")):
        return None, suffix  # as os.path.splitext: no suffix after only leading dots
    return kind, suffix


def label_of(relpath: str) -> str | None:
    """The first-level folder name, or None for a file at the top of the dataset."""
    head, sep, _ = relpath.partition("/")
    return head if sep else None


def scan_folder(
    root: str | os.PathLike,
    exclude: Iterable[str | os.PathLike] = (),
    cancel: CancelToken | None = None,
    skipped: list[Skipped] | None = None,
    unread: Unread | None = None,
) -> Iterator[FoundFile]:
    """Yield every image and video below ``root`` in sorted order of relative path (as SQLite
    sorts them: "a b.jpg" before "a/x.jpg", so a fresh listing's rows come in browsing order).
    The files of :func:`scan_batches`, one by one."""
    for batch in scan_batches(root, exclude, cancel, skipped, unread):
        yield from batch


def scan_batches(
    root: str | os.PathLike,
    exclude: Iterable[str | os.PathLike] = (),
    cancel: CancelToken | None = None,
    skipped: list[Skipped] | None = None,
    unread: Unread | None = None,
) -> Iterator[list[FoundFile]]:
    """The files of :func:`scan_folder` in lists of up to :data:`BATCH` (a million files are
    walked without a Python call per file, yield included).

    Folders and files that cannot be read are passed over and, when ``skipped`` is given,
    appended to it with the reason. Regular files (not links) that ``unread`` names are found
    without a stat: size and mtime :data:`NOT_READ`. ``cancel`` is checked before each folder
    and each batch.
    """
    root = Path(root)
    excluded = {_identity(Path(p)) for p in exclude if Path(p).exists()}
    seen_dirs = {_identity(root)}
    skipped = [] if skipped is None else skipped
    stack = [("", *_listing(root, "", skipped), 0)]
    while stack:
        prefix, entries, folders, start = stack.pop()
        if cancel is not None:
            cancel.raise_if_cancelled()
        folder = bisect_left(folders, start)  # the next folder's place (the files before it)
        end = min(folders[folder] if folder < len(folders) else len(entries), start + BATCH)
        if end > start:
            stack.append((prefix, entries, folders, end))
            found = _files(entries[start:end], prefix, unread, skipped)
            if found:
                yield found
            continue
        if end == len(entries):
            continue
        stack.append((prefix, entries, folders, end + 1))
        entry = entries[end][2]
        relpath = prefix + entry.name
        if _enter(entry, relpath, excluded, seen_dirs, skipped):
            stack.append((relpath + "/", *_listing(Path(entry.path), relpath, skipped), 0))


def readable_name(relpath: str) -> str:
    """``relpath`` for display: bytes that are not UTF-8 are shown as U+FFFD."""
    return relpath.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _identity(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_dev, stat.st_ino


def _why(error: OSError) -> str:
    """A short reason for a path that could not be read."""
    if isinstance(error, PermissionError):
        return "permission denied"
    if error.errno == errno.ENAMETOOLONG:
        return "path too long for the system"
    return error.strerror or type(error).__name__


def _listing(
    folder: Path, relpath: str, skipped: list[Skipped]
) -> tuple[list[tuple[str, bool, os.DirEntry]], list[int]]:
    """The folder's visible entries as ``(sort key, is a folder, entry)`` in the order of their
    paths (a folder sorts by its name and "/", so a sibling "a b.jpg" comes before "a/x.jpg"),
    and the places of the folders among them. Nothing (and a note) when the folder cannot be
    read."""
    try:
        with os.scandir(folder) as listing:
            entries = list(listing)
    except OSError as error:
        skipped.append(Skipped(relpath or ".", _why(error)))
        return [], []
    try:  # an entry's type comes with the listing: no stat, nothing raised, but for links
        keyed = [
            (entry.name + "/", True, entry) if entry.is_dir() else (entry.name, False, entry)
            for entry in entries
            if entry.name[0] != "."
        ]
    except OSError:
        prefix = f"{relpath}/" if relpath else ""
        keyed = []
        for entry in entries:
            if entry.name[0] != ".":
                is_dir = _is_dir(entry, prefix + entry.name, skipped)
                keyed.append((entry.name + "/" if is_dir else entry.name, is_dir, entry))
    keyed.sort(key=_PATH_KEY)
    return keyed, list(compress(range(len(keyed)), map(_IS_FOLDER, keyed)))


def _is_dir(entry: os.DirEntry, relpath: str, skipped: list[Skipped]) -> bool:
    try:
        return entry.is_dir(follow_symlinks=True)
    except OSError as error:
        skipped.append(Skipped(relpath, _why(error)))
        return False


def _enter(
    entry: os.DirEntry,
    relpath: str,
    excluded: set[tuple[int, int]],
    seen_dirs: set[tuple[int, int]],
    skipped: list[Skipped],
) -> bool:
    """Whether to walk into a folder: not excluded, not seen before (a link loop), readable."""
    try:
        identity = _identity(Path(entry.path))
    except OSError as error:
        skipped.append(Skipped(relpath, _why(error)))
        return False
    if identity in excluded or identity in seen_dirs:
        return False
    seen_dirs.add(identity)
    return True


def _files(
    entries: list[tuple[str, bool, os.DirEntry]],
    prefix: str,
    unread: Unread | None,
    skipped: list[Skipped],
) -> list[FoundFile]:
    """The sample files among ``entries`` (files of one folder, none hidden), in their order.

    A loop of a few steps per file (a million at 1M): a file's key is its name, its suffix is
    looked up as it is before it is lowered, and a file found without a stat is a plain tuple
    until the batch is made named tuples in one pass."""
    known, quick = (unread.known, unread.suffixes) if unread is not None else ((), frozenset())
    found: list[tuple] = []
    for name, _, entry in entries:
        suffix = name[name.rfind(".") :]  # hidden names were left out: no ".x"
        kind = _KINDS.get(suffix)
        if kind is None:
            suffix = suffix.lower()
            kind = _KINDS.get(suffix)
            if kind is None:
                continue
        relpath = prefix + name
        if suffix in quick and (not known or relpath not in known) and not entry.is_symlink():
            found.append((relpath, kind, NOT_READ, NOT_READ, False))
            continue
        stated = _stated(entry, relpath, kind, skipped)
        if stated is not None:
            found.append(stated)
    return list(map(_as_found, repeat(FoundFile), found))


def _stated(
    entry: os.DirEntry, relpath: str, kind: str, skipped: list[Skipped]
) -> FoundFile | None:
    """Sample file ``entry`` with its size and modification time; a dangling link is found as
    a broken link, a file that cannot be read is skipped (and noted)."""
    try:
        stat = entry.stat(follow_symlinks=True)
    except FileNotFoundError:
        return FoundFile(relpath, kind, 0, 0, broken_link=True)
    except OSError as error:
        skipped.append(Skipped(relpath, _why(error)))
        return None
    return FoundFile(relpath, kind, stat.st_size, stat.st_mtime_ns)
