"""Export backbone…: choose a format and a file for a finished run's backbone."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.ssl.export import FORMATS

FORMAT_LABELS = {
    "state_dict": "state_dict (.pt) — reload with Sieve or torchvision",
    "torchscript": "TorchScript (.pt) — runs with torch.jit.load, no Sieve code",
    "onnx": "ONNX (.onnx) — for ONNX Runtime and other frameworks",
}
SUFFIXES = {"state_dict": ".pt", "torchscript": ".torchscript.pt", "onnx": ".onnx"}
ONNX_MISSING = (
    "ONNX needs the 'onnx' package, which is not installed (pip install onnx onnxscript)."
)


def onnx_available() -> bool:
    return importlib.util.find_spec("onnx") is not None


@dataclass(frozen=True)
class ExportRequest:
    run_id: int
    format: str
    path: Path


class ExportDialog(QDialog):
    """Format and path for exporting run ``run_id``; ``request()`` reads the choice."""

    def __init__(self, run_id: int, default_path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run_id = run_id
        self.setWindowTitle(f"Export backbone of run {run_id}")
        self.format_combo = QComboBox()
        for name in FORMATS:
            self.format_combo.addItem(FORMAT_LABELS.get(name, name), name)
        self.reason = QLabel()
        self.reason.setWordWrap(True)
        self.reason.setStyleSheet("QLabel { color: palette(placeholder-text); }")
        if not onnx_available():
            self._disable_format("onnx", ONNX_MISSING)
        self.path_edit = QLineEdit(str(default_path))
        self.path_edit.setMinimumWidth(360)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Format", self.format_combo)
        form.addRow("", self.reason)
        form.addRow("File", path_row)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Export")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self.format_combo.currentIndexChanged.connect(self._on_format)
        self.path_edit.textChanged.connect(self._update_ok)
        self._update_ok()

    def _disable_format(self, name: str, reason: str) -> None:
        index = self.format_combo.findData(name)
        model = self.format_combo.model()
        if isinstance(model, QStandardItemModel):
            model.item(index).setEnabled(False)
        self.format_combo.setItemText(index, f"{FORMAT_LABELS[name]} — not available")
        self.format_combo.setItemData(index, reason, Qt.ItemDataRole.ToolTipRole)
        self.reason.setText(reason)

    def set_format(self, name: str) -> None:
        self.format_combo.setCurrentIndex(self.format_combo.findData(name))

    def request(self) -> ExportRequest:
        path = Path(self.path_edit.text().strip()).expanduser()
        return ExportRequest(self.run_id, self.format_combo.currentData(), path)

    def _on_format(self) -> None:
        """Swap the file's suffix for the new format's."""
        text = self.path_edit.text().strip()
        if not text:
            return
        path = Path(text)
        for suffix in sorted(SUFFIXES.values(), key=len, reverse=True):
            if path.name.endswith(suffix):
                path = path.with_name(path.name[: -len(suffix)])
                break
        self.path_edit.setText(str(path) + SUFFIXES[self.format_combo.currentData()])

    def _browse(self) -> None:
        suffix = SUFFIXES[self.format_combo.currentData()]
        path, _ = QFileDialog.getSaveFileName(
            self, "Export backbone", self.path_edit.text(), f"*{suffix};;All files (*)"
        )
        if path:
            self.path_edit.setText(path)

    def _update_ok(self) -> None:
        self.ok_button.setEnabled(bool(self.path_edit.text().strip()))
