"""Exporting subsets: a plain list of sample names, one per line (lightly's filename lists)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from app.core.errors import SieveError
from app.core.store.arrays import atomic_file


def export_filenames(names: Iterable[str], path: str | Path) -> int:
    """Write ``names`` one per line (UTF-8, ``\\n``) atomically; return how many were written."""
    path = Path(path)
    lines = [f"{name}\n" for name in names]
    try:
        with atomic_file(path) as handle:
            handle.write("".join(lines).encode("utf-8"))
    except OSError as error:
        raise SieveError(f"cannot write {path}: {error.strerror or error}") from error
    return len(lines)
