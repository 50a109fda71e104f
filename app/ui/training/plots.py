"""Small pyqtgraph plots themed to the application palette."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication

LOSS_COLOUR = (90, 160, 235)
LR_COLOUR = (230, 170, 60)
STD_COLOUR = (120, 200, 120)
KNN_COLOUR = (200, 120, 220)
WARNING_COLOUR = (255, 107, 107)


def themed_plot(title: str, x_label: str, y_label: str = "") -> pg.PlotWidget:
    """A PlotWidget on the palette's base colour with the palette's text colour."""
    palette = QApplication.palette()
    background = palette.color(QPalette.ColorRole.Base)
    foreground = palette.color(QPalette.ColorRole.Text)
    plot = pg.PlotWidget(background=background)
    item = plot.getPlotItem()
    item.setTitle(title, color=foreground.name(), size="9pt")
    for name in ("left", "bottom"):
        axis = item.getAxis(name)
        axis.setPen(foreground)
        axis.setTextPen(foreground)
    item.setLabel("bottom", x_label)
    if y_label:
        item.setLabel("left", y_label)
    item.showGrid(x=True, y=True, alpha=0.15)
    item.setMenuEnabled(False)
    plot.setMinimumHeight(120)
    return plot


def line(plot: pg.PlotWidget, colour: tuple[int, int, int], name: str = "", symbols: bool = False):
    """A curve on ``plot``; with ``symbols`` each point gets a small dot (for per-epoch data)."""
    extra = {"symbol": "o", "symbolSize": 5, "symbolBrush": colour, "symbolPen": None}
    return plot.plot(
        [], [], pen=pg.mkPen(colour, width=1.5), name=name or None, **(extra if symbols else {})
    )
