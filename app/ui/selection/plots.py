"""The two result plots: coverage as the subset grows, and class shares of subset vs pool."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QComboBox, QVBoxLayout, QWidget

from app.core.selection.coverage import Coverage
from app.ui.theme import ACCENT

RANDOM_COLOUR = QColor(160, 164, 170)
POOL_COLOUR = QColor(110, 114, 122)
MAX_CLASSES = 20
OTHER = "other"


def _styled_plot(palette: QPalette) -> pg.PlotWidget:
    """A PlotWidget drawn in the widget palette's colours (dark or light)."""
    plot = pg.PlotWidget(background=palette.color(QPalette.ColorRole.Base))
    text = palette.color(QPalette.ColorRole.Text)
    item = plot.getPlotItem()
    item.hideButtons()
    item.setMenuEnabled(False)
    for name in ("left", "bottom"):
        axis = item.getAxis(name)
        axis.setPen(pg.mkPen(palette.color(QPalette.ColorRole.Mid)))
        axis.setTextPen(pg.mkPen(text))
    plot.setMinimumHeight(160)
    return plot


class CoveragePlot(QWidget):
    """Mean distance to the nearest pick vs subset size (log x): the selection and random."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = _styled_plot(self.palette())
        item = self.plot.getPlotItem()
        item.setLogMode(x=True, y=False)
        item.setLabel("bottom", "subset size")
        item.setLabel("left", "mean distance to nearest pick")
        item.showGrid(x=True, y=True, alpha=0.15)
        self.legend = item.addLegend(offset=(-10, 10))
        self.legend.setLabelTextColor(self.palette().color(QPalette.ColorRole.Text))
        self.selected = item.plot(
            [],
            [],
            pen=pg.mkPen(ACCENT, width=2),
            symbol="o",
            symbolSize=5,
            symbolBrush=ACCENT,
            symbolPen=None,
            name="this selection",
        )
        self.random = item.plot(
            [],
            [],
            pen=pg.mkPen(RANDOM_COLOUR, width=2, style=Qt.PenStyle.DashLine),
            name="random (mean)",
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)

    def set_coverage(self, coverage: Coverage | None) -> None:
        if coverage is None or not len(coverage.sizes):
            self.selected.setData([], [])
            self.random.setData([], [])
            return
        sizes = coverage.sizes.astype(np.float64)
        known = ~np.isnan(coverage.random)
        self.selected.setData(sizes, coverage.selected)
        self.random.setData(sizes[known], coverage.random[known])
        self.legend.clear()
        self.legend.addItem(self.selected, "this selection")
        self.legend.addItem(self.random, f"random (mean of {coverage.random_seeds})")
        self.plot.getPlotItem().getAxis("bottom").setTicks([log_ticks(int(sizes[-1]))])
        self.plot.getPlotItem().enableAutoRange()


def log_ticks(largest: int) -> list[tuple[float, str]]:
    """Ticks at 1, 2, 5, 10, 20, 50, ... up to ``largest``, placed for a log10 axis."""
    ticks, decade = [], 1
    while decade <= largest:
        for step in (1, 2, 5):
            value = step * decade
            if value <= largest:
                ticks.append((float(np.log10(value)), f"{value:,}"))
        decade *= 10
    return ticks


class ClassBars(QWidget):
    """Share of each class (label or folder) in the subset, next to its share in the pool."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.by = QComboBox()
        self.by.addItem("by label", "label")
        self.by.addItem("by folder", "folder")
        self.by.setToolTip("Group the samples by label or by top-level folder")
        self.plot = _styled_plot(self.palette())
        item = self.plot.getPlotItem()
        item.setLabel("left", "share of samples (%)")
        item.showGrid(x=False, y=True, alpha=0.15)
        item.setMouseEnabled(x=False, y=False)
        self.legend = item.addLegend(offset=(-10, 10))
        self.legend.setLabelTextColor(self.palette().color(QPalette.ColorRole.Text))
        self.pool_bars = pg.BarGraphItem(
            x=[], height=[], width=0.38, brush=POOL_COLOUR, pen=None, name="pool"
        )
        self.subset_bars = pg.BarGraphItem(
            x=[], height=[], width=0.38, brush=ACCENT, pen=None, name="selection"
        )
        item.addItem(self.pool_bars)
        item.addItem(self.subset_bars)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.by, 0, Qt.AlignmentFlag.AlignRight)
        layout.addWidget(self.plot, 1)
        self._pool: Mapping[str, Mapping[str, int]] = {}
        self._subset: Mapping[str, Mapping[str, int]] = {}
        self.classes: list[str] = []
        self.by.currentIndexChanged.connect(self._draw)

    def set_counts(
        self, pool: Mapping[str, Mapping[str, int]], subset: Mapping[str, Mapping[str, int]]
    ) -> None:
        """Per grouping (``label``, ``folder``): class -> count, for the pool and the subset."""
        self._pool, self._subset = pool, subset
        self._draw()

    def _draw(self, *_: object) -> None:
        by = self.by.currentData()
        pool, subset = self._pool.get(by, {}), self._subset.get(by, {})
        self.classes, pool_share, subset_share = shares(pool, subset)
        x = np.arange(len(self.classes), dtype=np.float64)
        self.pool_bars.setOpts(x=x - 0.2, height=pool_share)
        self.subset_bars.setOpts(x=x + 0.2, height=subset_share)
        axis = self.plot.getPlotItem().getAxis("bottom")
        axis.setTicks([list(enumerate(self.classes))])
        item = self.plot.getPlotItem()
        top = max([*pool_share, *subset_share, 1.0])
        item.setXRange(-0.6, max(len(self.classes), 1) - 0.4, padding=0)
        item.setYRange(0, top * 1.15, padding=0)


def shares(
    pool: Mapping[str, int], subset: Mapping[str, int], limit: int = MAX_CLASSES
) -> tuple[list[str], list[float], list[float]]:
    """Classes (the pool's largest ``limit - 1``, then "other") with their % in pool and subset."""
    names = sorted(set(pool) | set(subset), key=lambda c: (-pool.get(c, 0), c))
    if len(names) > limit:
        names = [*names[: limit - 1], OTHER]
    pool_total = max(sum(pool.values()), 1)
    subset_total = max(sum(subset.values()), 1)
    shown = set(names) - {OTHER}

    def share(counts: Mapping[str, int], name: str, total: int) -> float:
        if name == OTHER and name not in shown:
            value = sum(v for c, v in counts.items() if c not in shown)
        else:
            value = counts.get(name, 0)
        return 100.0 * value / total

    return (
        names,
        [share(pool, name, pool_total) for name in names],
        [share(subset, name, subset_total) for name in names],
    )
