"""Training curves: loss and learning rate per step, and per-epoch monitors.

Points are kept as plain float lists and pushed to the plot items at most every
``REDRAW_MS`` (progress arrives up to 20 times a second; redrawing less keeps the GUI light).
The monitor plot shows the collapse std (normalised so 1.0 is healthy, 0 is collapse) with its
warning line, and kNN accuracy when the project has labels.
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.core.jobs import format_duration
from app.core.ssl.monitor import COLLAPSE_WARNING
from app.ui.training.messages import COLOURS
from app.ui.training.plots import (
    KNN_COLOUR,
    LOSS_COLOUR,
    LR_COLOUR,
    STD_COLOUR,
    WARNING_COLOUR,
    line,
    themed_plot,
)

REDRAW_MS = 250
MONITOR_TOP = 1.5
"""The monitors' y range ends here, leaving the legend room above healthy values (about 1)."""
NEAR_COLLAPSE = 2 * COLLAPSE_WARNING
"""Below this relative std the monitor turns amber; below COLLAPSE_WARNING red."""


def collapse_text(relative: float | None) -> tuple[str, str]:
    """The collapse monitor in words and the level of its colour."""
    if relative is None:
        return "Collapse monitor: waiting for the first epoch", "info"
    if relative < COLLAPSE_WARNING:
        return (
            f"⚠ Outputs are collapsing: std {relative:.3f} (healthy ≈ 1). "
            "Lower the learning rate or try another method.",
            "error",
        )
    if relative < NEAR_COLLAPSE:
        return f"⚠ Output std is low ({relative:.3f}; healthy ≈ 1): watch for collapse", "warning"
    return f"Collapse monitor: std {relative:.2f} (healthy ≈ 1)", "success"


class MonitorPlot(QWidget):
    """Per-epoch loss, collapse std and kNN accuracy (stored history or live epochs)."""

    def __init__(
        self,
        orientation: Qt.Orientation = Qt.Orientation.Horizontal,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.loss_plot = themed_plot("Loss per epoch", "epoch")
        self.loss_curve = line(self.loss_plot, LOSS_COLOUR, symbols=True)
        self.monitor_plot = themed_plot("Monitors per epoch", "epoch")
        self.monitor_plot.addLegend(offset=(-8, 8))
        self.std_curve = line(self.monitor_plot, STD_COLOUR, "collapse std (1 = healthy)", True)
        self.knn_curve = line(self.monitor_plot, KNN_COLOUR, "kNN accuracy", True)
        warning = pg.InfiniteLine(
            pos=COLLAPSE_WARNING,
            angle=0,
            pen=pg.mkPen(WARNING_COLOUR, width=1, style=Qt.PenStyle.DashLine),
            label="collapse",
            labelOpts={"color": WARNING_COLOUR, "position": 0.9, "anchors": [(1, 1), (1, 1)]},
        )
        self.monitor_plot.addItem(warning)
        self.monitor_plot.setYRange(0, MONITOR_TOP, padding=0.02)
        vertical = orientation == Qt.Orientation.Vertical
        layout = QVBoxLayout(self) if vertical else QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.loss_plot)
        layout.addWidget(self.monitor_plot)

    def set_history(self, history: list[dict[str, Any]]) -> None:
        def series(key: str) -> tuple[list[float], list[float]]:
            points = [(h["epoch"], h[key]) for h in history if h.get(key) is not None]
            return [p[0] for p in points], [p[1] for p in points]

        self.loss_curve.setData(*series("loss"))
        self.std_curve.setData(*series("std_relative"))
        self.knn_curve.setData(*series("knn"))


class LiveCurves(QWidget):
    """What a running job reports: step curves, per-epoch monitors and the current rates."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.steps: list[float] = []
        self.losses: list[float] = []
        self.lrs: list[float] = []
        self.history: list[dict[str, Any]] = []
        self.labelled = True
        self.total_epochs: int | None = None
        self._dirty = False
        self.loss_plot = themed_plot("Loss per step", "step")
        self.loss_curve = line(self.loss_plot, LOSS_COLOUR)
        self.lr_plot = themed_plot("Learning rate", "step")
        self.lr_curve = line(self.lr_plot, LR_COLOUR)
        for plot in (self.loss_plot, self.lr_plot):
            plot.setDownsampling(auto=True, mode="peak")
            plot.setClipToView(True)
        self.epochs = MonitorPlot()
        self.epoch_label = QLabel()
        self.speed_label = QLabel()
        self.eta_label = QLabel()
        self.knn_label = QLabel()
        self.collapse_label = QLabel()
        self.collapse_label.setWordWrap(True)
        stats = QGridLayout()
        labels = (self.epoch_label, self.speed_label, self.eta_label, self.knn_label)
        for index, label in enumerate(labels):
            stats.addWidget(label, index // 2, index % 2)
        plots = QGridLayout()
        plots.addWidget(self.loss_plot, 0, 0)
        plots.addWidget(self.lr_plot, 1, 0)
        plots.addWidget(self.epochs, 2, 0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(stats)
        layout.addWidget(self.collapse_label)
        layout.addLayout(plots, 1)
        self.timer = QTimer(self)
        self.timer.setInterval(REDRAW_MS)
        self.timer.timeout.connect(self.redraw)
        self.timer.start()
        self.clear()

    # ----------------------------------------------------------------- input
    def clear(
        self,
        history: list[dict[str, Any]] | None = None,
        labelled: bool = True,
        epochs: int | None = None,
    ) -> None:
        """Forget the curves; a resumed run starts from its stored epoch ``history``."""
        self.steps, self.losses, self.lrs = [], [], []
        self.history = list(history or [])
        self.labelled = labelled
        self.total_epochs = epochs
        self.epoch_label.setText("Epoch –")
        self.speed_label.setText("– img/s")
        self.eta_label.setText("ETA –")
        self._show_epoch_stats()
        self._dirty = True
        self.redraw()

    def add(self, partial: Any) -> None:
        """Take a trainer ``partial``: a step's loss and lr, or an epoch's summary."""
        if not isinstance(partial, dict):
            return
        if partial.get("kind") == "step":
            self._add_step(partial)
        elif partial.get("kind") == "epoch":
            self.history.append(partial)
            self._show_epoch_stats()
        self._dirty = True

    def _add_step(self, step: dict[str, Any]) -> None:
        self.steps.append(float(step["global_step"]))
        self.losses.append(float(step["loss"]))
        self.lrs.append(float(step["lr"]))
        total = f"/{self.total_epochs}" if self.total_epochs else ""
        self.epoch_label.setText(f"Epoch {step['epoch'] + 1}{total}")
        rate = step.get("images_per_s")
        self.speed_label.setText(f"{rate:,.0f} img/s" if rate else "… img/s")
        self.eta_label.setText(f"ETA {format_duration(step.get('eta_s'))}")

    def _show_epoch_stats(self) -> None:
        last = self.history[-1] if self.history else {}
        text, level = collapse_text(last.get("std_relative"))
        self.collapse_label.setText(text)
        self.collapse_label.setStyleSheet(f"QLabel {{ color: {COLOURS[level]}; }}")
        knn = [h["knn"] for h in self.history if h.get("knn") is not None]
        if knn:
            self.knn_label.setText(f"kNN {knn[-1]:.1%}")
        else:
            self.knn_label.setText("kNN –" if self.labelled else "kNN: needs labels")

    # ---------------------------------------------------------------- output
    def redraw(self) -> None:
        """Push new points to the plots (called by the timer; cheap when nothing changed)."""
        if not self._dirty:
            return
        self._dirty = False
        self.loss_curve.setData(self.steps, self.losses)
        self.lr_curve.setData(self.steps, self.lrs)
        self.epochs.set_history(self.history)

    def loss_points(self) -> int:
        """How many loss points the loss curve shows."""
        x, _ = self.loss_curve.getData()
        return 0 if x is None else len(x)
