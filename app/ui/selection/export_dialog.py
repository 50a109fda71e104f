"""Export a saved selection: every format of ``export_subset_job``, a train / val split and
overwrite, to a chosen destination. The export runs as a job; refusals show in the dialog."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.core.export.annotations import ANNOTATION_FORMATS
from app.core.export.subset import FORMATS, LISTS, ExportReport
from app.engine import JobRunner
from app.engine.runner import JobFactory
from app.ui.job_progress import JobProgress
from app.ui.selection.jobs import export_selection_job

DESCRIPTIONS = {
    "txt": "Names, one per line (.txt)",
    "csv": "Table with label, position and scores (.csv)",
    "json": "Samples with label, position and scores (.json)",
    "copy": "Copy the files into a folder",
    "symlink": "Link the files from a folder",
    "coco": "Images with their objects as COCO json",
    "yolo": "Images with their objects for YOLO (Ultralytics)",
    "voc": "Images with their objects as Pascal VOC xml",
}
OVERWRITE_HINT = "tick \u201cOverwrite existing files\u201d"


class ExportDialog(QDialog):
    """Not modal on its own; ``exported(report)`` after each finished export."""

    exported = Signal(object)

    def __init__(
        self, project_dir: Path, selection: str, count: int, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Export {selection}")
        self.project_dir = Path(project_dir)
        self.selection = selection
        self.runner = JobRunner(self)
        self.report: ExportReport | None = None

        self.format = QComboBox()
        for fmt in (*FORMATS, *ANNOTATION_FORMATS):
            self.format.addItem(DESCRIPTIONS[fmt], fmt)
        self.destination = QLineEdit()
        self.destination.setPlaceholderText("file or folder to write")
        self.browse = QPushButton("Browse\u2026")
        self.split = QCheckBox("Split into train and validation")
        self.val_percent = QDoubleSpinBox(decimals=0, minimum=1, maximum=99, value=20)
        self.val_percent.setSuffix(" % validation")
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1)
        self.seed.setPrefix("seed ")
        self.overwrite = QCheckBox("Overwrite existing files")
        self.overwrite.setToolTip("Replace files of the same name; otherwise the export refuses")
        self.progress = JobProgress(self.runner, row=True, idle="message")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.export_button = self.buttons.addButton(
            "Export", QDialogButtonBox.ButtonRole.ActionRole
        )

        where = QHBoxLayout()
        where.addWidget(self.destination, 1)
        where.addWidget(self.browse)
        split = QHBoxLayout()
        split.addWidget(self.split)
        split.addWidget(self.val_percent)
        split.addWidget(self.seed)
        split.addStretch(1)
        form = QFormLayout()
        form.addRow(QLabel(f"{count:,} samples of \u201c{selection}\u201d, in pick order"))
        form.addRow("Format", self.format)
        form.addRow("Destination", where)
        form.addRow("Split", split)
        form.addRow("", self.overwrite)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.buttons)

        self.format.currentIndexChanged.connect(self._format_changed)
        self.split.toggled.connect(self._sync_enabled)
        self.browse.clicked.connect(self.choose_destination)
        self.export_button.clicked.connect(self.export)
        self.buttons.rejected.connect(self.reject)
        self.runner.finished.connect(self._on_finished)
        self.runner.failed.connect(self._on_failed)
        self.runner.busy_changed.connect(lambda busy: self.export_button.setEnabled(not busy))
        self._sync_enabled()

    # ------------------------------------------------------------------- API
    def fmt(self) -> str:
        return self.format.currentData()

    def set_format(self, fmt: str) -> None:
        self.format.setCurrentIndex(self.format.findData(fmt))

    def choose_destination(self) -> None:
        """Ask for a file (lists) or a folder (copy, symlink)."""
        current = self.destination.text() or str(Path.home() / self._default_name())
        if self.fmt() in LISTS:
            path, _ = QFileDialog.getSaveFileName(
                self, "Export to file", current, f"{self.fmt()} (*.{self.fmt()})"
            )
        else:
            path = QFileDialog.getExistingDirectory(self, "Export into folder", current)
        if path:
            self.destination.setText(path)

    def export(self) -> None:
        """Start the export job; refusals and failures show in the dialog."""
        text = self.destination.text().strip()
        if not text:
            self.progress.show_error("Choose where to export first.")
            return
        if self.runner.is_busy:
            return
        self.runner.start(self._factory(Path(text).expanduser()), f"export {self.fmt()}")

    def shutdown(self) -> None:
        self.runner.shutdown()

    def done(self, result: int) -> None:  # noqa: D401 - Qt's name
        self.runner.cancel()
        super().done(result)

    # --------------------------------------------------------------- helpers
    def _factory(self, out: Path) -> JobFactory:
        project_dir, selection, fmt = self.project_dir, self.selection, self.fmt()
        overwrite = self.overwrite.isChecked()
        val = self.val_percent.value() / 100.0 if self.split.isChecked() else None
        seed = int(self.seed.value())
        return lambda cancel: export_selection_job(
            project_dir, selection, fmt, out, cancel, overwrite, val, seed
        )

    def _default_name(self) -> str:
        return f"{self.selection}.{self.fmt()}" if self.fmt() in LISTS else self.selection

    def _format_changed(self, *_: object) -> None:
        text = self.destination.text().strip()
        if text:
            path = Path(text)
            stem = path.with_suffix("") if path.suffix.lstrip(".") in LISTS else path
            is_list = self.fmt() in LISTS
            self.destination.setText(str(stem.with_suffix(f".{self.fmt()}") if is_list else stem))
        self._sync_enabled()

    def _sync_enabled(self, *_: object) -> None:
        self.val_percent.setEnabled(self.split.isChecked())
        self.seed.setEnabled(self.split.isChecked())

    def _on_finished(self, report: ExportReport) -> None:
        self.report = report
        lines = [f"{count:,} samples \u2192 {path}" for path, count in report.written.items()]
        if report.skipped:
            lines.append(f"{len(report.skipped):,} skipped (first: {report.skipped[0]})")
        self.progress.show_message("\n".join(lines) or "nothing written")
        self.exported.emit(report)

    def _on_failed(self, message: str, _details: str) -> None:
        self.progress.show_error(message.replace("pass --overwrite", OVERWRITE_HINT))
