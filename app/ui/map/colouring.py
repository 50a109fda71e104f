"""What the map's points are coloured by: the chooser and the colours read for a layout.

The chooser lists what the project can colour by (labels, folders, tags, selections, scores);
choosing sets the shared app state's ``colour_by``, which the map follows. A source's labels
make "label" the first choice, else "folder".
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QComboBox

from app.core.errors import SieveError
from app.core.store.project import Project
from app.gui_model.map_sources import MapSource, colour_data, colour_keys
from app.gui_model.state import AppState

Colours = tuple[np.ndarray | None, np.ndarray | None]  # categories, values (one is None)


class MapColouring:
    """The "Colour by" chooser of a map; errors reading colours go to ``report``."""

    def __init__(self, state: AppState, report: Callable[[str], None], chars: int) -> None:
        self.state = state
        self._report = report
        self.box = QComboBox()
        self.box.setToolTip("Colour the points by a label, folder, tag, selection or score")
        self.box.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.box.setMinimumContentsLength(chars)
        self.box.activated.connect(lambda index: state.set_colour_by(self.box.itemData(index)))

    def fill(self, project_dir: Path, source: MapSource) -> None:
        """List what ``source``'s project can colour by; pick a default if none is chosen."""
        with Project.open(project_dir) as project:
            keys = colour_keys(project)
        self.box.blockSignals(True)
        self.box.clear()
        for key, title in keys:
            self.box.addItem(title, key)
        if self.state.colour_by is None:
            self.state.set_colour_by("label" if source.table.labels else "folder")
        self.show_chosen()
        self.box.blockSignals(False)

    def knows_chosen(self) -> bool:
        """Whether the chooser lists the state's ``colour_by`` (a score or tag made since may
        not be)."""
        return self.box.findData(self.state.colour_by) >= 0

    def show_chosen(self) -> None:
        """Show the state's ``colour_by`` in the chooser (added when it is not listed)."""
        key = self.state.colour_by
        index = self.box.findData(key)
        if index < 0 and key is not None:
            self.box.addItem(key, key)
            index = self.box.count() - 1
        self.box.setCurrentIndex(max(index, 0))

    def colours(self, project_dir: Path | None, source: MapSource | None) -> Colours:
        """The colours of ``source``'s points by the state's ``colour_by``."""
        key = self.state.colour_by
        if source is None or key is None or project_dir is None:
            return None, None
        if key == "selection":
            inside = np.isin(source.ids, self.state.selected)
            return np.where(inside, "selected", "not selected").astype(object), None
        try:
            with Project.open(project_dir) as project:
                return colour_data(project, source, key)
        except SieveError as error:
            self._report(str(error))
            return None, None
