"""Per-image statistics, measured at a fixed small scale from an image already decoded.

:func:`image_stats` takes a thumbnail-sized image (:func:`thumbnail_stats`: the stored
thumbnail, decoded) and costs a fraction of a millisecond (a grey copy, a few numpy reductions,
a 32 x 32 DCT). The content hash is of the file's bytes (exact duplicates); the perceptual hash
is a 64-bit DCT hash (pHash) that survives recompression and resizing (near duplicates).
"""

from __future__ import annotations

import hashlib
import io
import operator
import os
from dataclasses import dataclass

import numpy as np
from PIL import Image

STATS_SIDE = 192  # the thumbnail's size: larger images are first reduced to about this size
HASH_SIDE = 32
_HASH_BITS = 8  # the top-left 8 x 8 DCT coefficients make the 64-bit hash
_READ_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class ImageStats:
    """What one image looks like in numbers; every value is comparable across image sizes.

    ``brightness``: mean grey level, 0..1. ``contrast``: grey standard deviation, 0..0.5.
    ``colourfulness``: Hasler and Suesstrunk's measure over 255 (0 for grey images, ~0.1 for a
    plain photo). ``sharpness``: the standard deviation of the grey Laplacian relative to the grey
    standard deviation, at thumbnail scale (blur lowers it; brightness and contrast do
    not change it). ``entropy``: bits of the grey histogram at half that scale (2 x 2 means
    average out sensor noise, so a flat but noisy image stays low), 0..8. ``content_hash``:
    SHA-256 of the file's bytes (video frames: of their grey pixels). ``phash``: 64-bit
    DCT hash as a signed integer (SQLite's INTEGER).
    """

    brightness: float
    contrast: float
    colourfulness: float
    sharpness: float
    entropy: float
    content_hash: str | None
    phash: int


def image_stats(image: Image.Image, content_hash: str | None = None) -> ImageStats:
    """Measure ``image`` (8-bit RGB or L, any size; meant for the thumbnail).

    Without ``content_hash`` (video frames) the hash of the measured pixels stands in.
    """
    small = _fit(image, STATS_SIDE)
    grey_image = small if small.mode == "L" else small.convert("L")
    brightness, contrast = _mean_and_spread(grey_image)
    half = grey_image.reduce(2) if min(grey_image.size) >= 32 else grey_image
    if content_hash is None:
        content_hash = hashlib.sha256(grey_image.tobytes()).hexdigest()
    return ImageStats(
        brightness=brightness,
        contrast=contrast,
        colourfulness=colourfulness(small),
        sharpness=_sharpness(grey_image, contrast),
        entropy=_entropy(half),
        content_hash=content_hash,
        phash=phash(half),
    )


def thumbnail_stats(data: bytes, content_hash: str | None = None) -> ImageStats | None:
    """:func:`image_stats` of a stored thumbnail's JPEG bytes (None when they do not decode).

    Every image and frame is measured this way, after its thumbnail is made: the index makes
    thumbnails first, and statistics from the same bytes agree whichever job measured them.
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            small = image if image.mode in ("RGB", "L") else image.convert("RGB")
            return image_stats(small, content_hash)
    except (OSError, ValueError, SyntaxError):
        return None


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes, read in chunks (CPUs with SHA extensions hash it at ~1 GB/s,
    twice blake2b's speed)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def bytes_digest(data: bytes) -> str:
    """:func:`file_digest` of bytes already read."""
    return hashlib.sha256(data).hexdigest()


def colourfulness(image: Image.Image) -> float:
    """Hasler and Suesstrunk (2003): spread and mean of the opponent colour channels, over 255.

    The opponents' means and variances come from the channels' sums and 3 x 3 second moments.
    """
    if image.mode != "RGB":
        return 0.0
    if min(image.size) >= 32:
        image = image.reduce(4)  # 4 x 4 means: plenty for colour spread, noise averaged
    pixels = np.asarray(image, dtype=np.float64).reshape(-1, 3)
    count = len(pixels)
    red, green, blue = ((np.ones(count) @ pixels) / count).tolist()
    moments = ((pixels.T @ pixels) / count).tolist()
    rr, gg, bb = (moments[0][0] - red * red, moments[1][1] - green * green, moments[2][2] - blue**2)
    rg, rb, gb = (
        moments[0][1] - red * green,
        moments[0][2] - red * blue,
        moments[1][2] - green * blue,
    )
    red_green = max(0.0, rr + gg - 2 * rg)  # variance of red - green
    yellow_blue = max(0.0, 0.25 * (rr + gg + 2 * rg) + bb - rb - gb)  # of (red + green) / 2 - blue
    spread = (red_green + yellow_blue) ** 0.5
    mean = ((red - green) ** 2 + (0.5 * (red + green) - blue) ** 2) ** 0.5
    return (spread + 0.3 * mean) / 255.0


def phash(grey: Image.Image) -> int:
    """64-bit perceptual hash: signs of the 8 x 8 lowest DCT frequencies against their median."""
    pixels = np.asarray(grey.resize((HASH_SIDE, HASH_SIDE), Image.Resampling.BOX), np.float32)
    low = (_DCT_LOW @ pixels @ _DCT_LOW.T).ravel()
    middle = (len(low) - 1) // 2  # 63 values after the first: the median is one of them
    bits = low > np.partition(low[1:], middle)[middle]
    value = int(np.packbits(bits).view(">u8")[0])
    return value - (1 << 64) if value >= 1 << 63 else value


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bit differences between 64-bit hashes (any integer dtype, broadcast)."""
    x = np.bitwise_xor(np.asarray(a).astype(np.int64), np.asarray(b).astype(np.int64))
    return np.bitwise_count(x.view(np.uint64)).astype(np.int64)


def _fit(image: Image.Image, side: int) -> Image.Image:
    """``image`` reduced by a whole factor (box filter, cheap) to at most 1.5 x ``side``."""
    factor = int(np.ceil(max(image.size) / (1.5 * side)))
    return image if factor <= 1 else image.reduce(factor)


def _sharpness(grey_image: Image.Image, contrast: float) -> float:
    """Standard deviation of the 4-neighbour Laplacian (0..1 grey) over ``contrast``.

    The Laplacian is summed in int16 (exact: -1020..1020), then its spread comes from a sum and
    a dot product (BLAS: no interpreter lock held) rather than ``std``'s five passes.
    """
    if grey_image.width < 3 or grey_image.height < 3:
        return 0.0
    grey = np.asarray(grey_image).astype(np.int16)
    laplacian = grey[:-2, 1:-1] + grey[2:, 1:-1]
    laplacian += grey[1:-1, :-2]
    laplacian += grey[1:-1, 2:]
    laplacian -= grey[1:-1, 1:-1] << 2
    values = laplacian.astype(np.float32).ravel()
    mean = float(values.sum(dtype=np.float64)) / values.size
    variance = max(0.0, float(values @ values) / values.size - mean * mean)
    return variance**0.5 / 255.0 / (contrast + 2.0 / 255.0)


def _mean_and_spread(grey: Image.Image) -> tuple[float, float]:
    """Mean and standard deviation of the grey levels (0..1), from the histogram (exact integer
    sums: 256 values are summed faster in Python than converted to numpy)."""
    counts = grey.histogram()
    total = sum(counts)
    mean = sum(map(operator.mul, counts, _LEVELS)) / total
    variance = max(0.0, sum(map(operator.mul, counts, _LEVELS_SQUARED)) / total - mean * mean)
    return mean / 255.0, variance**0.5 / 255.0


def _entropy(grey: Image.Image) -> float:
    """Bits of the grey histogram (Pillow's own, in C: the same sum as numpy's, 4x faster)."""
    return float(grey.entropy())


def _dct_matrix(size: int) -> np.ndarray:
    rows = np.arange(size)[:, None]
    cols = np.arange(size)[None, :]
    matrix = np.cos(np.pi * (2 * cols + 1) * rows / (2 * size)) * np.sqrt(2.0 / size)
    matrix[0] /= np.sqrt(2.0)
    return matrix.astype(np.float32)


_DCT_LOW = np.ascontiguousarray(_dct_matrix(HASH_SIDE)[:_HASH_BITS])
_LEVELS = range(256)
_LEVELS_SQUARED = [level * level for level in _LEVELS]
