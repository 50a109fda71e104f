"""Loading thumbnails from the project's cache off the GUI thread, into a bounded LRU.

The grid asks :meth:`ThumbnailLoader.pixmap` while painting; unknown ids are gathered and read
in batches on a small thread pool (each task opens its own SQLite connection and decodes to
QImage there). Batches queued behind newer ones are dropped: those rows were scrolled away, and
any still visible are asked for again when they repaint.
"""

from __future__ import annotations

import logging
import sqlite3
from collections import OrderedDict
from collections.abc import Iterable
from functools import partial
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QThreadPool, QTimer, Signal, Slot
from PySide6.QtGui import QImage, QPainter, QPixmap

from app.core.errors import SieveError
from app.core.store.thumbs import ThumbCache

log = logging.getLogger("sieve")

BATCH = 64
KEEP_GENERATIONS = 2  # a batch older than this many newer requests is dropped
DEFAULT_BUDGET = 128 * 2**20


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

    def clear(self) -> None:
        self._items.clear()
        self.used_bytes = 0


def _cost(pixmap: QPixmap) -> int:
    return pixmap.width() * pixmap.height() * max(1, pixmap.depth() // 8)


def decode_thumbnail(data: bytes | None, size: int) -> QImage | None:
    """JPEG bytes to a ``size`` square: the image fitted and centred on transparency.

    Small images are enlarged without smoothing (crisp pixels); a square canvas keeps every
    grid cell's name on the same line.
    """
    if data is None:
        return None
    image = QImage.fromData(data)
    if image.isNull():
        return None
    if max(image.width(), image.height()) * 2 <= size:
        mode = Qt.TransformationMode.FastTransformation
    else:
        mode = Qt.TransformationMode.SmoothTransformation
    image = image.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio, mode)
    canvas = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    canvas.fill(Qt.GlobalColor.transparent)
    painter = QPainter(canvas)
    painter.drawImage((size - image.width()) // 2, (size - image.height()) // 2, image)
    painter.end()
    return canvas


class ThumbnailLoader(QObject):
    """Serves thumbnails of one project as pixmaps; ``ready`` names ids that changed."""

    ready = Signal(list)
    loaded = Signal(list)  # from the pool: [(sample id, QImage | None)]
    dropped = Signal(list)  # from the pool: ids of a stale batch

    def __init__(
        self,
        thumbs_path: Path,
        icon_size: int,
        budget_bytes: int = DEFAULT_BUDGET,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.thumbs_path = thumbs_path
        self.icon_size = icon_size
        self.generation = 0
        self._cache = PixmapLru(budget_bytes)
        self._pending: set[int] = set()
        self._missing: set[int] = set()
        self._wanted: list[int] = []
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(2)
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(0)
        self._flush_timer.timeout.connect(self._flush)
        self.loaded.connect(self._on_loaded)
        self.dropped.connect(self._on_dropped)

    def pixmap(self, sample_id: int) -> QPixmap | None:
        """The cached pixmap, or None (then it is requested, unless known to be missing)."""
        pixmap = self._cache.get(sample_id)
        if pixmap is None and sample_id not in self._pending and sample_id not in self._missing:
            self._pending.add(sample_id)
            self._wanted.append(sample_id)
            self._flush_timer.start()
        return pixmap

    @property
    def loaded_count(self) -> int:
        """How many pixmaps are held now."""
        return len(self._cache)

    def retry_missing(self) -> None:
        """Look again for thumbnails that were missing (after a thumbnail job)."""
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
        """On a pool thread: read and decode one batch, unless newer requests made it stale."""
        if self.generation - generation >= KEEP_GENERATIONS:
            self.dropped.emit(ids)
            return
        try:
            cache = ThumbCache(self.thumbs_path)
            try:
                found = cache.get_many(ids)
            finally:
                cache.close()
        except (sqlite3.Error, SieveError) as error:
            log.warning("cannot read thumbnails from %s: %s", self.thumbs_path, error)
            found = {}
        self.loaded.emit([(i, decode_thumbnail(found.get(i), self.icon_size)) for i in ids])

    @Slot(list)
    def _on_loaded(self, images: list[tuple[int, QImage | None]]) -> None:
        for sample_id, image in images:
            self._pending.discard(sample_id)
            if image is None:
                self._missing.add(sample_id)
            else:
                self._cache.put(sample_id, QPixmap.fromImage(image))
        self.ready.emit([sample_id for sample_id, _ in images])

    @Slot(list)
    def _on_dropped(self, ids: Iterable[int]) -> None:
        ids = list(ids)
        self._pending.difference_update(ids)
        self.ready.emit(ids)
