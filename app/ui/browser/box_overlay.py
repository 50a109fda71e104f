"""Boxes on grid thumbnails: one source's boxes, kept as fractions of their image
(:attr:`ObjectIndex.unit_boxes`), drawn over the thumbnail's rectangle in class colours.

Painting a cell is a dictionary look-up of the cell's ready-drawn box layer (a transparent pixmap,
the most recently painted few hundred are kept) and one ``drawPixmap``; a cell seen for the first
time costs a binary search for the sample's objects and a few ``drawRect`` calls. No SQL, no
decoding. The thumbnail keeps the image's aspect ratio, so the boxes are placed in the image's
rectangle fitted into the tile (from the sample's own width and height).
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
from PySide6.QtCore import QRect, QRectF, QSizeF, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap

from app.gui_model.class_colours import class_rgb
from app.gui_model.object_filters import ObjectIndex

MAX_BOXES = 64  # per cell: more would only be a smudge at 128 px
CACHED_LAYERS = 400  # box layers kept: a few screens of cells (64 KiB each at 128 px)


class ThumbnailBoxes:
    """Paints an :class:`ObjectIndex`'s boxes on thumbnails while :attr:`enabled`."""

    def __init__(self) -> None:
        self.enabled = False
        self.index: ObjectIndex | None = None
        self._pens: list[QPen] = []
        self._layers: OrderedDict[tuple[int, int, int, float], QPixmap | None] = OrderedDict()

    def set_index(self, index: ObjectIndex | None) -> None:
        """Draw this source's boxes (None: none); its ``unit_boxes`` must be set."""
        self.index = index if index is not None and index.unit_boxes is not None else None
        classes = () if self.index is None else self.index.classes
        self._pens = [_pen(name) for name in classes]
        self.forget_layers()

    def forget_layers(self) -> None:
        """Drop the ready-drawn box layers (they are drawn again when painted)."""
        self._layers.clear()

    def paint(self, painter: QPainter, tile: QRect, sample_id: object) -> None:
        """Boxes of ``sample_id`` over the image's rectangle fitted into ``tile``."""
        if not self.enabled or self.index is None or not isinstance(sample_id, int):
            return
        ratio = painter.device().devicePixelRatioF()
        key = (sample_id, tile.width(), tile.height(), ratio)
        if key in self._layers:
            self._layers.move_to_end(key)
            layer = self._layers[key]
        else:
            layer = self._draw_layer(sample_id, tile.width(), tile.height(), ratio)
            self._layers[key] = layer
            if len(self._layers) > CACHED_LAYERS:
                self._layers.popitem(last=False)
        if layer is not None:
            painter.drawPixmap(tile.topLeft(), layer)

    def _draw_layer(self, sample_id: int, width: int, height: int, ratio: float) -> QPixmap | None:
        """A transparent ``width`` x ``height`` pixmap with the sample's boxes; None without."""
        index = self.index
        assert index is not None
        pos = int(np.searchsorted(index.samples, sample_id))
        if pos >= len(index.samples) or int(index.samples[pos]) != sample_id:
            return None
        aspect = float(index.aspects[pos])
        if aspect <= 0:
            return None
        start = int(index.starts[pos])
        end = start + min(int(index.counts[pos]), MAX_BOXES)
        fitted = QSizeF(aspect, 1.0).scaled(
            QSizeF(width, height), Qt.AspectRatioMode.KeepAspectRatio
        )
        w, h = fitted.width(), fitted.height()
        rects = index.unit_boxes[start:end] * (w, h, w, h)  # type: ignore[index]
        rects += ((width - w) / 2, (height - h) / 2, 0.0, 0.0)
        layer = QPixmap(round(width * ratio), round(height * ratio))
        layer.setDevicePixelRatio(ratio)
        layer.fill(Qt.GlobalColor.transparent)
        painter = QPainter(layer)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        pen = -1
        codes = index.arrays.labels[start:end].tolist()
        for (x, y, bw, bh), code in zip(rects.tolist(), codes, strict=True):
            if x == x:  # not NaN: the sample's size is known
                if code != pen:
                    painter.setPen(self._pens[code])
                    pen = code
                painter.drawRect(QRectF(x, y, bw, bh))
        painter.end()
        return layer


def _pen(name: str) -> QPen:
    pen = QPen(QColor(*class_rgb(name)), 1)
    pen.setCosmetic(True)
    return pen
