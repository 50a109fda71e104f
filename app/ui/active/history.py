"""RoundHistory: the recorded rounds as a table and a held-out accuracy curve."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.ui.theme import ACCENT

if TYPE_CHECKING:
    from app.core.active.rounds import Round

COLUMNS = ("Round", "Labelled", "Batch", "Strategy", "Accuracy")
NUMERIC = (0, 1, 2, 4)
SMALL_SPAN = 8  # labelled-count spans below this get a tick per sample


def accuracy_text(accuracy: float | None) -> str:
    return "\u2013" if accuracy is None else f"{accuracy:.1%}"


class RoundHistory(QWidget):
    """Double-clicking a round asks for its picks (``picks_requested(ids)``)."""

    picks_requested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rounds: list[Round] = []
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.setToolTip("Double-click a round to select the samples it picked")
        self.table.cellDoubleClicked.connect(self._on_double_click)
        self.plot = self._make_plot()
        self._style_plot()
        self.curve = self.plot.plot(
            [],
            [],
            pen=pg.mkPen(ACCENT, width=2),
            symbol="o",
            symbolSize=7,
            symbolBrush=ACCENT,
            symbolPen=pg.mkPen(ACCENT.lighter(140)),
        )
        self.empty = QLabel("No rounds yet: \u201cSelect next batch\u201d records the first.")
        self.empty.setWordWrap(True)
        self.empty.setEnabled(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.empty)
        layout.addWidget(self.table, 2)
        layout.addWidget(self.plot, 3)
        self.set_rounds([])

    def set_rounds(self, rounds: Sequence[Round]) -> None:
        """Show ``rounds`` (oldest first); the curve has a point per round with an accuracy."""
        self.rounds = list(rounds)
        self.table.setRowCount(len(self.rounds))
        for row, record in enumerate(self.rounds):
            values = (
                str(record.number),
                f"{record.labelled:,}",
                f"{len(record.picked):,}",
                record.strategy,
                accuracy_text(record.accuracy),
            )
            for column, text in enumerate(values):
                item = QTableWidgetItem(text)
                if column in NUMERIC:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                if column == 3:
                    item.setToolTip(text)
                if column == 4 and record.accuracy is not None:
                    item.setToolTip(f"on {record.held_out:,} held-out labelled samples")
                self.table.setItem(row, column, item)
        if self.rounds:
            self.table.scrollToBottom()
        measured = [r for r in self.rounds if r.accuracy is not None]
        x = np.array([r.labelled for r in measured], dtype=float)
        y = np.array([100.0 * r.accuracy for r in measured], dtype=float)
        self.curve.setData(x, y)
        if len(x):
            span = x.max() - x.min()
            pad = max(1.0, 0.05 * span)
            self.plot.setXRange(x.min() - pad, x.max() + pad, padding=0)
            axis = self.plot.getPlotItem().getAxis("bottom")
            if span < SMALL_SPAN:
                axis.setTickSpacing(1, 1)  # whole samples, never 10.5
            else:
                axis.setTickSpacing()
        self.empty.setVisible(not self.rounds)
        self.table.setVisible(bool(self.rounds))
        self.plot.setVisible(bool(self.rounds))

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._style_plot()

    def _make_plot(self) -> pg.PlotWidget:
        plot = pg.PlotWidget()
        plot.setMenuEnabled(False)
        plot.setMouseEnabled(x=False, y=False)
        plot.hideButtons()
        plot.showGrid(x=True, y=True, alpha=0.15)
        plot.setYRange(0, 100, padding=0.02)
        plot.setMinimumHeight(150)
        plot.setToolTip("Held-out probe accuracy at each round")
        item = plot.getPlotItem()
        item.setLabel("left", "held-out accuracy (%)")
        item.setLabel("bottom", "labelled samples")
        return plot

    def _style_plot(self) -> None:
        """Follow the palette (light or dark) in the plot's background, axes and labels."""
        palette = self.palette()
        text = palette.color(QPalette.ColorRole.WindowText)
        self.plot.setBackground(palette.color(QPalette.ColorRole.Base))
        item = self.plot.getPlotItem()
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setPen(pg.mkPen(text))
            axis.setTextPen(pg.mkPen(text))
            axis.setLabel(axis.labelText, color=text.name())

    def _on_double_click(self, row: int, _column: int) -> None:
        if 0 <= row < len(self.rounds):
            self.picks_requested.emit(self.rounds[row].picked)
