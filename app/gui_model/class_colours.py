"""A stable colour per object class name: the same class has the same colour in every view and
every session (a hash of the name picks from a palette of distinct colours)."""

from __future__ import annotations

import zlib

# Tableau 20 reordered so that neighbours differ, plus a few extra distinct hues.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (188, 189, 34),
    (23, 190, 207),
    (174, 199, 232),
    (255, 187, 120),
    (152, 223, 138),
    (255, 152, 150),
    (197, 176, 213),
    (196, 156, 148),
    (247, 182, 210),
    (219, 219, 141),
    (158, 218, 229),
    (0, 128, 128),
    (230, 25, 75),
    (255, 225, 25),
    (70, 240, 240),
    (240, 50, 230),
    (170, 110, 40),
)


def class_rgb(name: str) -> tuple[int, int, int]:
    """The colour of class ``name`` (stable across runs: crc32, not Python's salted hash)."""
    return PALETTE[zlib.crc32(name.encode("utf-8")) % len(PALETTE)]
