"""CheckRow: one check in the Issues tab: name and count, threshold slider, worst examples."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QMouseEvent, QPixmap
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from app.ui.issues.jobs import EXAMPLES, CheckSummary, adjustable
from app.ui.thumbnail_image import decode_thumbnail

TILE = 44
STEPS = 1000
# Checks whose threshold is re-run rather than re-read: (lowest, highest, step) of the slider.
RERUN_RANGES = {"near_duplicates": (0.0, 16.0, 1.0), "label_errors": (-0.5, 0.9, 0.05)}


class CheckRow(QFrame):
    """``show_requested(name)``: the user clicked the row; ``threshold_chosen(name, value)``:
    the slider was released at a new threshold."""

    show_requested = Signal(str)
    threshold_chosen = Signal(str, float)

    def __init__(self, name: str, describe: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.summary: CheckSummary | None = None
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip(f"{name.replace('_', ' ')}: {describe}. Click to show them in the grid.")
        self.title = QLabel(f"<b>{name.replace('_', ' ')}</b>")
        self.count = QLabel("–")
        self.count.setStyleSheet("font-weight: bold;")
        self.threshold = QLabel("")
        self.threshold.setStyleSheet("color: palette(mid);")
        self.note = QLabel("")
        self.note.setWordWrap(True)
        self.note.setVisible(False)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, STEPS)
        self.slider.setToolTip("Threshold: release to apply")
        self.slider.setVisible(False)
        self.tiles = [QLabel() for _ in range(EXAMPLES)]
        strip = QHBoxLayout()
        strip.setSpacing(2)
        for tile in self.tiles:
            tile.setFixedSize(TILE, TILE)
            strip.addWidget(tile)
        strip.addStretch(1)
        header = QHBoxLayout()
        header.addWidget(self.title)
        header.addWidget(self.count)
        header.addStretch(1)
        header.addWidget(self.threshold)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(2)
        layout.addLayout(header)
        layout.addWidget(self.note)
        layout.addWidget(self.slider)
        layout.addLayout(strip)
        self.slider.valueChanged.connect(self._preview)
        self.slider.sliderReleased.connect(self._release)

    # ------------------------------------------------------------------- API
    def set_summary(self, summary: CheckSummary) -> None:
        self.summary = summary
        self._show_count(len(summary.flagged), summary.threshold)
        self.note.setText(summary.note)
        self.note.setVisible(bool(summary.note))
        has_range = summary.threshold is not None and bool(
            (adjustable(self.name) and np.isfinite(summary.scores).any())
            or self.name in RERUN_RANGES
        )
        self.slider.setVisible(has_range)
        if has_range:
            self.slider.blockSignals(True)
            self.slider.setValue(self._position(float(summary.threshold)))
            self.slider.blockSignals(False)
        for tile, example in zip(self.tiles, [*summary.examples, *[None] * EXAMPLES], strict=False):
            image = None if example is None else decode_thumbnail(example[2], TILE)
            tile.setPixmap(QPixmap.fromImage(image) if image is not None else QPixmap())
            tile.setToolTip("" if example is None else example[1])

    def value_at(self, position: int) -> float:
        """The threshold at slider ``position``: a quantile of the scores, or a fixed range."""
        if self.name in RERUN_RANGES:
            low, high, step = RERUN_RANGES[self.name]
            value = low + (high - low) * position / STEPS
            return float(np.round(value / step) * step)
        finite = self._finite()
        return float(np.quantile(finite, position / STEPS)) if len(finite) else 0.0

    def flagged_at(self, threshold: float) -> int:
        """How many samples a threshold flags (checks read from scores only)."""
        finite = self._finite()
        low = self.summary is not None and self.summary.direction == "low"
        return int((finite < threshold).sum() if low else (finite > threshold).sum())

    # ---------------------------------------------------------------- events
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt)
        if event.button() == Qt.MouseButton.LeftButton:
            self.show_requested.emit(self.name)
        super().mousePressEvent(event)

    def _preview(self, position: int) -> None:
        value = self.value_at(position)
        if adjustable(self.name):
            self._show_count(self.flagged_at(value), value, pending=True)
        else:
            self.threshold.setText(f"threshold {value:.3g} (release to run)")

    def _release(self) -> None:
        self.threshold_chosen.emit(self.name, self.value_at(self.slider.value()))

    def _show_count(self, count: int, threshold: float | None, pending: bool = False) -> None:
        self.count.setText(f"{count:,} found")
        if threshold is None:
            self.threshold.setText("")
            return
        suffix = " (release to apply)" if pending else ""
        self.threshold.setText(f"threshold {threshold:.3g}{suffix}")

    def _finite(self) -> np.ndarray:
        if self.summary is None:
            return np.empty(0)
        scores = self.summary.scores
        return scores[np.isfinite(scores)]

    def _position(self, threshold: float) -> int:
        if self.name in RERUN_RANGES:
            low, high, _ = RERUN_RANGES[self.name]
            return int(round(np.clip((threshold - low) / (high - low), 0, 1) * STEPS))
        finite = self._finite()
        if not len(finite):
            return 0
        return int(round((finite < threshold).mean() * STEPS))
