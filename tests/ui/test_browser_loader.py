"""The browser's thumbnail loader: a bounded pixmap LRU, off-thread batches, stale ones dropped."""

from __future__ import annotations

import io
import os
import sys
import threading
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtGui import QPixmap

from app.core.store.thumbs import ThumbCache
from app.ui.browser.loader import KEEP_GENERATIONS, PixmapLru, ThumbnailLoader
from app.ui.thumbnail_image import decode_thumbnail, jpeg_image


def pixmap(size: int) -> QPixmap:
    result = QPixmap(size, size)
    result.fill()
    return result


def test_lru_evicts_least_recently_used_within_budget(qtbot) -> None:
    one = 10 * 10 * pixmap(10).depth() // 8
    lru = PixmapLru(budget_bytes=3 * one)
    for key in range(3):
        lru.put(key, pixmap(10))
    assert lru.get(0) is not None  # 0 is now the most recently used
    lru.put(3, pixmap(10))
    assert len(lru) == 3 and lru.used_bytes == 3 * one
    assert lru.get(1) is None
    assert all(lru.get(key) is not None for key in (0, 2, 3))


def test_decode_fits_and_centres(qtbot) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (20, 10), (200, 20, 20)).save(buffer, format="JPEG")
    image = decode_thumbnail(buffer.getvalue(), 64)
    assert (image.width(), image.height()) == (64, 64)
    assert image.pixelColor(32, 2).alpha() == 0
    assert image.pixelColor(32, 32).red() > 150
    assert decode_thumbnail(None, 64) is None
    assert decode_thumbnail(b"not a jpeg", 64) is None


def jpeg(colour: tuple[int, int, int], size: tuple[int, int] = (16, 16)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="JPEG")
    return buffer.getvalue()


def make_cache(tmp_path: Path) -> Path:
    path = tmp_path / "thumbs.sqlite"
    cache = ThumbCache(path)
    cache.put_many([(1, jpeg((250, 0, 0))), (2, jpeg((0, 250, 0)))])
    cache.close()
    return path


def test_loader_loads_requested_thumbnails_off_the_gui_thread(qtbot, tmp_path: Path) -> None:
    loader = ThumbnailLoader(make_cache(tmp_path))
    ready: list[int] = []
    loader.ready.connect(ready.extend)
    assert loader.pixmap(1) is None and loader.pixmap(2) is None and loader.pixmap(9) is None
    qtbot.waitUntil(lambda: loader.asked == 0)
    assert sorted(ready) == [1, 2]  # 9 has no thumbnail yet: it looks as it did
    assert loader.pixmap(1).toImage().pixelColor(8, 8).red() > 200
    assert loader.pixmap(2).toImage().pixelColor(8, 8).green() > 200
    assert loader.pixmap(9) is None  # missing from the cache: not asked for again
    assert loader.loaded_count == 2
    loader.close()


def test_loader_drops_stale_batches(qtbot, tmp_path: Path) -> None:
    loader = ThumbnailLoader(make_cache(tmp_path))
    loader.generation = KEEP_GENERATIONS  # newer requests came in since batch 0 was queued
    with qtbot.waitSignal(loader.ready) as blocker:
        loader._load([1], 0)  # what the pool thread runs when it reaches batch 0
    assert blocker.args == [[1]]
    assert loader.loaded_count == 0
    assert loader.pixmap(1) is None  # still visible: asked for again when it repaints
    qtbot.waitUntil(lambda: loader.loaded_count == 1)
    loader.close()


def test_loader_survives_an_unreadable_cache(qtbot, tmp_path: Path) -> None:
    bad = tmp_path / "thumbs.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    loader = ThumbnailLoader(bad)
    ready: list[int] = []
    loader.ready.connect(ready.extend)
    assert loader.pixmap(1) is None
    qtbot.waitUntil(lambda: loader.asked == 0)
    assert loader.pixmap(1) is None and loader.loaded_count == 0 and not ready
    loader.close()


def test_thumbnail_bytes_are_read_as_jpeg_without_asking_other_image_plugins(qtbot) -> None:
    """Guessing asks every plugin (SVG's takes Qt's signal-slot lock: a deadlock with the GUI
    thread once); named and never guessed, PNG bytes do not decode and JPEG bytes do."""
    png = io.BytesIO()
    Image.new("RGB", (8, 8), (0, 200, 0)).save(png, format="PNG")
    assert jpeg_image(png.getvalue()) is None and jpeg_image(b"junk") is None
    image = jpeg_image(jpeg((250, 0, 0)))
    assert image is not None and image.pixelColor(8, 8).red() > 200


@pytest.mark.skipif(sys.platform != "linux", reason="a thread's own priority is Linux's")
def test_loader_threads_decode_below_the_window(qtbot, tmp_path: Path, monkeypatch) -> None:
    """The loader's pool threads decode below the window's priority (as the grid's reader)."""
    from app.ui.browser import loader as loader_module

    seen: list[int] = []
    read = loader_module.thumbnail_bytes

    def recording(*args, **kwargs):
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return read(*args, **kwargs)

    monkeypatch.setattr(loader_module, "thumbnail_bytes", recording)
    loader = ThumbnailLoader(make_cache(tmp_path))
    assert loader.pixmap(1) is None
    qtbot.waitUntil(lambda: loader.asked == 0)
    assert seen and all(
        priority > os.getpriority(os.PRIO_PROCESS, os.getpid()) for priority in seen
    )
    loader.close()
