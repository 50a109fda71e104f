"""Import predictions…: a COCO results json or a YOLO folder with scores as a predictions
source (``sieve import-predictions --format``), from the evaluation view. The annotation import
dialog with the predictions' formats and job: progress, Cancel, a refusal's one line."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QWidget

from app.core.jobs import CancelToken, Job
from app.ui.dialogs.import_annotations import ImportAnnotationsDialog

FORMATS = {
    "coco": "COCO results (a json list with scores)",
    "yolo": "YOLO (a folder of txt labels with a score column)",
}


def import_predictions_job(
    project_dir: Path, source: Path, fmt: str, name: str, cancel: CancelToken
) -> Job:
    """The import on the worker thread, with the worker's own connection to the project."""
    from app.core.active.detection_predictions import import_detections_job
    from app.core.store.project import Project

    with Project.open(project_dir) as project:
        return (yield from import_detections_job(project, source, fmt, cancel, name))


class ImportPredictionsDialog(ImportAnnotationsDialog):
    """Format, file or folder and source name; ``imported(DetectionImport)`` on success."""

    def __init__(self, project_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__(project_dir, parent)
        self.setWindowTitle("Import predictions")
        self.format.clear()
        for key, text in FORMATS.items():
            self.format.addItem(text, key)
        self.source.setPlaceholderText("the predictions: a results json or a folder")
        self.name.setText("predictions")

    def start(self) -> None:
        """Run the import (the dialog stays open until it ends)."""
        source = Path(self.source.text().strip()).expanduser()
        fmt, name, project_dir = self.chosen_format(), self.name.text().strip(), self.project_dir
        self.error.hide()
        self.runner.start(
            lambda cancel: import_predictions_job(project_dir, source, fmt, name, cancel),
            f"Importing {source.name}",
        )
