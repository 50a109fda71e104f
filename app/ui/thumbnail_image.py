"""Decoding a cached thumbnail into a fixed square image for strips and small tiles."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPainter


def jpeg_image(data: bytes) -> QImage | None:
    """A stored thumbnail's JPEG bytes as an image, or None when they do not decode.

    On a pool thread, decoding holds Qt's image-plugin lock, and a call back into Python then
    waits for the interpreter lock, which the GUI thread may hold while it waits for Qt's lock:
    both wait for ever (two CI runs hung so). So the format is named, never guessed (guessing,
    Qt asked the SVG plugin, whose QTextStream needed Qt's signal-slot lock), and the bytes are
    read from Qt's own buffer, not a Python ``QBuffer`` (each of its reads asks Python whether
    a method is overridden).
    """
    image = QImage.fromData(data, "JPEG")  # Qt's own buffer: no Python object in the read
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
