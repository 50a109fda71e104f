"""The map's view: which data point sits at the widget's centre and how many pixels a unit is.

Qt-free and immutable, so a view doubles as a cache key. Both axes share one scale (a map is
not stretched) and data y grows upwards while widget y grows downwards.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

FIT_MARGIN = 0.06  # of the widget's size, left free around the data by a fit
MIN_ZOOM = 0.02  # relative to the fitted scale
MAX_ZOOM = 1e4  # float32 coordinates stay well below a pixel of error up to here


@dataclass(frozen=True)
class Viewport:
    """``scale`` logical pixels per data unit, ``(cx, cy)`` at the centre of the widget."""

    cx: float = 0.0
    cy: float = 0.0
    scale: float = 1.0
    width: int = 1
    height: int = 1
    fit_scale: float = 1.0

    @staticmethod
    def fit(bounds: tuple[float, float, float, float], width: int, height: int) -> Viewport:
        """The view that shows ``(xmin, xmax, ymin, ymax)`` whole, centred, with a margin."""
        xmin, xmax, ymin, ymax = bounds
        cx, cy = xmin / 2 + xmax / 2, ymin / 2 + ymax / 2
        half_x, half_y = xmax / 2 - xmin / 2, ymax / 2 - ymin / 2
        usable_w = max(width * (1 - 2 * FIT_MARGIN), 1.0) / 2
        usable_h = max(height * (1 - 2 * FIT_MARGIN), 1.0) / 2
        pairs = ((usable_w, half_x), (usable_h, half_y))
        finite = [usable / half for usable, half in pairs if half > 0 and usable / half > 0]
        scale = min(finite) if finite else usable_w / max(abs(cx), abs(cy), 1.0)
        return Viewport(cx, cy, scale, max(width, 1), max(height, 1), scale)

    def resized(self, width: int, height: int) -> Viewport:
        return replace(self, width=max(width, 1), height=max(height, 1))

    def panned(self, dx: float, dy: float) -> Viewport:
        """Moved with the content by ``(dx, dy)`` widget pixels (a drag)."""
        return replace(self, cx=self.cx - dx / self.scale, cy=self.cy + dy / self.scale)

    def zoomed(self, factor: float, x: float, y: float) -> Viewport:
        """Scaled by ``factor`` keeping the data point under widget ``(x, y)`` in place."""
        low, high = self.fit_scale * MIN_ZOOM, self.fit_scale * MAX_ZOOM
        scale = float(np.clip(self.scale * factor, low, high))
        ax, ay = (float(v) for v in self.to_data(x, y))
        return replace(
            self,
            scale=scale,
            cx=ax - (x - self.width / 2) / scale,
            cy=ay + (y - self.height / 2) / scale,
        )

    def to_widget(self, x: np.ndarray | float, y: np.ndarray | float) -> tuple:
        """Data -> widget coordinates (logical pixels)."""
        return (
            (np.asarray(x, dtype=np.float64) - self.cx) * self.scale + self.width / 2,
            (self.cy - np.asarray(y, dtype=np.float64)) * self.scale + self.height / 2,
        )

    def to_data(self, x: np.ndarray | float, y: np.ndarray | float) -> tuple:
        """Widget coordinates (logical pixels) -> data."""
        return (
            self.cx + (np.asarray(x, dtype=np.float64) - self.width / 2) / self.scale,
            self.cy - (np.asarray(y, dtype=np.float64) - self.height / 2) / self.scale,
        )
