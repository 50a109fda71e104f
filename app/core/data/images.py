"""Image decoding with Sieve's guards: EXIF orientation, mode normalisation, broken-file reasons.

Everything a user's folder can hold (palette, alpha, 16-bit, CMYK, truncated, corrupt, empty,
mislabelled and decompression-bomb files) either becomes a normal 8-bit image or an
:class:`ImageError` whose message says why, never a crash. Files are only ever read.

Memory is bounded: a small file can hold a huge image (a 329 KB PNG of 13000 x 13000 16-bit
pixels is 338 MB decoded). JPEGs decode at reduced scale, wide modes become 8-bit a strip of
rows at a time (reduced on the way when a smaller image is asked for), and every full decode
first reserves its estimated bytes from :data:`DECODE_BUDGET`, so parallel decodes of large
images wait for each other instead of multiplying the peak.
"""

from __future__ import annotations

import io
import os
import threading
import warnings
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from app.core.errors import SieveError, is_transient, transient_reason
from app.core.quality.stats import ImageStats, bytes_digest, file_digest, image_stats

THUMB_SIZE = 192
THUMB_QUALITY = 85
BACKGROUND = (128, 128, 128)  # neutral grey behind transparent pixels
_TRANSPOSED_ORIENTATIONS = {5, 6, 7, 8}  # EXIF orientations that swap width and height
DEFAULT_BUDGET_BYTES = 1 << 30
READ_WHOLE_BYTES = 16 << 20  # files probed from memory (read once for decode and hash)
HASH_WHILE_PROBING_BYTES = 64 << 10  # larger files are hashed after the index, with statistics
OWN_THUMBNAIL_BYTES = 32 << 10  # a plain JPEG within the thumbnail's size and this is its own
_STRIP_PIXELS = 1 << 20  # wide-mode pixels turned into 8-bit at a time (8 MB as float64)


class ImageError(SieveError):
    """An image that cannot be used; the message is the reason shown to the user."""


@dataclass(frozen=True, slots=True)
class ImageProbe:
    """What indexing learns from one image file: its size, a thumbnail, or why it is broken."""

    width: int | None
    height: int | None
    thumbnail: bytes | None
    reason: str | None = None
    stats: ImageStats | None = None  # measured from the thumbnail-sized image, when asked
    file_stat: tuple[int, int] | None = None  # (bytes, mtime_ns) of the file it opened
    content_hash: str | None = None  # SHA-256 of the file's bytes (when it was hashed)

    @property
    def ok(self) -> bool:
        return self.reason is None


class DecodeBudget:
    """Bytes that decodes in flight may take together, handed out first come, first served.

    A decode larger than the whole budget still runs, but alone.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = int(capacity)
        self._in_use = 0
        self._queue: deque[object] = deque()
        self._changed = threading.Condition()

    @property
    def in_use(self) -> int:
        return self._in_use

    def acquire(self, amount: int) -> None:
        """Wait until ``amount`` bytes fit (or nothing else runs), then take them."""
        ticket = object()
        with self._changed:
            if not self._queue and self._fits(amount):  # nobody waits: no queueing
                self._in_use += amount
                return
            self._queue.append(ticket)
            try:
                self._changed.wait_for(lambda: self._queue[0] is ticket and self._fits(amount))
            finally:
                self._queue.remove(ticket)
                self._changed.notify_all()
            self._in_use += amount

    def release(self, amount: int) -> None:
        with self._changed:
            self._in_use -= amount
            self._changed.notify_all()

    @contextmanager
    def reserve(self, amount: int) -> Iterator[None]:
        """Hold ``amount`` bytes for the body of a ``with`` block."""
        self.acquire(amount)
        try:
            yield
        finally:
            self.release(amount)

    def _fits(self, amount: int) -> bool:
        return self._in_use == 0 or self._in_use + amount <= self.capacity


DECODE_BUDGET = DecodeBudget(DEFAULT_BUDGET_BYTES)
"""Shared by every decode in this process (indexing, thumbnails, embedding, training data)."""


def decode_estimate(image: Image.Image) -> int:
    """Peak bytes of decoding ``image`` (opened, not loaded): its pixels and one working copy."""
    return 2 * image.width * image.height * _bytes_per_pixel(image.mode)


def _bytes_per_pixel(mode: str) -> int:
    if mode in ("1", "L", "P"):
        return 1
    if mode.startswith("I;16"):
        return 2
    return 4  # Pillow keeps every other mode (RGB included) in 4 bytes a pixel


def open_image(path: str | os.PathLike, draft_size: tuple[int, int] | None = None) -> Image.Image:
    """Decode an image as 8-bit ``RGB`` or ``L``, upright, with alpha composited on grey.

    ``draft_size`` lets JPEG decode at a reduced scale (DCT scaling) no smaller than the size.
    Raises :class:`ImageError` with a readable reason for every kind of bad file.
    """
    with _decoded(path, draft_size) as decoded:
        return decoded.image


def load_rgb(path: str | os.PathLike, draft_size: tuple[int, int] | None = None) -> Image.Image:
    """:func:`open_image`, always 3-channel RGB (what models take)."""
    image = open_image(path, draft_size)
    return image if image.mode == "RGB" else image.convert("RGB")


def probe_image(
    path: str | os.PathLike, thumb_size: int = THUMB_SIZE, measure: bool = True
) -> ImageProbe:
    """Fully decode (at reduced scale where possible) to validate, and make the thumbnail; with
    ``measure``, also hash the file and measure the thumbnail-sized image.

    Without ``measure`` (the index: thumbnails first) only a file of at most
    :data:`HASH_WHILE_PROBING_BYTES` is hashed, from the bytes read for its decode: a larger
    file decodes reduced, and its hash (SHA-256 at ~1.2 GB/s, 7% of a photo's reduced decode)
    waits for the statistics pass. A file up to :data:`READ_WHOLE_BYTES` is read once and
    decoded from memory. The probe also gives the file's size and modification time as it
    opened it (a new JPEG is listed without them: no second ``stat``)."""
    opened: os.stat_result | None = None
    digest: str | None = None
    try:
        with _reasons():
            opened, data = _read_file(path)
        if opened.st_size == 0:
            raise ImageError("empty file (0 bytes)")
        source = path if data is None else io.BytesIO(data)
        with _decoded(source, (thumb_size, thumb_size)) as decoded:
            image, (width, height) = decoded.image, decoded.size
            thumbnail = _thumbnail_of(decoded, data, thumb_size)
            if measure or opened.st_size <= HASH_WHILE_PROBING_BYTES:
                digest = file_digest(path) if data is None else bytes_digest(data)
            stats = image_stats(image, digest) if measure else None  # image is thumbnail-sized
    except ImageError as error:
        return ImageProbe(None, None, None, str(error), file_stat=_size_and_mtime(opened))
    return ImageProbe(
        width, height, thumbnail, None, stats, _size_and_mtime(opened), content_hash=digest
    )


def thumbnail_of_file(path: str | os.PathLike, size: int = THUMB_SIZE) -> bytes:
    """The thumbnail (JPEG bytes) :func:`probe_image` makes of an image file; raises
    :class:`ImageError` saying why it cannot."""
    with _reasons():
        _, data = _read_file(path)
    with _decoded(path if data is None else io.BytesIO(data), (size, size)) as decoded:
        return _thumbnail_of(decoded, data, size)


def _read_file(path: str | os.PathLike) -> tuple[os.stat_result, bytes | None]:
    """The file's stat, and its bytes when it holds at most :data:`READ_WHOLE_BYTES`.

    Read with the system calls themselves (a buffered file object costs more than the read of
    a tiny file); a short read (a network file system) is continued."""
    handle = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        opened = os.fstat(handle)
        if not 0 < opened.st_size <= READ_WHOLE_BYTES:
            return opened, None
        chunks, left = [], opened.st_size
        while left > 0 and (chunk := os.read(handle, left)):
            chunks.append(chunk)
            left -= len(chunk)
        return opened, chunks[0] if len(chunks) == 1 else b"".join(chunks)
    finally:
        os.close(handle)


def _size_and_mtime(opened: os.stat_result | None) -> tuple[int, int] | None:
    return None if opened is None else (opened.st_size, opened.st_mtime_ns)


def encode_thumbnail(image: Image.Image, size: int = THUMB_SIZE) -> bytes:
    """JPEG bytes of ``image`` fitted into ``size`` x ``size`` (aspect kept)."""
    image = image.copy() if image.width > size or image.height > size else image
    return _thumbnail_in_place(image, size)


def _thumbnail_of(decoded: _Decoded, data: bytes | None, size: int) -> bytes:
    """The thumbnail of a decoded file whose bytes are ``data`` (None: not read whole).

    A plain JPEG (upright, 8-bit RGB or grey) that already fits the thumbnail, in pixels and
    about in bytes (:data:`OWN_THUMBNAIL_BYTES`), is its own thumbnail: it was decoded whole
    (so it is valid), and resizing and encoding it again would only lose quality. On folders of
    tiny JPEGs that encode is a quarter of the work."""
    width, height = decoded.size
    if (
        decoded.plain_jpeg
        and data is not None
        and len(data) <= OWN_THUMBNAIL_BYTES
        and width <= size
        and height <= size
    ):
        return data
    return _thumbnail_in_place(decoded.image, size)


def _thumbnail_in_place(image: Image.Image, size: int) -> bytes:
    """:func:`encode_thumbnail` that shrinks ``image`` itself (no full-size copy)."""
    image.thumbnail((size, size), Image.Resampling.BICUBIC, reducing_gap=2.0)
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=THUMB_QUALITY)
    return buffer.getvalue()


@dataclass(frozen=True, slots=True)
class _Decoded:
    """A decoded file: the normalised image, its full upright size (before any reduction), and
    whether it is a plain JPEG (upright as stored, 8-bit RGB or grey: shown as the file is)."""

    image: Image.Image
    size: tuple[int, int]
    plain_jpeg: bool


@contextmanager
def _decoded(
    source: str | os.PathLike | io.BytesIO, draft_size: tuple[int, int] | None
) -> Iterator[_Decoded]:
    """The decoded file (from a path, or its bytes), its decode's bytes held from
    :data:`DECODE_BUDGET` while the ``with`` block runs."""
    with _reasons(), warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        if not isinstance(source, io.BytesIO) and os.path.getsize(source) == 0:
            raise ImageError("empty file (0 bytes)")
        with Image.open(source) as image:
            orientation = image.getexif().get(0x0112, 1)
            width, height = image.size
            size = (height, width) if orientation in _TRANSPOSED_ORIENTATIONS else (width, height)
            plain = image.format == "JPEG" and orientation == 1 and image.mode in ("RGB", "L")
            if draft_size is not None and image.format == "JPEG":
                image.draft(None, _fit(image.size, draft_size))
            with DECODE_BUDGET.reserve(decode_estimate(image)):
                image.load()
                yield _Decoded(_normalise(image, draft_size, orientation), size, plain)


@contextmanager
def _reasons() -> Iterator[None]:
    """Turn every way a file fails to decode into an :class:`ImageError` saying why."""
    try:
        yield
    except ImageError:
        raise
    except Image.DecompressionBombError as error:
        raise ImageError(
            f"too large to decode safely ({error}); Sieve keeps Pillow's decompression-bomb guard"
        ) from error
    except UnidentifiedImageError as error:
        raise ImageError("not an image, or an image format Pillow cannot read") from error
    except FileNotFoundError as error:
        raise ImageError("file not found (moved or deleted?)") from error
    except PermissionError as error:
        raise ImageError("permission denied when reading the file") from error
    except (OSError, MemoryError) as error:
        if is_transient(error):
            raise ImageError(transient_reason(error)) from error
        raise ImageError(_corrupt_reason(error)) from error
    except (ValueError, SyntaxError, EOFError) as error:
        raise ImageError(_corrupt_reason(error)) from error


def _corrupt_reason(error: BaseException) -> str:
    message = str(error) or type(error).__name__
    if "truncated" in message or isinstance(error, EOFError):
        return f"truncated image data ({message})"
    return f"corrupt image data ({message})"


def _fit(size: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    """The size ``size`` takes when fitted into ``box`` with its aspect ratio kept."""
    scale = min(box[0] / size[0], box[1] / size[1], 1.0)
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _normalise(
    image: Image.Image, draft_size: tuple[int, int] | None, orientation: int
) -> Image.Image:
    """Apply EXIF orientation and turn any mode into 8-bit ``RGB`` or ``L``.

    ``image`` is turned upright in place (a copy would double a large image's memory); wide
    modes are reduced on the way, no smaller than ``draft_size`` (as JPEG drafts are).
    ``orientation`` is its EXIF tag, read already (1: upright as stored, nothing to turn).
    """
    if orientation != 1:
        ImageOps.exif_transpose(image, in_place=True)
    mode = image.mode
    if mode in ("RGB", "L"):
        return image
    if mode == "P":
        has_alpha = "transparency" in image.info or image.palette.mode == "RGBA"
        return _composite(image.convert("RGBA")) if has_alpha else image.convert("RGB")
    if mode in ("RGBA", "RGBa", "LA", "La", "PA"):
        return _composite(image.convert("RGBA"))
    if mode == "1":
        return image.convert("L")
    if mode.startswith("I") or mode == "F":
        return _wide_to_8bit(image, _reduction(image.size, draft_size))
    return image.convert("RGB")  # CMYK, YCbCr, LAB, HSV, RGBX


def _composite(rgba: Image.Image) -> Image.Image:
    background = Image.new("RGB", rgba.size, BACKGROUND)
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def _reduction(size: tuple[int, int], draft_size: tuple[int, int] | None) -> int:
    """The largest whole factor that keeps ``size`` no smaller than its fit in ``draft_size``."""
    if draft_size is None:
        return 1
    width, height = _fit(size, draft_size)
    return max(1, min(size[0] // width, size[1] // height))


def _wide_to_8bit(image: Image.Image, factor: int = 1) -> Image.Image:
    """16-bit and 32-bit single-channel images: 16-bit range scaled, others stretched.

    Converted a strip of rows at a time (never a full-size float copy), each ``factor`` x
    ``factor`` block averaged into one pixel on the way.
    """
    low, scale = _wide_scale(image)
    width, height = image.size
    out = np.empty((-(-height // factor), -(-width // factor)), dtype=np.uint8)
    step = max(1, _STRIP_PIXELS // (width * factor)) * factor
    for top in range(0, height, step):
        strip = image.crop((0, top, width, min(top + step, height)))
        values = _block_means(np.asarray(strip, dtype=np.float64), factor)
        row = top // factor
        out[row : row + len(values)] = np.clip(np.rint((values - low) * scale), 0, 255)
    return Image.fromarray(out)


def _wide_scale(image: Image.Image) -> tuple[float, float]:
    """``(low, scale)`` taking a wide mode's values to 0..255: the 16-bit range, else min..max."""
    if image.mode.startswith("I;16"):
        return 0.0, 1.0 / 257.0
    low, high = (float(value) for value in image.getextrema())
    if image.mode == "I" and low >= 0 and high <= 65535:
        return 0.0, 1.0 / 257.0
    return low, 255.0 / (high - low) if high > low else 0.0


def _block_means(values: np.ndarray, factor: int) -> np.ndarray:
    """Means of ``factor`` x ``factor`` blocks; edge blocks average the pixels they have."""
    if factor == 1:
        return values
    rows, cols = values.shape
    padded = np.pad(values, ((0, -rows % factor), (0, -cols % factor)))
    sums = padded.reshape(padded.shape[0] // factor, factor, -1, factor).sum(axis=(1, 3))
    return sums / np.outer(_block_sizes(rows, factor), _block_sizes(cols, factor))


def _block_sizes(length: int, factor: int) -> np.ndarray:
    sizes = np.full(-(-length // factor), factor, dtype=np.float64)
    sizes[-1] = length - factor * (len(sizes) - 1)
    return sizes
