"""Image decoding with Sieve's guards: EXIF orientation, mode normalisation, broken-file reasons.

Everything a user's folder can hold (palette, alpha, 16-bit, CMYK, truncated, corrupt, empty,
mislabelled and decompression-bomb files) either becomes a normal 8-bit image or an
:class:`ImageError` whose message says why, never a crash. Files are only ever read.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from app.core.errors import SieveError

THUMB_SIZE = 192
THUMB_QUALITY = 85
BACKGROUND = (128, 128, 128)  # neutral grey behind transparent pixels
_TRANSPOSED_ORIENTATIONS = {5, 6, 7, 8}  # EXIF orientations that swap width and height


class ImageError(SieveError):
    """An image that cannot be used; the message is the reason shown to the user."""


@dataclass(frozen=True, slots=True)
class ImageProbe:
    """What indexing learns from one image file: its size, a thumbnail, or why it is broken."""

    width: int | None
    height: int | None
    thumbnail: bytes | None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None


def open_image(path: str | os.PathLike, draft_size: tuple[int, int] | None = None) -> Image.Image:
    """Decode an image as 8-bit ``RGB`` or ``L``, upright, with alpha composited on grey.

    ``draft_size`` lets JPEG decode at a reduced scale (DCT scaling) no smaller than the size.
    Raises :class:`ImageError` with a readable reason for every kind of bad file.
    """
    image, _ = _decode(path, draft_size)
    return image


def load_rgb(path: str | os.PathLike, draft_size: tuple[int, int] | None = None) -> Image.Image:
    """:func:`open_image`, always 3-channel RGB (what models take)."""
    image = open_image(path, draft_size)
    return image if image.mode == "RGB" else image.convert("RGB")


def probe_image(path: str | os.PathLike, thumb_size: int = THUMB_SIZE) -> ImageProbe:
    """Fully decode (at reduced scale where possible) to validate, and make the thumbnail."""
    try:
        image, (width, height) = _decode(path, (thumb_size, thumb_size))
        thumbnail = encode_thumbnail(image, thumb_size)
    except ImageError as error:
        return ImageProbe(None, None, None, str(error))
    return ImageProbe(width, height, thumbnail)


def encode_thumbnail(image: Image.Image, size: int = THUMB_SIZE) -> bytes:
    """JPEG bytes of ``image`` fitted into ``size`` x ``size`` (aspect kept)."""
    image = image.copy() if image.width > size or image.height > size else image
    image.thumbnail((size, size), Image.Resampling.BICUBIC, reducing_gap=2.0)
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=THUMB_QUALITY)
    return buffer.getvalue()


def _decode(
    path: str | os.PathLike, draft_size: tuple[int, int] | None
) -> tuple[Image.Image, tuple[int, int]]:
    """Return the normalised image and its full upright size (before any draft reduction)."""
    try:
        if os.path.getsize(path) == 0:
            raise ImageError("empty file (0 bytes)")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                size = _upright_size(image)
                if draft_size is not None and image.format == "JPEG":
                    image.draft(None, _fit(image.size, draft_size))
                image.load()
                return _normalise(image), size
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
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError) as error:
        message = str(error) or type(error).__name__
        if "truncated" in message or isinstance(error, EOFError):
            raise ImageError(f"truncated image data ({message})") from error
        raise ImageError(f"corrupt image data ({message})") from error


def _fit(size: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    """The size ``size`` takes when fitted into ``box`` with its aspect ratio kept."""
    scale = min(box[0] / size[0], box[1] / size[1], 1.0)
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _upright_size(image: Image.Image) -> tuple[int, int]:
    width, height = image.size
    orientation = image.getexif().get(0x0112, 1)
    return (height, width) if orientation in _TRANSPOSED_ORIENTATIONS else (width, height)


def _normalise(image: Image.Image) -> Image.Image:
    """Apply EXIF orientation and turn any mode into 8-bit ``RGB`` or ``L``."""
    image = ImageOps.exif_transpose(image) or image
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
        return _wide_to_8bit(image)
    return image.convert("RGB")  # CMYK, YCbCr, LAB, HSV, RGBX


def _composite(rgba: Image.Image) -> Image.Image:
    background = Image.new("RGB", rgba.size, BACKGROUND)
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def _wide_to_8bit(image: Image.Image) -> Image.Image:
    """16-bit and 32-bit single-channel images: 16-bit range scaled, others stretched."""
    values = np.asarray(image, dtype=np.float64)
    if image.mode.startswith("I;16") or (
        image.mode == "I" and values.min() >= 0 and values.max() <= 65535
    ):
        scaled = values / 257.0
    else:
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) * (255.0 / (high - low)) if high > low else values * 0
    return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8))
