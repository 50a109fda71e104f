"""Rasterises points into an RGB32 frame with numpy: a few vectorised passes, no per-point objects.

The frame is padded by ``PAD`` pixels on each side so markers that cross the widget's edge stay
whole and no write needs bounds checks. Points land in a palette-index buffer (the last point
drawn in a pixel wins; the draw order is random); when many points are visible they are single
pixels whose alpha grows with the log of the pixel's count (a density view), fewer points get
small discs, the fewest with a dark edge. Palette tables turn indices into colours.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from app.ui.scatter.colouring import BACKGROUND
from app.ui.scatter.points import Frame, Points
from app.ui.scatter.viewport import Viewport

PAD = 10
LEVELS = 8  # density alpha steps for single-pixel points
FULL_AT = 32  # points in one pixel that draw it at full colour
SINGLE_ALPHA = 0.5  # alpha of a lone single-pixel point
DIM = 0.45  # how much of the colour unselected points keep while there is a selection


@dataclass(frozen=True)
class Style:
    """How points are drawn while at least ``from_visible`` of them are in the frame."""

    from_visible: int
    radius: float  # 0: single pixels with density alpha
    edge: bool


STYLES = (Style(150_000, 0.0, False), Style(30_000, 1.0, False), Style(3_000, 1.5, False))
SPARSE = Style(0, 2.3, True)


@dataclass(frozen=True)
class PixelTransform:
    """Unit coordinates -> padded-frame physical pixels: ``(u - origin) * gain + offset``."""

    origin: tuple[float, float]
    gain: tuple[float, float]
    offset: tuple[float, float]
    width: int  # padded frame size in physical pixels
    height: int
    dpr: float

    @staticmethod
    def of(view: Viewport, frame: Frame, dpr: float) -> PixelTransform:
        (cx, cy), (hx, hy) = frame.centre, frame.half
        width, height = round(view.width * dpr), round(view.height * dpr)
        return PixelTransform(
            origin=((view.cx - cx) / hx, (view.cy - cy) / hy),
            gain=(hx * view.scale * dpr, -hy * view.scale * dpr),
            offset=(width / 2 + PAD, height / 2 + PAD),
            width=width + 2 * PAD,
            height=height + 2 * PAD,
            dpr=dpr,
        )

    def apply(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Physical padded-frame pixels of unit coordinates (float64, for small sets)."""
        return (
            (np.asarray(x, np.float64) - self.origin[0]) * self.gain[0] + self.offset[0],
            (np.asarray(y, np.float64) - self.origin[1]) * self.gain[1] + self.offset[1],
        )

    def invert(self, px: np.ndarray, py: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Unit coordinates of physical padded-frame pixels."""
        return (
            (np.asarray(px, np.float64) - self.offset[0]) / self.gain[0] + self.origin[0],
            (np.asarray(py, np.float64) - self.offset[1]) / self.gain[1] + self.origin[1],
        )

    def unit_box(self, margin: float) -> tuple[float, float, float, float]:
        """The unit-coordinate box of the padded frame, grown by ``margin`` pixels."""
        xs, ys = self.invert(
            np.array([-margin, self.width + margin]), np.array([-margin, self.height + margin])
        )
        return float(xs.min()), float(xs.max()), float(ys.min()), float(ys.max())


@dataclass(frozen=True)
class Raster:
    """Colour-table keys (palette entry x LEVELS + density level) of one padded frame."""

    keys: np.ndarray  # (width * height,)
    style: Style
    drawn: int
    width: int
    height: int


class Palettes:
    """Colour tables for one colouring: ``table(dim)[entry * LEVELS + level]`` is 0xFFRRGGBB.

    Entries are the palette's colours, then their dark edges, then the background.
    """

    def __init__(self, palette: np.ndarray) -> None:
        self.count = len(palette)
        self.background = 2 * self.count
        size = (2 * self.count + 1) * LEVELS
        self.dtype = np.uint16 if size <= 65536 else np.uint32
        self._palette = palette.astype(np.uint32)
        self._tables: dict[bool, np.ndarray] = {}

    def colours(self) -> np.ndarray:
        """0xFFRRGGBB of each palette entry at full strength."""
        return self._palette | np.uint32(0xFF000000)

    def table(self, dim: bool) -> np.ndarray:
        if dim not in self._tables:
            self._tables[dim] = self._build(DIM if dim else 1.0)
        return self._tables[dim]

    def _build(self, strength: float) -> np.ndarray:
        rgb = _channels(self._palette)
        background = _channels(np.array([BACKGROUND], dtype=np.uint32))
        colours = np.concatenate([rgb, rgb * 0.45, background])
        alpha = np.linspace(SINGLE_ALPHA, 1.0, LEVELS)[None, :, None] * strength
        blended = colours[:, None] * alpha + background[None] * (1 - alpha)
        return _pack(blended.reshape(-1, 3))


class Rasteriser:
    """Draws points into padded frames, reusing its work buffers between frames."""

    def __init__(self) -> None:
        self._buffers: dict[str, np.ndarray] = {}
        levels = np.floor(np.log2(np.arange(1, 257)) / np.log2(FULL_AT) * (LEVELS - 1))
        self._level_of_count = np.concatenate([[0], np.minimum(levels, LEVELS - 1)]).astype(
            np.uint16
        )

    def points(self, points: Points, t: PixelTransform, palettes: Palettes) -> Raster:
        """Every point of ``points`` that falls in the frame."""
        size = t.width * t.height
        keys = np.full(size + 1, palettes.background * LEVELS, dtype=palettes.dtype)
        candidates = points.in_box(*t.unit_box(PAD))
        x, y, codes = points.x, points.y, points.codes
        if candidates is not None:
            x, y, codes = x[candidates], y[candidates], codes[candidates]
        margin = PAD - 1
        ix = self._pixels("ix", x, t.gain[0], t.offset[0] - t.origin[0] * t.gain[0] - margin)
        iy = self._pixels("iy", y, t.gain[1], t.offset[1] - t.origin[1] * t.gain[1] - margin)
        outside = ix.view(np.uint32) >= t.width - 2 * margin  # negatives wrap to huge
        outside |= iy.view(np.uint32) >= t.height - 2 * margin
        flat = iy
        flat *= t.width
        flat += ix
        flat += margin * t.width + margin
        drawn = len(flat) - int(np.count_nonzero(outside))
        style = next((s for s in STYLES if drawn >= s.from_visible), SPARSE)
        style = Style(style.from_visible, style.radius * t.dpr, style.edge)
        if style.radius == 0:
            np.copyto(flat, size, where=outside)  # the spare last pixel takes them
            flat = flat.astype(np.intp)
            keys[flat] = codes.astype(palettes.dtype) * LEVELS
            counts = np.bincount(flat, minlength=size + 1)[:size]
            keys[:size] += np.take(self._level_of_count, counts, mode="clip")
        else:
            inside = np.flatnonzero(~outside)
            flat, codes = flat[inside].astype(np.intp), codes[inside].astype(palettes.dtype)
            offsets, is_edge = marker(style.radius, style.edge, t.width)
            if style.edge:  # per point: its dark rim, then its disc
                codes = codes[:, None] + np.where(is_edge, palettes.count, 0).astype(codes.dtype)
            splat(keys, flat, offsets, codes * LEVELS + (LEVELS - 1))
        return Raster(keys[:size], style, drawn, t.width, t.height)

    def _pixels(self, name: str, u: np.ndarray, gain: float, offset: float) -> np.ndarray:
        """``int(u * gain + offset)`` into a reused buffer (float32 maths, like the storage)."""
        scratch = self._buffer(f"{name}_f", len(u), np.float32)
        np.multiply(u, np.float32(gain), out=scratch)
        scratch += np.float32(offset)
        out = self._buffer(name, len(u), np.int32)
        np.copyto(out, scratch, casting="unsafe")
        return out

    def _buffer(self, name: str, length: int, dtype: type) -> np.ndarray:
        buffer = self._buffers.get(name)
        if buffer is None or len(buffer) < length:
            buffer = self._buffers[name] = np.empty(max(length, 1024), dtype=dtype)
        return buffer[:length]


def compose(raster: Raster, palettes: Palettes, dim: bool) -> np.ndarray:
    """The frame as (height, width) uint32 0xFFRRGGBB."""
    return palettes.table(dim).take(raster.keys).reshape(raster.height, raster.width)


def splat(target: np.ndarray, flat: np.ndarray, offsets: np.ndarray, values: np.ndarray) -> None:
    """Writes ``values`` ((n, k), (n, 1) or a scalar) at ``flat[i] + offsets[j]``.

    Per-point values go offset by offset (cheap); per-pixel ones point by point, so one
    point's marker (an edge, then its disc) is whole before the next point covers it.
    """
    if len(flat) == 0:
        return
    values = np.asarray(values)
    if values.ndim == 2 and values.shape[1] > 1:
        where = (flat[:, None] + offsets[None, :]).ravel()
        target[where] = values.ravel()
        return
    values = values.reshape(-1) if values.ndim else values
    for offset in offsets.tolist():
        target[flat + offset] = values


@lru_cache(maxsize=32)
def marker(radius: float, edge: bool, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat offsets of a disc (after its one-pixel dark edge, if any) and which are edge."""
    disc = disc_pixels(radius)
    if not edge:
        return disc[0] * width + disc[1], np.zeros(len(disc[0]), dtype=bool)
    rim = disc_pixels(radius + 1.0)
    offsets = np.concatenate([rim[0] * width + rim[1], disc[0] * width + disc[1]])
    return offsets, np.arange(len(offsets)) < len(rim[0])


@lru_cache(maxsize=32)
def disc_pixels(radius: float, inner: float = -1.0) -> tuple[np.ndarray, np.ndarray]:
    """(dy, dx) of the pixels within ``radius`` of a pixel (and beyond ``inner``: a ring)."""
    r = int(np.ceil(radius))
    dy, dx = np.mgrid[-r : r + 1, -r : r + 1]
    distance = np.hypot(dx, dy)
    keep = (distance <= radius + 0.15) & (distance > inner)
    return dy[keep].astype(np.intp), dx[keep].astype(np.intp)


def _channels(colours: np.ndarray) -> np.ndarray:
    return np.stack([(colours >> s) & 0xFF for s in (16, 8, 0)], axis=-1).astype(np.float64)


def _pack(rgb: np.ndarray) -> np.ndarray:
    c = np.clip(np.rint(rgb), 0, 255).astype(np.uint32)
    return np.uint32(0xFF000000) | (c[..., 0] << 16) | (c[..., 1] << 8) | c[..., 2]
