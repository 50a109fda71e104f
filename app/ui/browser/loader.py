"""Thumbnails from the project's cache, loaded off the GUI thread into a bounded pixmap LRU.

The delegate asks :meth:`ThumbnailLoader.pixmap` while painting; unknown ids are gathered and
read in batches on a small bounded pool (each batch opens its own SQLite connection and decodes
to QImage there). A batch still queued behind :data:`KEEP_GENERATIONS` newer ones is dropped: its
rows were scrolled away, and any still visible are asked for again when they repaint.

An image missing from the cache (e.g. the cache was deleted) is thumbnailed from its file on the
pool and stored; a video frame keeps the placeholder until the thumbnail job has made it.
"""

from __future__ import annotations

import logging
import sqlite3
from collections import OrderedDict
from collections.abc import Callable
from functools import partial
from pathlib import Path

from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal, Slot
from PySide6.QtGui import QImage, QImageReader, QPixmap

from app.core.data.images import THUMB_SIZE, thumbnail_of_file
from app.core.errors import SieveError
from app.core.jobs import make_way, run_below_the_window
from app.core.store.thumbs import ThumbCache
from app.ui.thumbnail_image import jpeg_image

log = logging.getLogger("sieve")

BATCH = 48
KEEP_GENERATIONS = 2
MAX_THREADS = 3
DEFAULT_BUDGET = 160 * 2**20
SourceOf = Callable[[int], Path | None]


class PixmapLru:
    """Pixmaps by sample id, least recently used evicted first, within a byte budget."""

    def __init__(self, budget_bytes: int = DEFAULT_BUDGET) -> None:
        self.budget_bytes = budget_bytes
        self.used_bytes = 0
        self._items: OrderedDict[int, QPixmap] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: int) -> QPixmap | None:
        pixmap = self._items.get(key)
        if pixmap is not None:
            self._items.move_to_end(key)
        return pixmap

    def put(self, key: int, pixmap: QPixmap) -> None:
        if key in self._items:
            self.used_bytes -= _cost(self._items.pop(key))
        self._items[key] = pixmap
        self.used_bytes += _cost(pixmap)
        while self.used_bytes > self.budget_bytes and len(self._items) > 1:
            _, evicted = self._items.popitem(last=False)
            self.used_bytes -= _cost(evicted)

    def contains(self, key: int) -> bool:
        return key in self._items

    def clear(self) -> None:
        self._items.clear()
        self.used_bytes = 0


def _cost(pixmap: QPixmap) -> int:
    return pixmap.width() * pixmap.height() * max(1, pixmap.depth() // 8)


def thumbnail_bytes(cache: ThumbCache, ids: list[int], source: SourceOf | None) -> dict[int, bytes]:
    """Cached JPEG bytes of ``ids``; images missing from the cache are made from their file."""
    found = cache.get_many(ids)
    made: list[tuple[int, bytes]] = []
    for sample_id in ids:
        path = source(sample_id) if source is not None and sample_id not in found else None
        if path is None:
            continue
        try:
            made.append((sample_id, thumbnail_of_file(path, THUMB_SIZE)))
        except (SieveError, OSError) as error:
            log.info("no thumbnail for %s: %s", path, error)
    if made:
        cache.put_many(made)
        found.update(made)
    return found


class ThumbnailLoader(QObject):
    """Serves one project's thumbnails as pixmaps; ``ready`` names the ids that changed (loaded,
    or dropped from a stale batch: asked for again if they are painted)."""

    ready = Signal(list)
    _loaded = Signal(list)  # from the pool: [(sample id, QImage | None)]
    _dropped = Signal(list)  # from the pool: ids of a stale batch

    def __init__(
        self,
        thumbs_path: Path,
        source: SourceOf | None = None,
        budget_bytes: int = DEFAULT_BUDGET,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        # Load Qt's image-format plugins here, on the GUI thread, before any worker decodes:
        # a first plugin load racing between a worker's QImage.fromData and the GUI thread
        # deadlocked a test run once (the worker held the GIL while waiting for Qt's loader).
        QImageReader.supportedImageFormats()
        self.thumbs_path = thumbs_path
        self.source = source
        self.generation = 0
        self._cache = PixmapLru(budget_bytes)
        self._pending: set[int] = set()
        self._missing: set[int] = set()
        self._wanted: list[int] = []
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(MAX_THREADS)
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(0)
        self._flush_timer.timeout.connect(self._flush)
        self._loaded.connect(self._on_loaded)
        self._dropped.connect(self._on_dropped)

    @property
    def loaded_count(self) -> int:
        """How many pixmaps are held now."""
        return len(self._cache)

    def pixmap(self, sample_id: int) -> QPixmap | None:
        """The held pixmap, or None (then it is requested, unless known to be missing)."""
        pixmap = self._cache.get(sample_id)
        if pixmap is None and sample_id not in self._pending and sample_id not in self._missing:
            self._pending.add(sample_id)
            self._wanted.append(sample_id)
            self._flush_timer.start()
        return pixmap

    def reload(self) -> None:
        """Forget held and missing thumbnails; visible rows ask again when they repaint."""
        self._missing.clear()
        self._cache.clear()

    @property
    def asked(self) -> int:
        """How many requested thumbnails have not been answered yet (loaded or found missing)."""
        return len(self._pending)

    def holds(self, sample_id: int) -> bool:
        """Whether the pixmap of ``sample_id`` is loaded (without touching the LRU order)."""
        return self._cache.contains(sample_id)

    def retry_missing(self) -> None:
        """Forget which thumbnails were not made yet: rows ask again when they repaint."""
        self._missing.clear()

    def close(self) -> None:
        """Stop loading and wait for the pool (call before dropping the loader)."""
        self._flush_timer.stop()
        self._wanted.clear()
        self._pool.clear()
        self._pool.waitForDone()

    @Slot()
    def _flush(self) -> None:
        self.generation += 1
        wanted, self._wanted = self._wanted, []
        for start in range(0, len(wanted), BATCH):
            self._pool.start(partial(self._load, wanted[start : start + BATCH], self.generation))

    def _load(self, ids: list[int], generation: int) -> None:
        """On a pool thread: read and decode one batch, unless newer requests made it stale.

        Below the window's priority, as the grid's reader, so decoding leaves the GUI thread its
        core while a 1M-file folder is thumbnailed (the stalls it was meant for are measured in
        the architecture notes: no clear gain on a busy 2-core machine, no loss either)."""
        run_below_the_window()
        if self.generation - generation >= KEEP_GENERATIONS:
            self._dropped.emit(ids)
            return
        try:
            cache = ThumbCache(self.thumbs_path)
            try:
                found = thumbnail_bytes(cache, ids, self.source)
            finally:
                cache.close()
        except (sqlite3.Error, SieveError) as error:
            log.warning("cannot read thumbnails from %s: %s", self.thumbs_path, error)
            found = {}
        self._loaded.emit([(i, _decode(found.get(i))) for i in ids])

    @Slot(list)
    def _on_loaded(self, images: list[tuple[int, QImage | None]]) -> None:
        """Hold the pixmaps loaded; name only their ids in ``ready``: a thumbnail not made yet
        looks as it did (a repaint of every page a fast scroll passes over while a big folder
        is listed, for nothing: a tenth of the GUI thread's time)."""
        loaded = []
        for sample_id, image in images:
            self._pending.discard(sample_id)
            if image is None:
                self._missing.add(sample_id)
            else:
                self._cache.put(sample_id, QPixmap.fromImage(image))
                loaded.append(sample_id)
        if loaded:
            self.ready.emit(loaded)

    @Slot(list)
    def _on_dropped(self, ids: list[int]) -> None:
        self._pending.difference_update(ids)
        self.ready.emit(ids)


def _decode(data: bytes | None) -> QImage | None:
    """JPEG bytes to a QImage at its stored size (the delegate scales while painting)."""
    if data is None:
        return None
    make_way()  # a paint of the grid goes first
    return jpeg_image(data)
