"""Colour-by for the map: per-row palette codes, the palette, and what the legend shows.

Qt-free. A colouring is computed once per colour-by switch; the renderer only looks palette
codes up in small tables, so switching never touches a Python object per point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BACKGROUND = 0x1E1E22
MISSING = 0x74747C  # a value that is NaN / not finite
UNIFORM = 0x5AA9E6  # every point, when nothing is coloured by
CATEGORICAL = (  # Tableau 20, strong shades first: distinct on a dark background
    0x4E79A7, 0xF28E2B, 0x59A14F, 0xE15759, 0xB07AA1, 0xEDC948, 0x76B7B2, 0xFF9DA7,
    0x9C755F, 0xBAB0AC, 0xA0CBE8, 0xFFBE7D, 0x8CD17D, 0xFF8A8C, 0xD4A6C8, 0xF1CE63,
    0x86BCB6, 0xFABFD2, 0xD7B5A6, 0x79706E,
)  # fmt: skip
VIRIDIS = (  # viridis from 0.15 up: its darkest purples vanish on a dark background
    0x472D7B, 0x3B528B, 0x2C728E, 0x21908D, 0x27AD81, 0x5DC863, 0xAADC32, 0xFDE725,
)  # fmt: skip
RAMP = 256  # continuous codes 0..255; code 256 is "missing"


@dataclass(frozen=True)
class Colouring:
    """Per-row palette codes and the palette (0xRRGGBB) they index.

    ``classes``: per-row class code (int32) when coloured or grouped by category, else None;
    ``names`` / ``counts``: one entry per class. ``value_range``: (low, high) of the finite
    values for a continuous colouring; ``missing``: how many rows have no value.
    """

    codes: np.ndarray
    palette: np.ndarray
    classes: np.ndarray | None = None
    names: tuple[str, ...] = ()
    counts: np.ndarray | None = None
    class_colours: np.ndarray | None = None
    value_range: tuple[float, float] | None = None
    missing: int = 0

    @property
    def continuous(self) -> bool:
        return self.value_range is not None


def class_palette(count: int) -> np.ndarray:
    """``count`` distinct colours: Tableau 20, then golden-angle hues."""
    base = np.array(CATEGORICAL, dtype=np.uint32)
    if count <= len(base):
        return base[:count].copy()
    extra = count - len(base)
    hue = (np.arange(extra) * 0.618034 + 0.11) % 1.0
    return np.concatenate([base, _hsv(hue, 0.55, 0.92)])


def ramp_palette() -> np.ndarray:
    """256 viridis shades then the "missing" grey (257 entries)."""
    anchors = np.array(VIRIDIS, dtype=np.uint32)
    rgb = np.stack([(anchors >> shift) & 0xFF for shift in (16, 8, 0)], axis=1).astype(float)
    at = np.linspace(0.0, 1.0, len(anchors))
    t = np.linspace(0.0, 1.0, RAMP)
    channels = [np.interp(t, at, rgb[:, c]).round().astype(np.uint32) for c in range(3)]
    ramp = (channels[0] << 16) | (channels[1] << 8) | channels[2]
    return np.append(ramp, np.uint32(MISSING)).astype(np.uint32)


def colouring(n: int, categories: object = None, values: object = None) -> Colouring:
    """Colours by ``values`` when given, else by ``categories``, else one colour.

    Categories still define the classes (legend, hide / show) when values colour the points.
    """
    classes = names = counts = class_colours = None
    if categories is not None:
        classes, names, counts = _classes(categories, n)
        class_colours = class_palette(len(names))
    if values is not None:
        return _continuous(values, n, classes, names, counts, class_colours)
    if classes is not None:
        return Colouring(
            codes=classes.astype(np.uint16 if len(names) < 32000 else np.uint32),
            palette=class_colours,
            classes=classes,
            names=names,
            counts=counts,
            class_colours=class_colours,
        )
    return Colouring(np.zeros(n, np.uint16), np.array([UNIFORM], dtype=np.uint32))


def _classes(categories: object, n: int) -> tuple[np.ndarray, tuple[str, ...], np.ndarray]:
    array = np.asarray(categories)
    if array.shape != (n,):
        raise ValueError(f"categories must have shape ({n},), not {array.shape}")
    uniques, inverse = np.unique(array, return_inverse=True)
    classes = inverse.reshape(-1).astype(np.int32)
    counts = np.bincount(classes, minlength=len(uniques))
    return classes, tuple(str(name) for name in uniques.tolist()), counts


def _continuous(
    values: object,
    n: int,
    classes: np.ndarray | None,
    names: tuple[str, ...] | None,
    counts: np.ndarray | None,
    class_colours: np.ndarray | None,
) -> Colouring:
    array = np.asarray(values, dtype=np.float64)
    if array.shape != (n,):
        raise ValueError(f"values must have shape ({n},), not {array.shape}")
    finite = np.isfinite(array)
    codes = np.full(n, RAMP, dtype=np.uint16)
    low = high = 0.0
    if finite.any():
        known = array[finite]
        low, high = float(known.min()), float(known.max())
        half = high / 2 - low / 2  # never overflows, even for +-1e308
        if half > 0:
            t = (known / 2 - low / 2) / half * (RAMP - 1)
            codes[finite] = np.clip(np.rint(t), 0, RAMP - 1).astype(np.uint16)
        else:
            codes[finite] = RAMP // 2
    return Colouring(
        codes=codes,
        palette=ramp_palette(),
        classes=classes,
        names=names or (),
        counts=counts,
        class_colours=class_colours,
        value_range=(low, high),
        missing=int(n - finite.sum()),
    )


def _hsv(hue: np.ndarray, saturation: float, value: float) -> np.ndarray:
    """0xRRGGBB for hues in [0, 1) at one saturation and value."""
    i = np.floor(hue * 6).astype(int) % 6
    f = hue * 6 - np.floor(hue * 6)
    p, q, t = (
        value * (1 - saturation),
        value * (1 - f * saturation),
        value * (1 - (1 - f) * saturation),
    )
    v = np.full_like(f, value)
    r = np.choose(i, [v, q, p, p, t, v])
    g = np.choose(i, [t, v, v, q, p, p])
    b = np.choose(i, [p, p, t, v, v, q])
    channels = [np.rint(c * 255).astype(np.uint32) for c in (r, g, b)]
    return (channels[0] << 16) | (channels[1] << 8) | channels[2]
