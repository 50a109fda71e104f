"""File > Import annotations…: a COCO json, a YOLO folder or a VOC folder into the open project
as a named source. The import runs on a worker (its own :class:`JobRunner`); the dialog shows
its progress, and its one-line error when the labels are refused (the project is unchanged)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
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
    QWidget,
)

from app.core.jobs import CancelToken, Job
from app.engine.runner import JobRunner
from app.ui.job_progress import JobProgress

if TYPE_CHECKING:
    from app.core.data.annotations.importing import ImportReport
    from app.ui.main_window import MainWindow

FORMATS = {
    "coco": "COCO (a json file)",
    "yolo": "YOLO (a folder: data.yaml or classes.txt, txt labels)",
    "voc": "Pascal VOC (a folder of xml files)",
}
MENU_TEXT = "Import &annotations…"


def import_job(
    project_dir: Path, source: Path, fmt: str, name: str, cancel: CancelToken
) -> Job[ImportReport]:
    """The import on the worker thread, with the worker's own connection to the project."""
    from app.core.data.annotations.importing import import_annotations_job
    from app.core.store.project import Project

    with Project.open(project_dir) as project:
        return (yield from import_annotations_job(project, source, fmt, name, cancel=cancel))


class ImportAnnotationsDialog(QDialog):
    """Format, source and name; Import runs the job, the dialog closes when it succeeds."""

    imported = Signal(object)  # the ImportReport

    def __init__(self, project_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import annotations")
        self.project_dir = project_dir
        self.runner = JobRunner(self)
        self.format = QComboBox()
        for key, text in FORMATS.items():
            self.format.addItem(text, key)
        self.source = QLineEdit()
        self.source.setPlaceholderText("the labels: a json file or a folder")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self.browse)
        row = QHBoxLayout()
        row.addWidget(self.source, 1)
        row.addWidget(browse)
        self.name = QLineEdit("ground_truth")
        self.name.setToolTip("A source of this name is replaced; other sources stay")
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setTextFormat(Qt.TextFormat.PlainText)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.setStyleSheet("color: #c0392b")
        self.error.hide()
        self.progress = JobProgress(self.runner, row=True)
        form = QFormLayout(self)
        form.addRow("Format", self.format)
        form.addRow("Labels", row)
        form.addRow("Source name", self.name)
        form.addRow(self.error)
        form.addRow(self.progress)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.import_button = self.buttons.addButton(
            "Import", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.buttons.accepted.connect(self.start)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)
        self.resize(560, self.sizeHint().height())
        self.source.textChanged.connect(self._update)
        self.name.textChanged.connect(self._update)
        self.runner.busy_changed.connect(lambda _: self._update())
        self.runner.finished.connect(self._on_finished)
        self.runner.failed.connect(self._on_failed)
        self._update()

    def chosen_format(self) -> str:
        return str(self.format.currentData())

    def browse(self) -> None:
        start = self.source.text() or str(self.project_dir.parent)
        if self.chosen_format() == "coco":
            path, _ = QFileDialog.getOpenFileName(self, "COCO json", start, "JSON (*.json)")
        else:
            path = QFileDialog.getExistingDirectory(self, "Labels folder", start)
        if path:
            self.source.setText(path)

    def start(self) -> None:
        """Run the import (the dialog stays open until it ends)."""
        source = Path(self.source.text().strip()).expanduser()
        fmt, name, project_dir = self.chosen_format(), self.name.text().strip(), self.project_dir
        self.error.hide()
        self.runner.start(
            lambda cancel: import_job(project_dir, source, fmt, name, cancel),
            f"Importing {source.name}",
        )

    def reject(self) -> None:
        if self.runner.is_busy:
            self.runner.cancel()
            return
        super().reject()

    def done(self, result: int) -> None:
        self.runner.shutdown()
        super().done(result)

    def _update(self) -> None:
        ready = bool(self.source.text().strip() and self.name.text().strip())
        self.import_button.setEnabled(ready and not self.runner.is_busy)

    def _on_finished(self, report: ImportReport) -> None:
        self.imported.emit(report)
        self.accept()

    def _on_failed(self, message: str, details: str) -> None:
        self.error.setText(message)
        self.error.show()
        self.layout().activate()
        self.resize(
            self.width(), max(self.height(), self.layout().totalHeightForWidth(self.width()))
        )


def install_import_annotations(window: MainWindow, after: QAction | None = None) -> QAction:
    """Add File ▸ Import annotations… (after ``after``)."""
    action = QAction(MENU_TEXT, window)
    action.triggered.connect(lambda: open_import_dialog(window))
    file_menu = window.menuBar().actions()[0].menu()
    actions = file_menu.actions()
    following = actions[actions.index(after) + 1] if after in actions else None
    file_menu.insertAction(following, action)
    return action


def open_import_dialog(
    window: MainWindow, shown: Callable[[ImportAnnotationsDialog], None] | None = None
) -> ImportAnnotationsDialog | None:
    """Open the dialog for the window's project; on success, reload the objects and say so."""
    if window.project is None:
        window.statusBar().showMessage("Open a project first, then import its annotations", 5000)
        return None
    dialog = ImportAnnotationsDialog(window.project.path, window)

    def imported(report: ImportReport) -> None:
        window.browser.objects.reload()
        window.statusBar().showMessage(
            f"Imported {report.objects:,} objects on {report.images:,} images as {report.name!r}",
            8000,
        )

    dialog.imported.connect(imported)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    if shown is not None:
        shown(dialog)
    dialog.open()
    return dialog
