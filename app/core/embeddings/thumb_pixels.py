"""Embedding pixels from the project's stored thumbnails instead of the original files.

A thumbnail is JPEG bytes fitted into 192 x 192 (``app.core.data.images.THUMB_SIZE``). It stands
in for its original when it holds as many pixels as the embedding uses: its longer side reaches
the square side asked for, or the original's own longer side (a small image whose thumbnail is
not reduced). JPEG's DCT scaling (``draft``) decodes it at a half or a quarter where that is
still enough. Anything else (no thumbnail, too small, unreadable) is left to the original file.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from app.core.ssl.data import square
from app.core.store.project import THUMBS_NAME, SampleRow
from app.core.store.thumbs import ThumbCache


def read_thumbnails(project_dir: Path, ids: Sequence[int]) -> dict[int, bytes]:
    """The stored thumbnails of ``ids`` (those that have one), read on the calling thread."""
    path = Path(project_dir) / THUMBS_NAME
    if not path.is_file():
        return {}
    cache = ThumbCache(path)
    try:
        return cache.get_many(ids)
    finally:
        cache.close()


def thumbnail_pixels(data: bytes, row: SampleRow, side: int) -> np.ndarray | None:
    """``(side, side, 3)`` uint8 pixels from ``row``'s thumbnail, None when it is not enough."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if max(image.size) < _needed(row, side):
                return None
            image.draft("RGB", (side, side))
            rgb = image.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    return square(rgb, side)


def _needed(row: SampleRow, side: int) -> int:
    """The longer side a thumbnail needs to stand in for ``row``'s file at ``side`` pixels."""
    original = max(row.width or 0, row.height or 0)
    return min(side, original) if original else side
