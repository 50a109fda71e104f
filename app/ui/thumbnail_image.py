"""Decoding a cached thumbnail into a fixed square image for strips and small tiles."""

from __future__ import annotations

from PySide6.QtCore import QBuffer, QByteArray, Qt
from PySide6.QtGui import QImage, QImageReader, QPainter


def jpeg_image(data: bytes) -> QImage | None:
    """A stored thumbnail's JPEG bytes as an image, or None when they do not decode.

    The format is named, never guessed: guessing, Qt asks every image plugin, and the SVG one
    builds a QTextStream, which takes Qt's signal-slot lock. A pool thread did so holding the
    interpreter lock while the GUI thread held Qt's lock and waited for the interpreter's (a
    disconnect looking for a Python override): both waited for ever, and a CI run hung.
    """
    buffer = QBuffer()
    buffer.setData(QByteArray(data))
    reader = QImageReader(buffer, QByteArray(b"jpeg"))
    reader.setAutoDetectImageFormat(False)  # no other plugin is asked, not even for bad bytes
    image = reader.read()
    return None if image.isNull() else image


def decode_thumbnail(data: bytes | None, size: int) -> QImage | None:
    """JPEG bytes to a ``size`` square: the image fitted and centred on transparency.

    Small images are enlarged without smoothing (crisp pixels); a square canvas keeps every
    tile's caption on the same line.
    """
    image = jpeg_image(data) if data is not None else None
    if image is None:
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
