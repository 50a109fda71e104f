"""The map panel's choice between image points and object points.

:func:`install_object_map` adds a "Points" chooser (Images / Objects) to a :class:`MapPanel`
and an :class:`ObjectMap` below its bars. Objects mode hides the image map and lays out the
active object set with the panel's layout method; a click on an object opens its image in the
detail view through the panel's ``sample_clicked``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QComboBox, QLabel, QSizePolicy, QWidget

from app.ui.map.object_points import ObjectMap

if TYPE_CHECKING:
    from app.ui.map.panel import MapPanel

IMAGES, OBJECTS = "images", "objects"


class ObjectMode:
    """The chooser and the object map of one map panel."""

    def __init__(self, panel: MapPanel) -> None:
        self.panel = panel
        self.map = ObjectMap(panel.state, panel)
        self.map.hide()
        self.chooser = QComboBox()
        self.chooser.addItem("Images", IMAGES)
        self.chooser.addItem("Objects", OBJECTS)
        self.chooser.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
        self.chooser.setToolTip(
            "Map the images, or every annotated object's crop ('sieve embed --objects')"
        )
        bars = panel.layout()
        first = bars.itemAt(0).layout()
        first.insertWidget(0, self.chooser)
        first.insertWidget(0, QLabel("Points"))
        first.addStretch(0)  # takes the row's spare width once the image choosers are hidden
        bars.insertWidget(bars.indexOf(panel.pages) + 1, self.map, 1)
        self.chooser.activated.connect(lambda _: self.set_mode(self.chooser.currentData()))
        panel.method_box.activated.connect(lambda _: self._relayout())
        self.map.object_clicked.connect(lambda _object, sample: panel.sample_clicked.emit(sample))
        self.map.neighbours = panel.k_box.value()
        panel.k_box.valueChanged.connect(lambda k: setattr(self.map, "neighbours", k))

    @property
    def mode(self) -> str:
        return str(self.chooser.currentData())

    def set_mode(self, mode: str) -> None:
        """Show the image map (``"images"``) or the object map (``"objects"``)."""
        self.chooser.setCurrentIndex(max(self.chooser.findData(mode), 0))
        objects = mode == OBJECTS
        self.panel.pages.setVisible(not objects)
        for widget in self._image_controls():
            widget.setVisible(not objects)
        self.map.setVisible(objects)
        if objects:
            self._relayout()

    def _image_controls(self) -> list[QWidget]:
        """The image map's own choosers (set, colour) and their labels."""
        panel = self.panel
        found: list[QWidget] = []
        for index in range(panel.layout().count()):
            bar = panel.layout().itemAt(index).layout()
            if bar is None:
                continue
            for position in range(1, bar.count()):
                widget = bar.itemAt(position).widget()
                if widget in (panel.set_box, panel.colour_box):
                    found += [widget, bar.itemAt(position - 1).widget()]
        return [widget for widget in found if widget is not None]

    def set_project(self, path: Path | None) -> None:
        self.map.set_project(path)
        if self.mode == OBJECTS:
            self._relayout()

    def _relayout(self) -> None:
        if self.mode == OBJECTS:
            self.map.refresh(self.panel.method)

    def shutdown(self) -> None:
        self.map.shutdown()


def install_object_map(panel: MapPanel) -> ObjectMode:
    """Give ``panel`` its Images / Objects chooser and object map."""
    return ObjectMode(panel)
