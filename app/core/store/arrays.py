"""Numpy arrays stored next to the database, written atomically (temp file, fsync, rename)."""

from __future__ import annotations

import functools
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import numpy as np

_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def _umask() -> int:
    """The process's umask, read without changing it where the system tells (Linux)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return _umask_once()


@functools.cache
def _umask_once() -> int:
    """The umask read by setting it and back, once (a file made meanwhile is only stricter)."""
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


@contextmanager
def atomic_file(path: Path) -> Iterator[BinaryIO]:
    """Open a temp file beside ``path``; on success it replaces ``path`` in one rename.

    Readers see the old file or the new one, never a torn one, even after a crash. The file
    gets the mode of a newly created one (``0o666`` less the umask), not ``mkstemp``'s 0600.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            os.chmod(tmp, 0o666 & ~_umask())
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class ArrayStore:
    """``<project>/arrays/<name>.npy`` files, indexed by sample row as the caller defines it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, name: str) -> Path:
        if not _NAME.match(name):
            raise ValueError(f"invalid array name {name!r}: use letters, digits, '_', '-', '.'")
        return self.folder / f"{name}.npy"

    def save(self, name: str, array: np.ndarray) -> Path:
        path = self.path(name)
        with atomic_file(path) as handle:
            np.save(handle, np.ascontiguousarray(array), allow_pickle=False)
        return path

    def load(self, name: str, mmap: bool = False) -> np.ndarray | None:
        path = self.path(name)
        if not path.exists():
            return None
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)

    def exists(self, name: str) -> bool:
        return self.path(name).exists()

    def delete(self, name: str) -> None:
        self.path(name).unlink(missing_ok=True)

    def names(self) -> list[str]:
        if not self.folder.exists():
            return []
        return sorted(p.stem for p in self.folder.glob("*.npy"))
