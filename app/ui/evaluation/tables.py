"""The evaluation view's two tables: AP and counts per class, and the confusion matrix."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

CLASS_COLUMNS = ("Class", "AP", "AP50", "GT", "TP", "FP", "FN")
CLASS_TIPS = (
    "",
    "COCO AP, IoU 0.50:0.95 (\u2013: no ground truth)",
    "AP at IoU 0.5",
    "ground-truth objects (crowds left out)",
    "true positives at the chosen IoU",
    "false positives: duplicates, other classes, nothing there",
    "false negatives: missed or taken for another class",
)
CELL_WIDTH = 58
SHORT_NAME = 7
_TP_COLOUR = QColor(46, 160, 67)
_ERROR_COLOUR = QColor(218, 54, 51)


def ap_text(value: float) -> str:
    """An AP as shown: three decimals, "–" for a class without ground truth (COCO's -1)."""
    return "\u2013" if value < 0 else f"{value:.3f}"


class _Number(QTableWidgetItem):
    """A cell that sorts by its number, not its text."""

    def __init__(self, text: str, value: float) -> None:
        super().__init__(text)
        self.setData(Qt.ItemDataRole.UserRole, value)
        self.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

    def __lt__(self, other: QTableWidgetItem) -> bool:
        mine = self.data(Qt.ItemDataRole.UserRole)
        theirs = other.data(Qt.ItemDataRole.UserRole)
        if mine is None or theirs is None:
            return super().__lt__(other)
        return mine < theirs


class ClassTable(QTableWidget):
    """One row per class: AP, AP50, ground-truth objects, TP, FP, FN (sortable)."""

    def __init__(self) -> None:
        super().__init__(0, len(CLASS_COLUMNS))
        self.setHorizontalHeaderLabels(CLASS_COLUMNS)
        for column, tip in enumerate(CLASS_TIPS):
            self.horizontalHeaderItem(column).setToolTip(tip)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(22)
        header = self.horizontalHeader()
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # the sources' class order
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(CLASS_COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)

    def show_summary(self, summary: dict[str, Any] | None) -> None:
        self.setSortingEnabled(False)
        per_class = {} if summary is None else summary["per_class"]
        self.setRowCount(len(per_class))
        for row, (name, result) in enumerate(per_class.items()):
            self.setItem(row, 0, QTableWidgetItem(name))
            for column, key in enumerate(("ap", "ap50"), start=1):
                self.setItem(row, column, _Number(ap_text(result[key]), result[key]))
            for column, key in enumerate(("objects", "tp", "fp", "fn"), start=3):
                self.setItem(row, column, _Number(f"{result[key]:,}", result[key]))
        self.setSortingEnabled(True)

    def cell_text(self, row: int, column: int) -> str:
        item = self.item(row, column)
        return "" if item is None else item.text()


class ConfusionTable(QTableWidget):
    """The confusion matrix as a compact heatmap: ground truth down, predictions across, the
    background last in both; the diagonal in green, errors in red, stronger for larger counts.

    ``cell_chosen(row, column)`` when a cell with a count is clicked.
    """

    cell_chosen = Signal(int, int)

    def __init__(self) -> None:
        super().__init__(0, 0)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.horizontalHeader().setDefaultSectionSize(CELL_WIDTH)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.verticalHeader().setDefaultSectionSize(22)
        self.setCornerButtonEnabled(False)
        self.cellClicked.connect(self._on_clicked)
        self.matrix: list[list[int]] = []

    def show_confusion(self, labels: list[str], matrix: list[list[int]]) -> None:
        self.clear()
        self.matrix = matrix
        self.setRowCount(len(labels))
        self.setColumnCount(len(labels))
        self.setHorizontalHeaderLabels([_short(label) for label in labels])
        self.setVerticalHeaderLabels(labels)
        for i, label in enumerate(labels):
            self.horizontalHeaderItem(i).setToolTip(f"predicted: {label}")
            self.verticalHeaderItem(i).setToolTip(f"ground truth: {label}")
        peak = max((v for row in matrix for v in row), default=0) or 1
        for r, row in enumerate(matrix):
            for c, value in enumerate(row):
                item = QTableWidgetItem(f"{value:,}" if value else "")
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                if value:
                    base = _TP_COLOUR if r == c else _ERROR_COLOUR
                    colour = QColor(base)
                    colour.setAlphaF(0.15 + 0.75 * (value / peak) ** 0.5)
                    item.setBackground(QBrush(colour))
                    item.setToolTip(
                        f"ground truth {labels[r]}, predicted {labels[c]}: {value:,} "
                        "(click to select these images)"
                    )
                self.setItem(r, c, item)

    def _on_clicked(self, row: int, column: int) -> None:
        if self.matrix and self.matrix[row][column]:
            self.cell_chosen.emit(row, column)


def _short(label: str) -> str:
    return label if len(label) <= SHORT_NAME else label[: SHORT_NAME - 1] + "\u2026"
