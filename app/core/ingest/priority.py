"""What the index probes next: the rows on screen first, then the folder in order.

:class:`VisibleFirst` is the thread-safe hand-over from a view (the GUI thread calls
:meth:`VisibleFirst.prefer` with the sample ids it shows) to a running index job.
:class:`ProbeQueue` is the job's side: the files left to probe, handed out one at a time so a
change of the wanted set takes effect within the few files already in flight.

Huge files get their own lane: an image that is not a JPEG (so it cannot be decoded at reduced
scale) and is larger than :data:`HEAVY_BYTES` on disk is "heavy". While light files remain, at
most ``workers - 1`` heavy files are in flight (one when there are two workers), so one thread
keeps small files flowing past a run of 30 MB PNGs; when only heavy files remain they take
every thread. A lane shares the pool rather than adding threads: the same thread count as a
plain decode loop.
"""

from __future__ import annotations

import os
import threading
from array import array
from collections import deque
from collections.abc import Iterable, Sequence

from app.core.data.scan import FoundFile

HEAVY_BYTES = 4 << 20
REDUCIBLE_SUFFIXES = frozenset({".jpg", ".jpeg"})  # decoded reduced: never heavy, at any size


class VisibleFirst:
    """The sample ids a view wants probed first; replaced whole by each :meth:`prefer`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wanted: tuple[int, ...] = ()
        self._version = 0

    def prefer(self, sample_ids: Iterable[int]) -> None:
        """Probe these samples' files before any other (the rows on screen now)."""
        wanted = tuple(int(i) for i in sample_ids)
        with self._lock:
            self._wanted = wanted
            self._version += 1

    @property
    def version(self) -> int:
        """Grows by one at each :meth:`prefer`: a reader compares it to what it last saw."""
        return self._version

    def wanted(self) -> tuple[int, tuple[int, ...]]:
        """``(version, sample ids)`` as last preferred."""
        with self._lock:
            return self._version, self._wanted


def is_heavy(found: FoundFile) -> bool:
    """A large image that must be decoded at full size (not a JPEG): it goes in its own lane."""
    if found.kind != "image" or found.size < HEAVY_BYTES:
        return False
    return os.path.splitext(found.relpath)[1].lower() not in REDUCIBLE_SUFFIXES


class ProbeQueue:
    """Files to probe: wanted ones first, heavy ones limited while light ones remain."""

    def __init__(self, items: Sequence[FoundFile], workers: int) -> None:
        self._items = items
        self._taken = bytearray(len(items))
        heavy = [is_heavy(item) for item in items]
        self._light = array("q", (i for i, h in enumerate(heavy) if not h))
        self._heavy = array("q", (i for i, h in enumerate(heavy) if h))
        self._light_at = 0
        self._heavy_at = 0
        self._heavy_limit = max(1, workers - 1)
        self._heavy_running = 0
        self._wanted: deque[int] = deque()
        self._position: dict[str, int] | None = None
        self._left = len(items)

    def __len__(self) -> int:
        """Files not handed out yet."""
        return self._left

    def want(self, relpaths: Iterable[str]) -> None:
        """Hand these files out next (those still queued), replacing the last wanted ones."""
        if self._position is None:
            self._position = {item.relpath: i for i, item in enumerate(self._items)}
        found = (self._position.get(relpath) for relpath in relpaths)
        self._wanted = deque(i for i in found if i is not None and not self._taken[i])

    def next(self) -> FoundFile | None:
        """The next file to probe, or None when every file was handed out."""
        index = self._next_wanted()
        if index is None:
            index = self._next_in_lanes()
        if index is None:
            return None
        self._taken[index] = 1
        self._left -= 1
        item = self._items[index]
        if is_heavy(item):
            self._heavy_running += 1
        return item

    def finished(self, item: FoundFile) -> None:
        """``item`` (handed out by :meth:`next`) is probed: its lane slot is free again."""
        if is_heavy(item):
            self._heavy_running -= 1

    def _next_wanted(self) -> int | None:
        while self._wanted:
            index = self._wanted.popleft()
            if not self._taken[index]:
                return index
        return None

    def _next_in_lanes(self) -> int | None:
        light_left = self._skip_taken_light()
        if self._heavy_running < self._heavy_limit or not light_left:
            heavy = self._pop_heavy()
            if heavy is not None:
                return heavy
        if light_left:
            index = self._light[self._light_at]
            self._light_at += 1
            return index
        return None

    def _skip_taken_light(self) -> bool:
        while self._light_at < len(self._light) and self._taken[self._light[self._light_at]]:
            self._light_at += 1
        return self._light_at < len(self._light)

    def _pop_heavy(self) -> int | None:
        while self._heavy_at < len(self._heavy):
            index = self._heavy[self._heavy_at]
            self._heavy_at += 1
            if not self._taken[index]:
                return index
        return None
