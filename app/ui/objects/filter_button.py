"""The grid's object filter: a button in the filter bar whose popup picks the annotation source,
the classes a sample must have an object of, and the minimum / maximum number of objects.

It edits ``AppState.filter.objects`` and shows it back when it changes elsewhere.
"""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QSpinBox,
    QToolButton,
    QWidget,
    QWidgetAction,
)

from app.gui_model.class_colours import class_rgb
from app.gui_model.object_filters import ObjectFilter
from app.gui_model.state import AppState, Event
from app.ui.objects.layer import ObjectLayer

ANY = -1
MAX_COUNT = 100_000


def swatch(name: str, side: int = 12) -> QIcon:
    """A small square in the class's colour."""
    pixmap = QPixmap(side, side)
    pixmap.fill(QColor(*class_rgb(name)))
    return QIcon(pixmap)


def _count_box(tip: str) -> QSpinBox:
    box = QSpinBox()
    box.setRange(ANY, MAX_COUNT)
    box.setSpecialValueText("any")
    box.setValue(ANY)
    box.setToolTip(tip)
    return box


class ObjectFilterPanel(QWidget):
    """Source, classes and count bounds; every change edits the state's object filter."""

    def __init__(self, state: AppState, layer: ObjectLayer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state, self.layer = state, layer
        self.source = QComboBox(toolTip="Annotation source whose objects are counted")
        self.classes = QListWidget(toolTip="Show samples with at least one object of these")
        self.classes.setMinimumHeight(140)
        self.min_count = _count_box("Fewest objects a shown sample has")
        self.max_count = _count_box("Most objects a shown sample has")
        self.clear = QPushButton("Clear")
        form = QFormLayout(self)
        form.addRow("Source", self.source)
        form.addRow("Classes", self.classes)
        form.addRow("At least", self.min_count)
        form.addRow("At most", self.max_count)
        form.addRow(self.clear)
        self.source.currentIndexChanged.connect(self._source_changed)
        self.classes.itemChanged.connect(self._edited)
        self.min_count.valueChanged.connect(self._edited)
        self.max_count.valueChanged.connect(self._edited)
        self.clear.clicked.connect(
            lambda: state.set_filter(state.filter.with_(objects=ObjectFilter()))
        )

    def fill(self) -> None:
        """Offer the layer's sources and the chosen source's classes; show the state's filter."""
        flt = self.state.filter.objects
        with QSignalBlocker(self.source):
            self.source.clear()
            for source in self.layer.sources:
                kind = "ground truth" if source.is_ground_truth else "predictions"
                self.source.addItem(f"{source.name} ({kind})", source.name)
            wanted = self.layer.source_name(flt.source)
            self.source.setCurrentIndex(max(0, self.source.findData(wanted)))
        if self.source.currentData():
            self.layer.request(self.source.currentData())
        with QSignalBlocker(self.classes):
            self.classes.clear()
            for name in self.layer.classes(self.source.currentData()):
                item = QListWidgetItem(swatch(name), name)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                checked = name in flt.classes
                item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
                self.classes.addItem(item)
        for box, value in ((self.min_count, flt.min_count), (self.max_count, flt.max_count)):
            with QSignalBlocker(box):
                box.setValue(ANY if value is None else value)

    def chosen_classes(self) -> frozenset[str]:
        items = (self.classes.item(i) for i in range(self.classes.count()))
        return frozenset(i.text() for i in items if i.checkState() == Qt.CheckState.Checked)

    def _source_changed(self) -> None:
        name = self.source.currentData()
        if name:
            self.layer.request(name)
        source = None if name == self.layer.truth else name
        flt = self.state.filter.objects.with_(source=source, classes=frozenset())
        self.state.set_filter(self.state.filter.with_(objects=flt))
        self.fill()

    def _edited(self, *_: object) -> None:
        low, high = self.min_count.value(), self.max_count.value()
        name = self.source.currentData()
        flt = ObjectFilter(
            source=None if name == self.layer.truth else name,
            classes=self.chosen_classes(),
            min_count=None if low == ANY else low,
            max_count=None if high == ANY else high,
        )
        self.state.set_filter(self.state.filter.with_(objects=flt))


class ObjectFilterButton(QToolButton):
    """ "Objects ▾" in the filter bar (hidden while the project has no annotations)."""

    def __init__(self, state: AppState, layer: ObjectLayer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state, self.layer = state, layer
        self.setText("Objects")
        self.setToolTip("Show samples by object class and number of objects")
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.panel = ObjectFilterPanel(state, layer)
        menu = QMenu(self)
        action = QWidgetAction(menu)
        action.setDefaultWidget(self.panel)
        menu.addAction(action)
        menu.aboutToShow.connect(self.panel.fill)
        self.setMenu(menu)
        self.setCheckable(True)
        layer.sources_changed.connect(self._sources_changed)
        layer.index_loaded.connect(lambda _name: self.panel.fill())
        self._unsubscribe = state.subscribe(self._on_state)
        self._sources_changed()

    def shutdown(self) -> None:
        """Stop listening to the state."""
        self._unsubscribe()

    def _sources_changed(self) -> None:
        self.setVisible(bool(self.layer.sources))
        self.panel.fill()

    def _on_state(self, event: Event) -> None:
        if event == "filter":
            active = self.state.filter.objects.active
            self.setChecked(active)
            self.setText("Objects ✓" if active else "Objects")
