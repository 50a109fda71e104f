"""A colour per object class name, the same in every view: the class's hash picks a slot in a
palette of distinct colours, and a class whose slot is taken gets the next free one. Classes are
registered sorted (:func:`register`, when a project's annotation sources are read), so a project
with up to ``len(PALETTE)`` classes shows each in its own colour, the same each session."""

from __future__ import annotations

import threading
import zlib
from collections.abc import Iterable

Rgb = tuple[int, int, int]

# Sasha Trubetskoy's distinct colours, without the near-white and the greys.
PALETTE: tuple[Rgb, ...] = (
    (230, 25, 75),
    (60, 180, 75),
    (255, 225, 25),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
    (210, 245, 60),
    (250, 190, 212),
    (0, 128, 128),
    (220, 190, 255),
    (170, 110, 40),
    (128, 0, 0),
    (170, 255, 195),
    (128, 128, 0),
    (255, 215, 180),
    (0, 0, 128),
)

_assigned: dict[str, Rgb] = {}
_lock = threading.Lock()


def class_rgb(name: str) -> Rgb:
    """The colour of class ``name`` (crc32 of the name, not Python's salted hash)."""
    found = _assigned.get(name)
    if found is not None:
        return found
    with _lock:
        if name not in _assigned:
            start = zlib.crc32(name.encode("utf-8")) % len(PALETTE)
            used = set(_assigned.values())
            slots = [PALETTE[(start + i) % len(PALETTE)] for i in range(len(PALETTE))]
            _assigned[name] = next((c for c in slots if c not in used), slots[0])
        return _assigned[name]


def register(names: Iterable[str]) -> None:
    """Give these classes their colours now, in name order (before any is drawn)."""
    for name in sorted(set(names)):
        class_rgb(name)
