"""Full-resolution decoding for the detail view, off the GUI thread.

Images go through the guarded :func:`load_rgb`, video frames through a :class:`VideoReader`.
Readers are kept open (a few, most recently used) because opening one probes the whole video;
they are closed when the dataset changes or the loader closes. One worker thread: requests that
were overtaken before they started are dropped, and results for a sample that is no longer wanted
never leave the loader.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from functools import partial
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QObject, QThreadPool, Signal, Slot
from PySide6.QtGui import QImage

from app.core.data.images import load_rgb
from app.core.data.video import VideoReader
from app.core.errors import SieveError
from app.core.store.project import SampleRow

log = logging.getLogger("sieve")

OPEN_READERS = 4


def to_qimage(image: Image.Image) -> QImage:
    """An RGB PIL image as a QImage that owns a copy of the pixels."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    data = rgb.tobytes()
    view = QImage(data, rgb.width, rgb.height, 3 * rgb.width, QImage.Format.Format_RGB888)
    return view.copy()


class ReaderCache:
    """Open video readers by path, least recently used closed first; thread-safe."""

    def __init__(self, size: int = OPEN_READERS) -> None:
        self.size = size
        self._readers: OrderedDict[Path, VideoReader] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._readers)

    def read_frame(self, path: Path, frame: int) -> Image.Image:
        with self._lock:
            reader = self._readers.pop(path, None) or VideoReader(path)
            self._readers[path] = reader
            while len(self._readers) > self.size:
                self._readers.popitem(last=False)[1].close()
            return reader.read_frame(frame)

    def close(self) -> None:
        with self._lock:
            for reader in self._readers.values():
                reader.close()
            self._readers.clear()


class FullImageLoader(QObject):
    """Decodes the wanted sample; ``loaded`` or ``failed`` name the sample they are about."""

    loaded = Signal(int, QImage)
    failed = Signal(int, str)
    _finished = Signal(int, object, str)  # from the pool: id, QImage | None, reason

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.readers = ReaderCache()
        self._root: Path | None = None
        self._wanted: int | None = None
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._finished.connect(self._on_finished)

    def set_root(self, dataset_root: Path | None) -> None:
        """Decode from another dataset folder (closes the open videos)."""
        self.cancel()
        self._pool.waitForDone()
        self.readers.close()
        self._root = dataset_root

    def request(self, row: SampleRow) -> None:
        """Decode ``row`` at full resolution; earlier requests are dropped."""
        if self._root is None:
            raise RuntimeError("set_root first")
        self._wanted = row.id
        self._pool.clear()
        self._pool.start(partial(self._decode, row, self._root / row.relpath))

    def cancel(self) -> None:
        """Drop whatever is pending."""
        self._wanted = None
        self._pool.clear()

    def close(self) -> None:
        """Stop, wait for the worker and close the videos (call before dropping the loader)."""
        self.set_root(None)

    def _decode(self, row: SampleRow, path: Path) -> None:
        """On the worker thread."""
        if self._wanted != row.id:
            return
        try:
            if row.frame is None:
                image = load_rgb(path)
            else:
                image = self.readers.read_frame(path, row.frame)
            self._finished.emit(row.id, to_qimage(image), "")
        except (SieveError, IndexError) as error:
            self._finished.emit(row.id, None, str(error))
        except Exception as error:
            log.exception("cannot decode %s", path)
            self._finished.emit(row.id, None, f"cannot decode ({type(error).__name__}: {error})")

    @Slot(int, object, str)
    def _on_finished(self, sample_id: int, image: QImage | None, reason: str) -> None:
        if sample_id != self._wanted:
            return
        if image is None:
            self.failed.emit(sample_id, reason)
        else:
            self.loaded.emit(sample_id, image)
