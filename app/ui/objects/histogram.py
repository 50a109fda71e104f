"""A class histogram of the current selection: objects per class among the selected samples, or
among all shown samples when nothing is selected, for one annotation source.

The counts come from the browser's :class:`ObjectLayer` arrays (numpy, no SQL); the bars are
painted in the classes' colours, longest first.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QComboBox, QLabel, QScrollArea, QVBoxLayout, QWidget

from app.gui_model.class_colours import class_rgb
from app.gui_model.object_filters import ObjectFilter
from app.gui_model.state import AppState, Event
from app.ui.objects.layer import ObjectLayer

BAR_HEIGHT = 18
GAP = 4
NAME_WIDTH = 110
COUNT_WIDTH = 64
UPDATE_MS = 50


class ClassBars(QWidget):
    """Horizontal bars, one per class: name, bar in the class colour, count; ``clicked(name)``
    when a bar is clicked."""

    clicked = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.counts: dict[str, int] = {}
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Click a class to show only samples with such objects")

    def class_at(self, y: float) -> str | None:
        """The class whose bar is at height ``y``, if any."""
        row = int((y - GAP / 2) // (BAR_HEIGHT + GAP))
        names = list(self.counts)
        return names[row] if 0 <= row < len(names) else None

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        name = self.class_at(event.position().y())
        if name is not None and event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(name)

    def set_counts(self, counts: dict[str, int]) -> None:
        self.counts = dict(counts)
        self.updateGeometry()
        self.setMinimumHeight(self.sizeHint().height())
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(NAME_WIDTH + COUNT_WIDTH + 120, len(self.counts) * (BAR_HEIGHT + GAP) + GAP)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        if not self.counts:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        most = max(self.counts.values())
        room = max(10, self.width() - NAME_WIDTH - COUNT_WIDTH - 8)
        text = self.palette().color(QPalette.ColorRole.Text)
        metrics = painter.fontMetrics()
        centred = Qt.AlignmentFlag.AlignVCenter
        for i, (name, count) in enumerate(self.counts.items()):
            y = GAP + i * (BAR_HEIGHT + GAP)
            painter.setPen(text)
            label = metrics.elidedText(name, Qt.TextElideMode.ElideRight, NAME_WIDTH - 6)
            painter.drawText(QRectF(2, y, NAME_WIDTH - 4, BAR_HEIGHT), centred, label)
            width = max(2.0, room * count / most)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(*class_rgb(name)))
            painter.drawRoundedRect(QRectF(NAME_WIDTH, y + 2, width, BAR_HEIGHT - 4), 3, 3)
            painter.setPen(text)
            painter.drawText(
                QRectF(NAME_WIDTH + width + 4, y, COUNT_WIDTH, BAR_HEIGHT), centred, f"{count:,}"
            )
        painter.end()


class ClassHistogram(QWidget):
    """Source chooser, a one-line summary and the bars; follows the selection and the filter."""

    def __init__(
        self,
        state: AppState,
        layer: ObjectLayer,
        shown_ids: Callable[[], np.ndarray],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.state, self.layer, self.shown_ids = state, layer, shown_ids
        self.source = QComboBox(toolTip="Annotation source whose objects are counted")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.bars = ClassBars()
        scroll = QScrollArea()
        scroll.setWidget(self.bars)
        scroll.setWidgetResizable(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.source)
        layout.addWidget(self.summary)
        layout.addWidget(scroll, 1)
        self._timer = QTimer(self, singleShot=True, interval=UPDATE_MS)
        self._timer.timeout.connect(self.update_counts)
        self.source.currentIndexChanged.connect(self.schedule)
        self.bars.clicked.connect(self.show_class)
        layer.sources_changed.connect(self._fill_sources)
        layer.index_loaded.connect(lambda _name: self.schedule())
        self._unsubscribe = state.subscribe(self._on_state)
        self._fill_sources()

    def shutdown(self) -> None:
        self._unsubscribe()
        self._timer.stop()

    def schedule(self) -> None:
        """Count again soon (many changes in a row are counted once)."""
        self._timer.start()

    def update_counts(self) -> None:
        """Count the objects per class of the selection (or of the shown samples) now."""
        name = self.source.currentData()
        index = self.layer.index(name) if name else None
        if not name:
            self.summary.setText("No annotations in this project (File ▸ Import annotations).")
            self.bars.set_counts({})
        elif index is None:
            self.summary.setText(f"Loading the objects of {name}…")
            self.bars.set_counts({})
        else:  # the shown ids only now: a million of them take a while to gather
            selected = self.state.selected
            ids = selected if len(selected) else self.shown_ids()  # any order
            whose = f"{len(ids):,} {'selected' if len(selected) else 'shown'} samples"
            counts = index.histogram(ids)
            total = sum(counts.values())
            self.summary.setText(f"{total:,} objects in {len(counts)} classes among {whose}")
            self.bars.set_counts(counts)

    def show_class(self, name: str) -> None:
        """Filter the views to samples with an object of class ``name`` (of the chosen source)."""
        chosen = self.source.currentData()
        source = None if chosen == self.layer.truth else chosen
        flt = ObjectFilter(source=source, classes=frozenset({name}))
        self.state.set_filter(self.state.filter.with_(objects=flt))

    def _fill_sources(self) -> None:
        current = self.source.currentData()
        self.source.blockSignals(True)
        self.source.clear()
        for source in self.layer.sources:
            self.source.addItem(source.name, source.name)
        wanted = current if self.source.findData(current) >= 0 else self.layer.truth
        self.source.setCurrentIndex(max(0, self.source.findData(wanted)))
        self.source.blockSignals(False)
        self.schedule()

    def _on_state(self, event: Event) -> None:
        if event in ("selection", "filter"):
            self.schedule()
