"""The picks of a selection run in pick order: name, label, score and distance to earlier picks.

A table model over the outcome's arrays (no item object per cell); clicking a row makes that
sample the app's current one.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from app.gui_model.state import AppState
from app.ui.selection.jobs import SelectionOutcome

COLUMNS = ("#", "Name", "Label", "Score", "Distance")
TIPS = (
    "Pick order",
    "Sample name (relative path or frame name)",
    "Label (folder name)",
    "The combined objective when this sample was picked (0 to 1)",
    "Distance to the nearest earlier pick or excluded sample (diversity strategies only)",
)
Index = QModelIndex | QPersistentModelIndex


class PicksModel(QAbstractTableModel):
    """Rows are picks in order; see :data:`COLUMNS`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.outcome: SelectionOutcome | None = None

    def set_outcome(self, outcome: SelectionOutcome | None) -> None:
        self.beginResetModel()
        self.outcome = outcome
        self.endResetModel()

    def sample_id(self, row: int) -> int | None:
        if self.outcome is None or not 0 <= row < len(self.outcome.ids):
            return None
        return int(self.outcome.ids[row])

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() or self.outcome is None else len(self.outcome.ids)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(  # noqa: N802 - Qt's name
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return TIPS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        outcome = self.outcome
        if outcome is None or not index.isValid():
            return None
        row, column = index.row(), index.column()
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (0, 3, 4):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        if column == 0:
            return f"{row + 1:,}"
        if column == 1:
            return outcome.names[row]
        if column == 2:
            return outcome.labels[row]
        if column == 3:
            return _number(outcome.scores[row])
        distances = outcome.distances
        return "" if distances is None else _number(distances[row])


def _number(value: float) -> str:
    value = float(value)
    if math.isnan(value):
        return ""
    return "\u221e" if math.isinf(value) else f"{value:.3f}"


class PicksTable(QTableView):
    """The picks; a click sets :attr:`AppState.current`."""

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.picks = PicksModel(self)
        self.setModel(self.picks)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setHighlightSections(False)
        self.selectionModel().currentRowChanged.connect(self._show)
        self.clicked.connect(self._show)

    def set_outcome(self, outcome: SelectionOutcome | None) -> None:
        self.picks.set_outcome(outcome)
        for column in (0, 2, 3, 4):
            self.resizeColumnToContents(column)

    def row_of(self, sample_id: int) -> int:
        outcome = self.picks.outcome
        if outcome is None:
            return -1
        found = np.flatnonzero(outcome.ids == sample_id)
        return int(found[0]) if len(found) else -1

    def _show(self, index: QModelIndex, *_: object) -> None:
        sample_id = self.picks.sample_id(index.row())
        if sample_id is not None:
            self.state.set_current(sample_id)
