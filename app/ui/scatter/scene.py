"""What the map shows, Qt-free: positions, colours, hidden classes, selection marks, and queries.

The widget owns a view and events; the scene turns (view, device pixel ratio) into a padded RGB32
frame, cached until something it depends on changes, and answers picks and lasso / box queries
against the same drawn points (hidden classes are neither drawn nor found).
"""

from __future__ import annotations

import numpy as np

from app.ui.scatter.colouring import Colouring, colouring
from app.ui.scatter.points import Layout, Points
from app.ui.scatter.polygon import points_in_box, points_in_polygon
from app.ui.scatter.raster import (
    PAD,
    Palettes,
    PixelTransform,
    Raster,
    Rasteriser,
    compose,
    disc_pixels,
    marker,
    splat,
)
from app.ui.scatter.viewport import Viewport

OUTLINED_UP_TO = 20_000  # selected points get a light outline while there are this few
SELECTION_OUTLINE = np.uint32(0xFFF4F4F4)
HIGHLIGHT_RING = np.uint32(0xFFFF4FD8)
_EMPTY = np.empty(0, dtype=np.int64)


class Scene:
    """The map's content and its rendering; every row argument is a row of the last ``xy``."""

    def __init__(self) -> None:
        self.layout = Layout.build(np.empty((0, 2)))
        self.colouring: Colouring = colouring(0)
        self.palettes = Palettes(self.colouring.palette)
        self.class_visible: np.ndarray | None = None
        self.selection = _EMPTY
        self.highlight = _EMPTY
        self.current: int | None = None
        self.last_style_radius = 0.0
        self._rasteriser = Rasteriser()
        self._points: Points | None = None
        self._slot_of_row: np.ndarray | None = None
        self._content = 0  # bumped when what the base layer draws changes
        self._marks = 0  # bumped when selection / highlight change
        self._raster: tuple[tuple, Raster] | None = None
        self._frame: tuple[tuple, np.ndarray] | None = None

    # ------------------------------------------------------------------ content
    @property
    def n(self) -> int:
        return self.layout.n

    def set_points(self, xy: np.ndarray, categories: object = None, values: object = None) -> None:
        old_n = self.n
        self.layout = Layout.build(xy)
        if self.n != old_n:
            self.selection, self.highlight, self.current = _EMPTY, _EMPTY, None
        self.set_colours(categories, values)
        self._layout_changed()

    def set_positions(self, xy: np.ndarray) -> None:
        """New positions for the same rows; colours and marks stay."""
        self.layout = self.layout.moved(xy)
        self._layout_changed()

    def set_colours(self, categories: object = None, values: object = None) -> None:
        old_names = self.colouring.names
        self.colouring = colouring(self.n, categories, values)
        self.palettes = Palettes(self.colouring.palette)
        if self.colouring.names != old_names or self.class_visible is None:
            self.class_visible = np.ones(len(self.colouring.names), dtype=bool)
        self._content_changed()

    def set_class_visibility(self, visible: np.ndarray) -> None:
        visible = np.asarray(visible, dtype=bool)
        if visible.shape != (len(self.colouring.names),):
            raise ValueError(f"expected {len(self.colouring.names)} flags, got {visible.shape}")
        self.class_visible = visible.copy()
        self._content_changed()

    def set_selection(self, rows: object) -> None:
        self.selection = self._rows(rows)
        self._marks += 1

    def set_highlight(self, rows: object) -> None:
        self.highlight = self._rows(rows)
        self._marks += 1

    def set_current(self, row: int | None) -> None:
        self.current = None if row is None or not 0 <= int(row) < self.n else int(row)

    # ------------------------------------------------------------------ derived
    def points(self) -> Points:
        """The drawn points: finite rows of classes that are not hidden."""
        if self._points is None:
            layout, codes = self.layout, self.colouring.codes[self.layout.rows]
            self._points = Points.of(layout, codes, self._shown_slots())
        return self._points

    def row_shown(self, row: int) -> bool:
        """Whether ``row`` is drawn (finite, and its class not hidden)."""
        if not 0 <= row < self.n or self._slots()[row] < 0:
            return False
        classes = self.colouring.classes
        return classes is None or bool(self.class_visible[classes[row]])

    def row_colour(self, row: int) -> int:
        """0xFFRRGGBB of ``row``'s point."""
        return int(self.palettes.colours()[self.colouring.codes[row]])

    def row_unit(self, row: int) -> tuple[float, float]:
        slot = self._slots()[row]
        return float(self.layout.x[slot]), float(self.layout.y[slot])

    def data_bounds(self) -> tuple[float, float, float, float] | None:
        return self.layout.data_bounds

    # ---------------------------------------------------------------- rendering
    def frame(self, view: Viewport, dpr: float) -> np.ndarray:
        """The padded (height, width) uint32 frame for ``view``; cached while nothing changes."""
        key = (view, dpr, self._content)
        if self._raster is None or self._raster[0] != key:
            t = PixelTransform.of(view, self.layout.frame, dpr)
            raster = self._rasteriser.points(self.points(), t, self.palettes)
            self._raster = (key, raster)
            self.last_style_radius = raster.style.radius / dpr
        frame_key = (*key, self._marks)
        if self._frame is None or self._frame[0] != frame_key:
            self._frame = (frame_key, self._compose(view, dpr, self._raster[1]))
        return self._frame[1]

    def _compose(self, view: Viewport, dpr: float, raster: Raster) -> np.ndarray:
        selected = self._shown_slots_of(self.selection)
        image = compose(raster, self.palettes, dim=len(selected) > 0)
        t = PixelTransform.of(view, self.layout.frame, dpr)
        radius = max(raster.style.radius, 1.5 * dpr)
        flat_image = image.reshape(-1)
        flat, colours = self._marks_at(selected, t)
        if len(selected) <= OUTLINED_UP_TO:
            offsets, outline = marker(radius, True, t.width)
            values = np.where(outline[None, :], SELECTION_OUTLINE, colours[:, None])
        else:
            offsets, _ = marker(raster.style.radius, False, t.width)
            values = colours[:, None]
        splat(flat_image, flat, offsets, values)
        flat, colours = self._marks_at(self._shown_slots_of(self.highlight), t)
        ring = disc_pixels(5.2 * dpr, inner=3.6 * dpr)
        splat(flat_image, flat, ring[0] * t.width + ring[1], HIGHLIGHT_RING)
        disc = marker(radius, False, t.width)[0]
        splat(flat_image, flat, disc, colours[:, None])
        return image

    def _marks_at(self, slots: np.ndarray, t: PixelTransform) -> tuple[np.ndarray, np.ndarray]:
        """Flat frame positions and colours of the given slots that fall inside the frame."""
        px, py = t.apply(self.layout.x[slots], self.layout.y[slots])
        margin = PAD - 1
        keep = (px >= margin) & (px < t.width - margin) & (py >= margin) & (py < t.height - margin)
        flat = py[keep].astype(np.intp) * t.width + px[keep].astype(np.intp)
        codes = self.colouring.codes[self.layout.rows[slots[keep]]]
        return flat, self.palettes.colours()[codes]

    # ------------------------------------------------------------------ queries
    def pick(self, view: Viewport, dpr: float, x: float, y: float, radius: float) -> int | None:
        """The drawn row nearest widget ``(x, y)`` within ``radius`` logical pixels."""
        t = PixelTransform.of(view, self.layout.frame, dpr)
        qx, qy = (x + 0.5) * dpr + PAD, (y + 0.5) * dpr + PAD
        reach = radius * dpr
        slots = self._candidates(t, (qx - reach, qx + reach), (qy - reach, qy + reach))
        points = self.points()
        px, py = t.apply(points.x[slots], points.y[slots])
        distance = (px - qx) ** 2 + (py - qy) ** 2
        if len(distance) == 0 or distance.min() > reach * reach:
            return None
        return int(points.rows[slots[int(np.argmin(distance))]])

    def rows_in_polygon(self, view: Viewport, dpr: float, polygon: np.ndarray) -> np.ndarray:
        """Sorted rows of the drawn points inside a widget-pixel polygon ((V, 2))."""
        polygon = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
        if len(polygon) < 3:
            return _EMPTY
        t = PixelTransform.of(view, self.layout.frame, dpr)
        ux, uy = t.invert((polygon[:, 0] + 0.5) * dpr + PAD, (polygon[:, 1] + 0.5) * dpr + PAD)
        slots = self._unit_candidates(ux.min(), ux.max(), uy.min(), uy.max())
        points = self.points()
        inside = points_in_polygon(points.x[slots], points.y[slots], np.column_stack([ux, uy]))
        return np.sort(points.rows[slots[inside]])

    def rows_in_box(self, view: Viewport, dpr: float, x0: float, y0: float, x1: float, y1: float):
        """Sorted rows of the drawn points inside a widget-pixel rectangle."""
        t = PixelTransform.of(view, self.layout.frame, dpr)
        ux, uy = t.invert(
            (np.array([x0, x1]) + 0.5) * dpr + PAD, (np.array([y0, y1]) + 0.5) * dpr + PAD
        )
        box = (ux.min(), ux.max(), uy.min(), uy.max())
        slots = self._unit_candidates(*box)
        points = self.points()
        inside = points_in_box(points.x[slots], points.y[slots], box)
        return np.sort(points.rows[slots[inside]])

    def _candidates(self, t: PixelTransform, xs: tuple, ys: tuple) -> np.ndarray:
        ux, uy = t.invert(np.array(xs), np.array(ys))
        return self._unit_candidates(ux.min(), ux.max(), uy.min(), uy.max())

    def _unit_candidates(self, x0: float, x1: float, y0: float, y1: float) -> np.ndarray:
        slots = self.points().in_box(x0, x1, y0, y1)
        return np.arange(len(self.points())) if slots is None else slots

    # ----------------------------------------------------------------- helpers
    def _rows(self, rows: object) -> np.ndarray:
        rows = np.unique(np.asarray(rows, dtype=np.int64).reshape(-1))
        return rows[(rows >= 0) & (rows < self.n)]

    def _slots(self) -> np.ndarray:
        if self._slot_of_row is None:
            self._slot_of_row = self.layout.slot_of_row()
        return self._slot_of_row

    def _shown_slots(self) -> np.ndarray | None:
        """Per-slot mask of shown classes, None when every class is shown."""
        classes, visible = self.colouring.classes, self.class_visible
        if classes is None or visible is None or visible.all():
            return None
        return visible[classes[self.layout.rows]]

    def _shown_slots_of(self, rows: np.ndarray) -> np.ndarray:
        """Slots of the drawn ones among ``rows``."""
        slots = self._slots()[rows]
        keep = slots >= 0
        classes = self.colouring.classes
        if classes is not None and self.class_visible is not None:
            keep &= self.class_visible[classes[rows]]
        return slots[keep]

    def _layout_changed(self) -> None:
        self._slot_of_row = None
        self._content_changed()

    def _content_changed(self) -> None:
        self._points = None
        self._content += 1
        self._marks += 1
