"""File > Import torchvision dataset…: name, where its files are, where to write the images."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from app.core.data.torchvision_import import dataset_names_fast


@dataclass(frozen=True)
class ImportRequest:
    name: str
    root: Path
    out_dir: Path
    split: str
    download: bool
    limit: int | None


def _folder_row(edit: QLineEdit, title: str, parent: QWidget) -> QHBoxLayout:
    browse = QPushButton("Browse…")

    def choose() -> None:
        folder = QFileDialog.getExistingDirectory(parent, title, edit.text())
        if folder:
            edit.setText(folder)

    browse.clicked.connect(choose)
    row = QHBoxLayout()
    row.addWidget(edit, 1)
    row.addWidget(browse)
    return row


class ImportTorchvisionDialog(QDialog):
    """Collects an :class:`ImportRequest`; OK is enabled once the form is complete."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import a torchvision dataset")
        self.name = QComboBox()
        self.name.setEditable(True)
        self.name.addItems(dataset_names_fast())
        self.name.setCurrentText("CIFAR10")
        self.root = QLineEdit()
        self.root.setPlaceholderText("folder holding the dataset's files")
        self.out_dir = QLineEdit()
        self.out_dir.setPlaceholderText("new folder for the images")
        self.split = QComboBox()
        self.split.setEditable(True)
        self.split.addItems(["train", "test", "val"])
        self.limit = QSpinBox()
        self.limit.setRange(0, 10_000_000)
        self.limit.setSpecialValueText("all")
        self.download = QCheckBox("Download if missing (needs internet)")

        form = QFormLayout(self)
        form.addRow("Dataset", self.name)
        form.addRow("Files in", _folder_row(self.root, "Dataset files", self))
        form.addRow("Write images to", _folder_row(self.out_dir, "Output folder", self))
        form.addRow("Split", self.split)
        form.addRow("Items", self.limit)
        form.addRow("", self.download)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)
        for edit in (self.root, self.out_dir):
            edit.textChanged.connect(self._update_ok)
        self._update_ok()

    def _update_ok(self) -> None:
        complete = bool(self.root.text().strip() and self.out_dir.text().strip())
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(complete)

    def request(self) -> ImportRequest:
        return ImportRequest(
            name=self.name.currentText().strip(),
            root=Path(self.root.text().strip()).expanduser(),
            out_dir=Path(self.out_dir.text().strip()).expanduser(),
            split=self.split.currentText().strip() or "train",
            download=self.download.isChecked(),
            limit=self.limit.value() or None,
        )
