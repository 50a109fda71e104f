"""Decoding a cached thumbnail into a fixed square image for strips and small tiles."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPainter


def decode_thumbnail(data: bytes | None, size: int) -> QImage | None:
    """JPEG bytes to a ``size`` square: the image fitted and centred on transparency.

    Small images are enlarged without smoothing (crisp pixels); a square canvas keeps every
    tile's caption on the same line.
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
