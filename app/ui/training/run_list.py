"""The project's training runs: a table, the selected run's settings and stored curves, and what
a run offers (Embed and map, Export backbone…, Resume)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.ssl.config import config_fields
from app.core.ssl.runs import FINISHED, INTERRUPTED, RUNNING, RunRecord
from app.ui.training.curves import MonitorPlot
from app.ui.training.form import label_for
from app.ui.training.validation import format_pairs

COLUMNS = ("Run", "Status", "Method", "Backbone", "Epochs", "Loss", "kNN")
STATUS_COLOURS = {
    FINISHED: QColor(92, 184, 92),
    RUNNING: QColor(90, 160, 235),
    "stopped": QColor(224, 160, 48),
    INTERRUPTED: QColor(224, 160, 48),
    "failed": QColor(255, 107, 107),
}
RESUMABLE = ("stopped", INTERRUPTED, "failed")


def last_value(record: RunRecord, key: str) -> float | None:
    """The newest non-empty ``key`` of the run's epoch history."""
    values = [h[key] for h in record.metrics.get("history", []) if h.get(key) is not None]
    return values[-1] if values else None


def row_texts(record: RunRecord) -> list[str]:
    loss, knn = last_value(record, "loss"), last_value(record, "knn")
    return [
        str(record.id),
        record.status,
        record.config.method,
        record.config.backbone,
        f"{record.epochs_done}/{record.config.epochs}",
        "–" if loss is None else f"{loss:.4f}",
        "–" if knn is None else f"{knn:.1%}",
    ]


def setting_text(value: Any) -> str:
    if isinstance(value, dict):
        return format_pairs(value) or "–"
    if isinstance(value, float):
        return f"{value:.8g}"
    return "–" if value is None else str(value)


class RunList(QWidget):
    """Lists runs; selecting one shows its settings, curves and notes."""

    embed_requested = Signal(int)
    export_requested = Signal(int)
    resume_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.records: dict[int, RunRecord] = {}
        self._busy = False
        self.table = QTreeWidget()
        self.table.setHeaderLabels(list(COLUMNS))
        self.table.setRootIsDecorated(False)
        self.table.setUniformRowHeights(True)
        self.table.setAlternatingRowColors(True)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.table.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.currentItemChanged.connect(self._show_current)

        self.settings = QTreeWidget()
        self.settings.setHeaderLabels(["Setting", "Value"])
        self.settings.setRootIsDecorated(False)
        self.settings.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.curves = MonitorPlot(Qt.Orientation.Vertical)
        self.notes = QLabel()
        self.notes.setWordWrap(True)
        self.notes.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.embed_button = QPushButton("Embed and map")
        self.embed_button.setToolTip("Embed every sample with this run's backbone and map them")
        self.embed_button.clicked.connect(lambda: self._emit(self.embed_requested))
        self.export_button = QPushButton("Export backbone…")
        self.export_button.setToolTip(
            "Save the trained backbone as state_dict, TorchScript or ONNX"
        )
        self.export_button.clicked.connect(lambda: self._emit(self.export_requested))
        self.resume_button = QPushButton("Resume run")
        self.resume_button.setToolTip(
            "Continue this stopped, interrupted or failed run from its last checkpoint"
        )
        self.resume_button.clicked.connect(lambda: self._emit(self.resume_requested))

        buttons = QHBoxLayout()
        for button in (self.embed_button, self.export_button, self.resume_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        details = QWidget()
        details_layout = QVBoxLayout(details)
        details_layout.setContentsMargins(0, 0, 0, 0)
        details_layout.addWidget(self.notes)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.curves, "Curves")
        self.tabs.addTab(self.settings, "Settings")
        details_layout.addWidget(self.tabs, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(details)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split, 1)
        layout.addLayout(buttons)
        self._show_current()

    # ----------------------------------------------------------------- input
    def set_runs(self, records: list[RunRecord], select: int | None = None) -> None:
        """Show ``records`` (newest on top), keeping or moving the current row to ``select``;
        with neither, the newest run is selected."""
        keep = select if select is not None else self.current_id()
        if keep not in {record.id for record in records}:
            keep = records[-1].id if records else None
        self.records = {record.id: record for record in records}
        self.table.blockSignals(True)
        self.table.clear()
        for record in reversed(records):
            item = QTreeWidgetItem(row_texts(record))
            item.setData(0, Qt.ItemDataRole.UserRole, record.id)
            colour = STATUS_COLOURS.get(record.status)
            if colour is not None:
                item.setForeground(1, colour)
            error = record.metrics.get("error")
            if error:
                item.setToolTip(1, error)
            self.table.addTopLevelItem(item)
        self.table.blockSignals(False)
        self.select(keep)

    def select(self, run_id: int | None) -> None:
        for index in range(self.table.topLevelItemCount()):
            item = self.table.topLevelItem(index)
            if item.data(0, Qt.ItemDataRole.UserRole) == run_id:
                self.table.setCurrentItem(item)
                return
        self.table.setCurrentItem(None)
        self._show_current()

    def set_busy(self, busy: bool) -> None:
        """While the panel trains, a stopped run cannot be resumed."""
        self._busy = busy
        self._update_buttons()

    # ---------------------------------------------------------------- output
    def current_id(self) -> int | None:
        item = self.table.currentItem()
        return None if item is None else item.data(0, Qt.ItemDataRole.UserRole)

    def current_run(self) -> RunRecord | None:
        run_id = self.current_id()
        return None if run_id is None else self.records.get(run_id)

    def _emit(self, signal: Signal) -> None:
        run_id = self.current_id()
        if run_id is not None:
            signal.emit(run_id)

    def _show_current(self, *_: object) -> None:
        record = self.current_run()
        self.settings.clear()
        if record is None:
            self.curves.set_history([])
            self.notes.setText("Select a run to see its settings and curves.")
        else:
            config = record.config
            for spec in config_fields():
                value = setting_text(getattr(config, spec.name))
                item = QTreeWidgetItem([label_for(spec.name), value])
                item.setToolTip(0, spec.metadata["help"])
                self.settings.addTopLevelItem(item)
            self.curves.set_history(record.metrics.get("history", []))
            self.notes.setText(self._notes(record))
        self._update_buttons()

    @staticmethod
    def _notes(record: RunRecord) -> str:
        lines = [
            f"Run {record.id}: {record.status}, {record.epochs_done} of "
            f"{record.config.epochs} epochs"
        ]
        if record.metrics.get("error"):
            lines.append(f"Error: {record.metrics['error']}")
        lines += [f"• {message}" for message in record.metrics.get("messages", [])[-5:]]
        return "\n".join(lines)

    def _update_buttons(self) -> None:
        record = self.current_run()
        finished = record is not None and record.status == FINISHED
        self.embed_button.setEnabled(finished)
        self.export_button.setEnabled(finished)
        resumable = (
            record is not None
            and record.status in RESUMABLE
            and record.checkpoint is not None
            and record.checkpoint.exists()
        )
        self.resume_button.setEnabled(resumable and not self._busy)
