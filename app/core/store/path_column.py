"""A column of a million file paths that Python's cycle collector does not walk.

A ``list`` of a million paths is a container the collector visits path by path in every
collection that holds it: while it is young, each collection of the youngest generation
took 17-29 ms on whichever thread allocated the 700th container, the window's GUI thread
among them (a stall in its event loop, measured opening a 1M-file folder). A numpy array of
objects is not tracked by the collector, so the same strings cost it nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import overload

import numpy as np

from app.core.jobs import make_way

JOIN_PIECE = 100_000  # paths copied per call when two columns are joined (~1.5 ms, lock held)


class PathColumn(Sequence[str]):
    """An immutable sequence of paths (str) held in an object array; a slice is a list."""

    __slots__ = ("_paths",)

    def __init__(self, paths: Iterable[str] | np.ndarray = ()) -> None:
        if isinstance(paths, np.ndarray) and paths.dtype == object and paths.ndim == 1:
            self._paths = paths
            return
        items = list(paths)
        self._paths = np.empty(len(items), dtype=object)
        self._paths[:] = items

    @classmethod
    def from_pieces(cls, pieces: Iterable[list[str]], count: int) -> PathColumn:
        """A column of ``count`` paths, filled a piece (list) at a time: no whole list of them
        is ever made, so the collector never meets one."""
        paths = np.empty(count, dtype=object)
        at = 0
        for piece in pieces:
            if at + len(piece) > count:
                raise ValueError(f"more than {count} paths given for a column of {count}")
            paths[at : at + len(piece)] = piece
            at += len(piece)
        if at != count:
            raise ValueError(f"{at} paths given for a column of {count}")
        return cls(paths)

    def __len__(self) -> int:
        return len(self._paths)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return self._paths[index].tolist()
        return self._paths[index]

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __contains__(self, path: object) -> bool:
        return bool((self._paths == path).any())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PathColumn):
            other = other._paths.tolist()
        if not isinstance(other, Sequence) or isinstance(other, str):
            return NotImplemented
        return self._paths.tolist() == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __add__(self, other: Sequence[str]) -> PathColumn:
        """Both columns in one, copied a piece at a time (see :data:`JOIN_PIECE`)."""
        tail = other._paths if isinstance(other, PathColumn) else PathColumn(other)._paths
        joined = np.empty(len(self._paths) + len(tail), dtype=object)
        for source, offset in ((self._paths, 0), (tail, len(self._paths))):
            for start in range(0, len(source), JOIN_PIECE):
                make_way()
                end = min(start + JOIN_PIECE, len(source))
                joined[offset + start : offset + end] = source[start:end]
        return PathColumn(joined)

    def __repr__(self) -> str:
        return f"PathColumn({len(self)} paths)"
