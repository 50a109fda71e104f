"""Boxes on grid thumbnails: one source's boxes, kept as fractions of their image
(:attr:`ObjectIndex.unit_boxes`), drawn over the thumbnail's rectangle in class colours.

Painting a cell is a binary search for the sample's objects and a few ``drawRect`` calls:
no SQL, no decoding. The thumbnail keeps the image's aspect ratio, so the boxes are placed in the
image's rectangle fitted into the tile (from the sample's own width and height).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, QRectF, QSizeF, Qt
from PySide6.QtGui import QColor, QPainter, QPen

from app.gui_model.class_colours import class_rgb
from app.gui_model.object_filters import ObjectIndex

MAX_BOXES = 64  # per cell: more would only be a smudge at 128 px


class ThumbnailBoxes:
    """Paints an :class:`ObjectIndex`'s boxes on thumbnails while :attr:`enabled`."""

    def __init__(self) -> None:
        self.enabled = False
        self.index: ObjectIndex | None = None
        self._pens: list[QPen] = []
        self._sizes: dict[int, tuple[int, int]] = {}

    def set_index(self, index: ObjectIndex | None) -> None:
        """Draw this source's boxes (None: none); its ``unit_boxes`` must be set."""
        self.index = index if index is not None and index.unit_boxes is not None else None
        classes = () if self.index is None else self.index.classes
        self._pens = [_pen(name) for name in classes]

    def paint(self, painter: QPainter, tile: QRect, sample_id: object) -> None:
        """Boxes of ``sample_id`` over the image's rectangle fitted into ``tile``."""
        index = self.index
        if not self.enabled or index is None or not isinstance(sample_id, int):
            return
        pos = int(np.searchsorted(index.samples, sample_id))
        if pos >= len(index.samples) or int(index.samples[pos]) != sample_id:
            return
        aspect = float(index.aspects[pos])
        if aspect <= 0:
            return
        start = int(index.starts[pos])
        span = slice(start, start + int(index.counts[pos]))
        fitted = QSizeF(aspect, 1.0).scaled(QSizeF(tile.size()), Qt.AspectRatioMode.KeepAspectRatio)
        image = QRectF(0, 0, fitted.width(), fitted.height())
        image.moveCenter(QRectF(tile).center())
        boxes = index.unit_boxes[span][:MAX_BOXES]  # type: ignore[index]
        labels = index.arrays.labels[span][:MAX_BOXES]
        painter.setBrush(Qt.BrushStyle.NoBrush)
        x0, y0, w, h = image.x(), image.y(), image.width(), image.height()
        for (bx, by, bw, bh), code in zip(boxes.tolist(), labels.tolist(), strict=True):
            if np.isnan(bx):
                continue
            painter.setPen(self._pens[code])
            painter.drawRect(QRectF(x0 + bx * w, y0 + by * h, bw * w, bh * h))


def _pen(name: str) -> QPen:
    pen = QPen(QColor(*class_rgb(name)), 1.5)
    pen.setCosmetic(True)
    return pen
