"""Which points lie inside a polygon (even-odd rule), vectorised with numpy.

The points are sorted by y once; each edge then only touches the points in its y band, found
by binary search, so the cost follows how many edges cross each point's row, not
points x vertices.
"""

from __future__ import annotations

import numpy as np


def points_in_polygon(x: np.ndarray, y: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Mask of the points ``(x, y)`` inside ``polygon`` ((V, 2) vertices, closed implicitly)."""
    polygon = np.asarray(polygon, dtype=np.float64)
    inside = np.zeros(len(x), dtype=bool)
    if len(polygon) < 3 or len(x) == 0:
        return inside
    order = np.argsort(y, kind="stable")
    xs, ys = np.asarray(x, np.float64)[order], np.asarray(y, np.float64)[order]
    x1, y1 = polygon[:, 0], polygon[:, 1]
    x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
    # a point at height y crosses the edge's row when min(y1, y2) <= y < max(y1, y2)
    begin = np.searchsorted(ys, np.minimum(y1, y2), side="left")
    end = np.searchsorted(ys, np.maximum(y1, y2), side="left")
    flips = np.zeros(len(x), dtype=bool)
    for edge in np.flatnonzero(end > begin):
        a, b = begin[edge], end[edge]
        slope = (x2[edge] - x1[edge]) / (y2[edge] - y1[edge])
        crossing = x1[edge] + (ys[a:b] - y1[edge]) * slope
        flips[a:b] ^= xs[a:b] < crossing
    inside[order] = flips
    return inside


def points_in_box(
    x: np.ndarray, y: np.ndarray, box: tuple[float, float, float, float]
) -> np.ndarray:
    """Mask of the points inside ``(x0, x1, y0, y1)`` (edges included)."""
    x0, x1, y0, y1 = box
    return (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
