"""Point positions in draw order, indexed by a uniform grid: the map's spatial index.

Qt-free. Positions are stored as float32 in a per-axis frame that maps the data onto [-1, 1]
(huge or far-off coordinates keep their precision). Points are shuffled once, then stably
sorted by grid cell: the cells become contiguous runs (a box query is a few slices), memory
access while rasterising stays local, and the point drawn last in a pixel is a random one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GRID_MAX = 256  # cells per axis; cell ids then fit uint16, which numpy sorts by radix
POINTS_PER_CELL = 8
FULL_PASS_FROM = 0.5  # a box query holding more than this share of points returns "all"
_SEED = 7


@dataclass(frozen=True)
class Frame:
    """Per-axis ``centre`` and ``half`` extent: data -> unit coordinates in [-1, 1]."""

    centre: np.ndarray
    half: np.ndarray

    @staticmethod
    def around(low: tuple[float, float], high: tuple[float, float]) -> Frame:
        """The frame of the box ``low`` .. ``high`` (a zero extent counts as one unit)."""
        low, high = np.asarray(low, np.float64), np.asarray(high, np.float64)
        half = high / 2 - low / 2  # no overflow for coordinates near the float64 limit
        return Frame(low / 2 + high / 2, np.where(half > 0, half, 1.0))

    def to_unit(self, x: np.ndarray | float, y: np.ndarray | float) -> tuple:
        return (
            (np.asarray(x, np.float64) - self.centre[0]) / self.half[0],
            (np.asarray(y, np.float64) - self.centre[1]) / self.half[1],
        )

    def bounds(self) -> tuple[float, float, float, float]:
        (cx, cy), (hx, hy) = self.centre, self.half
        return float(cx - hx), float(cx + hx), float(cy - hy), float(cy + hy)


@dataclass(frozen=True)
class Layout:
    """The finite rows of an (N, 2) array in draw order, with their unit coordinates."""

    n: int
    rows: np.ndarray  # int64, the original row of each slot
    x: np.ndarray  # float32 unit coordinates
    y: np.ndarray
    cells: np.ndarray  # uint16 / int32 grid cell of each slot, ascending
    grid: int
    frame: Frame
    data_bounds: tuple[float, float, float, float] | None
    shuffled: np.ndarray  # the finite rows in random order, reused when points move

    @staticmethod
    def build(xy: np.ndarray, shuffled: np.ndarray | None = None) -> Layout:
        """Lays out ``xy`` (rows with a NaN or inf are left out)."""
        xy = np.asarray(xy, dtype=np.float64)
        if xy.ndim != 2 or xy.shape[1] != 2:
            raise ValueError(f"positions must have shape (N, 2), not {xy.shape}")
        x, y = xy[:, 0], xy[:, 1]
        finite = np.isfinite(x)
        finite &= np.isfinite(y)
        count = int(np.count_nonzero(finite))
        reuse = shuffled is not None and len(shuffled) == count
        if not (reuse and (count == len(xy) or finite[shuffled].all())):
            shuffled = np.random.default_rng(_SEED).permutation(np.flatnonzero(finite))
        kx, ky = x[shuffled], y[shuffled]
        bounds, frame = None, Frame(np.zeros(2), np.ones(2))
        if count:
            low, high = (float(kx.min()), float(ky.min())), (float(kx.max()), float(ky.max()))
            bounds, frame = (low[0], high[0], low[1], high[1]), Frame.around(low, high)
        ux, uy = frame.to_unit(kx, ky)
        grid = int(np.clip(np.sqrt(count / POINTS_PER_CELL), 1, GRID_MAX))
        cells = cell_of(ux, uy, grid)
        order = np.argsort(cells, kind="stable")
        return Layout(
            n=len(xy),
            rows=shuffled[order],
            x=ux.astype(np.float32)[order],
            y=uy.astype(np.float32)[order],
            cells=cells[order],
            grid=grid,
            frame=frame,
            data_bounds=bounds,
            shuffled=shuffled,
        )

    def moved(self, xy: np.ndarray) -> Layout:
        """The same rows at new positions, in the same random order where rows stay finite."""
        if len(xy) != self.n:
            raise ValueError(f"positions must keep {self.n} rows, not {len(xy)}")
        return Layout.build(xy, self.shuffled)

    def slot_of_row(self) -> np.ndarray:
        """Slot of every row (-1 for rows left out)."""
        slots = np.full(self.n, -1, dtype=np.int64)
        slots[self.rows] = np.arange(len(self.rows))
        return slots


@dataclass(frozen=True)
class Points:
    """The drawn subset of a layout (hidden classes left out), with its cell runs."""

    x: np.ndarray
    y: np.ndarray
    rows: np.ndarray
    codes: np.ndarray
    starts: np.ndarray  # slots of cell c are starts[c]:starts[c + 1]
    grid: int

    @staticmethod
    def of(layout: Layout, codes: np.ndarray, shown: np.ndarray | None = None) -> Points:
        """``codes``: per-slot palette codes; ``shown``: per-slot mask, None for all."""
        x, y, rows, cells = layout.x, layout.y, layout.rows, layout.cells
        if shown is not None and not shown.all():
            x, y, rows, codes, cells = x[shown], y[shown], rows[shown], codes[shown], cells[shown]
        counts = np.bincount(cells, minlength=layout.grid * layout.grid)
        starts = np.concatenate([[0], np.cumsum(counts)])
        return Points(x, y, rows, codes, starts, layout.grid)

    def __len__(self) -> int:
        return len(self.x)

    def in_box(self, x0: float, x1: float, y0: float, y1: float) -> np.ndarray | None:
        """Slots in the cells that meet the unit-coordinate box; None for "all" (most of them).

        Candidates only: callers test the exact positions.
        """
        if x1 < -1 or x0 > 1 or y1 < -1 or y0 > 1 or len(self) == 0:
            return np.empty(0, dtype=np.int64)
        g = self.grid
        (cx0, cx1), (cy0, cy1) = (_cell_range(a, b, g) for a, b in ((x0, x1), (y0, y1)))
        if cx0 == 0 and cy0 == 0 and cx1 == g - 1 and cy1 == g - 1:
            return None
        row_first = np.arange(cy0, cy1 + 1) * g
        begin = self.starts[row_first + cx0]
        lengths = self.starts[row_first + cx1 + 1] - begin
        total = int(lengths.sum())
        if total > len(self) * FULL_PASS_FROM:
            return None
        shift = np.repeat(begin - (np.cumsum(lengths) - lengths), lengths)
        return np.arange(total, dtype=np.int64) + shift


def cell_of(ux: np.ndarray, uy: np.ndarray, grid: int) -> np.ndarray:
    """Grid cell id (row-major) of unit coordinates."""
    dtype = np.uint16 if grid * grid <= 65536 else np.int32
    cx = np.clip((ux + 1) * (grid / 2), 0, grid - 1).astype(np.int32)
    cy = np.clip((uy + 1) * (grid / 2), 0, grid - 1).astype(np.int32)
    cy *= grid
    cy += cx
    return cy.astype(dtype)


def _cell_range(low: float, high: float, grid: int) -> tuple[int, int]:
    first = int(np.clip(np.floor((low + 1) * grid / 2), 0, grid - 1))
    last = int(np.clip(np.floor((high + 1) * grid / 2), 0, grid - 1))
    return first, last
