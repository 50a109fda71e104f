"""Walking a dataset folder: which files are samples, in a stable order, safely.

Hidden files and folders and the project folder are skipped; folder symlinks are followed once
(loops are cut); labels come from the first-level sub-folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from app.core.data.video import VIDEO_EXTENSIONS
from app.core.jobs import CancelToken

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
)


@dataclass(frozen=True, slots=True)
class FoundFile:
    """A file that becomes one sample (an image) or several (a video's frames)."""

    relpath: str  # forward slashes, relative to the dataset root
    kind: str  # "image" | "video"
    size: int
    mtime_ns: int
    broken_link: bool = False


def kind_of(name: str) -> str | None:
    """'image', 'video' or None (not a sample) from a file name's extension, in any case."""
    suffix = os.path.splitext(name)[1].lower()
    if suffix in IMAGE_EXTENSIONS:
        return "image"
    if suffix in VIDEO_EXTENSIONS:
        return "video"
    return None


def label_of(relpath: str) -> str | None:
    """The first-level folder name, or None for a file at the top of the dataset."""
    head, sep, _ = relpath.partition("/")
    return head if sep else None


def scan_folder(
    root: str | os.PathLike,
    exclude: Iterable[str | os.PathLike] = (),
    cancel: CancelToken | None = None,
) -> Iterator[FoundFile]:
    """Yield every image and video below ``root`` in sorted order of relative path."""
    root = Path(root)
    excluded = {_identity(Path(p)) for p in exclude if Path(p).exists()}
    seen_dirs = {_identity(root)}
    yield from _walk(root, "", excluded, seen_dirs, cancel)


def _identity(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_dev, stat.st_ino


def _walk(
    folder: Path,
    prefix: str,
    excluded: set[tuple[int, int]],
    seen_dirs: set[tuple[int, int]],
    cancel: CancelToken | None,
) -> Iterator[FoundFile]:
    if cancel is not None:
        cancel.raise_if_cancelled()
    try:
        with os.scandir(folder) as entries:
            listing = sorted(
                (entry for entry in entries if not entry.name.startswith(".")),
                key=lambda entry: entry.name,
            )
    except OSError:
        return
    for entry in listing:
        relpath = f"{prefix}{entry.name}"
        try:
            is_dir = entry.is_dir(follow_symlinks=True)
        except OSError:
            is_dir = False
        if is_dir:
            try:
                identity = _identity(Path(entry.path))
            except OSError:
                continue
            if identity in excluded or identity in seen_dirs:
                continue
            seen_dirs.add(identity)
            yield from _walk(Path(entry.path), f"{relpath}/", excluded, seen_dirs, cancel)
            continue
        kind = kind_of(entry.name)
        if kind is None:
            continue
        try:
            stat = entry.stat(follow_symlinks=True)
        except OSError:
            yield FoundFile(relpath, kind, 0, 0, broken_link=True)
            continue
        yield FoundFile(relpath, kind, stat.st_size, stat.st_mtime_ns)
