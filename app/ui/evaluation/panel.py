"""EvaluationPanel: evaluate a predictions source against the ground truth and use the result.

The evaluation runs on the panel's :class:`JobRunner` (progress line, Cancel) and stores its
per-image scores; the panel then shows mAP, a per-class table and the confusion matrix.
"Worst images first" sorts the grid by the error score, "Only images with errors" filters it to
the saved selection of those images, and a click on a confusion cell selects that cell's images
in the shared :class:`AppState` (every view shows the selection; the grid scrolls to the first).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.core.evaluation.evaluate import ERROR_KEY, ERRORS_SELECTION, Evaluation
from app.engine import JobRunner, LatestRunner
from app.gui_model.state import AppState
from app.ui.evaluation.import_dialog import ImportPredictionsDialog
from app.ui.evaluation.jobs import SourcesInfo, evaluate_job, read_sources_job
from app.ui.evaluation.tables import ClassTable, ConfusionTable, ap_text
from app.ui.job_progress import JobProgress

if TYPE_CHECKING:
    from app.core.active.detection_predictions import DetectionImport

NO_SOURCES = "Import the ground truth (File \u25b8 Import annotations) and predictions to evaluate."


class EvaluationPanel(QWidget):
    """See the module docstring.

    ``evaluated``: scores and the errors selection were stored (views listing scores and saved
    selections should read them again). ``images_chosen(ids)``: a confusion cell's images were
    selected. ``predictions_imported``: Import predictions… stored a source and its scores.
    """

    evaluated = Signal()
    images_chosen = Signal(object)
    predictions_imported = Signal()

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.project_dir: Path | None = None
        self.info: SourcesInfo | None = None
        self.evaluation: Evaluation | None = None
        self.summary: dict[str, Any] | None = None
        self.runner = JobRunner(self)
        self._reader = LatestRunner(parent=self)

        self.gt_combo = QComboBox()
        self.gt_combo.setToolTip("The annotations taken as true")
        self.predictions_combo = QComboBox()
        self.predictions_combo.setToolTip("The model's boxes with scores")
        self.iou = QDoubleSpinBox()
        self.iou.setRange(0.05, 0.95)
        self.iou.setSingleStep(0.05)
        self.iou.setDecimals(2)
        self.iou.setValue(0.5)
        self.iou.setToolTip("A prediction matches an object when their IoU is at least this")
        self.import_button = QPushButton("Import predictions\u2026")
        self.import_button.setToolTip(
            "A COCO results json or a YOLO folder with scores, as a predictions source"
        )
        self.evaluate_button = QPushButton("Evaluate")
        self.evaluate_button.setDefault(True)
        self.evaluate_button.setToolTip(
            "Match the predictions to the ground truth: COCO mAP, TP / FP / FN per class and "
            "image, confusion matrix"
        )
        self.progress = JobProgress(self.runner, row=True, idle="message")
        self.headline = QLabel(NO_SOURCES)
        self.headline.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
        self.classes = ClassTable()
        self.confusion = ConfusionTable()
        self.worst_button = QPushButton("Worst images first")
        self.worst_button.setToolTip(
            f"Sort the grid by the error score ({ERROR_KEY}: missed objects plus the confidence "
            "of false detections), largest first"
        )
        self.errors_button = QPushButton("Only images with errors")
        self.errors_button.setCheckable(True)
        self.errors_button.setToolTip(f"Show only the images of the selection {ERRORS_SELECTION!r}")

        form = QFormLayout()
        form.addRow("Ground truth", self.gt_combo)
        form.addRow("Predictions", self.predictions_combo)
        iou_row = QHBoxLayout()
        iou_row.addWidget(self.iou)
        iou_row.addStretch(1)
        iou_row.addWidget(self.import_button)
        iou_row.addWidget(self.evaluate_button)
        form.addRow("IoU", iou_row)
        confusion_box = QWidget()
        confusion_layout = QVBoxLayout(confusion_box)
        confusion_layout.setContentsMargins(0, 4, 0, 0)
        caption = QLabel("Confusion (rows: ground truth, columns: predicted; click a cell)")
        caption.setWordWrap(True)
        confusion_layout.addWidget(caption)
        confusion_layout.addWidget(self.confusion, 1)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.classes)
        splitter.addWidget(confusion_box)
        splitter.setChildrenCollapsible(False)
        buttons = QHBoxLayout()
        buttons.addWidget(self.worst_button)
        buttons.addWidget(self.errors_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.headline)
        layout.addWidget(splitter, 1)
        layout.addLayout(buttons)

        self.evaluate_button.clicked.connect(self.evaluate)
        self.import_button.clicked.connect(self.import_predictions)
        self.worst_button.clicked.connect(self.worst_first)
        self.errors_button.toggled.connect(self.only_errors)
        self.confusion.cell_chosen.connect(self.choose_cell)
        self.runner.finished.connect(self._on_evaluated)
        self.runner.failed.connect(lambda message, _details: self.progress.show_error(message))
        self.runner.busy_changed.connect(lambda _busy: self._update_actions())
        self._reader.finished.connect(self._on_sources)
        self._reader.failed.connect(lambda message, _details: self.progress.show_error(message))
        self._unsubscribe = state.subscribe(self._on_state)
        self._update_actions()

    # ------------------------------------------------------------------- API
    def set_project(self, project_dir: Path | None) -> None:
        """Show ``project_dir``'s sources and last evaluation (read off the GUI thread)."""
        self.project_dir = None if project_dir is None else Path(project_dir)
        self.info, self.evaluation = None, None
        self._show_summary(None)
        self._fill_combos()
        self.reload()

    def reload(self) -> None:
        """Read the annotation sources again (after an import)."""
        project_dir = self.project_dir
        if project_dir is not None:
            self._reader.request(
                lambda cancel: read_sources_job(project_dir, cancel), "read annotation sources"
            )

    def evaluate(self) -> None:
        """Run the evaluation of the chosen sources on the panel's runner."""
        if self.project_dir is None or self.runner.is_busy:
            return
        project_dir, iou = self.project_dir, float(self.iou.value())
        gt = self.gt_combo.currentData()
        predictions = self.predictions_combo.currentData()
        self.runner.start(
            lambda cancel: evaluate_job(project_dir, gt, predictions, iou, cancel),
            f"evaluate {predictions or 'predictions'}",
        )

    def import_predictions(self) -> ImportPredictionsDialog | None:
        """Open the Import predictions dialog; on success, read the sources again."""
        if self.project_dir is None:
            return None
        dialog = ImportPredictionsDialog(self.project_dir, self)

        def imported(report: DetectionImport) -> None:
            self.progress.show_message(
                f"imported {report.boxes:,} boxes on {report.images:,} images as {report.name!r}"
            )
            self.reload()
            self.predictions_imported.emit()

        dialog.imported.connect(imported)
        dialog.open()
        return dialog

    def worst_first(self) -> None:
        """Sort the grid by the error score, the worst image first."""
        self.state.set_filter(self.state.filter.with_(sort=ERROR_KEY, descending=True))

    def only_errors(self, on: bool) -> None:
        """Filter the grid to the images with an error (or stop filtering)."""
        wanted = ERRORS_SELECTION if on else None
        if on or self.state.filter.selection == ERRORS_SELECTION:
            self.state.set_filter(self.state.filter.with_(selection=wanted))

    def choose_cell(self, row: int, column: int) -> None:
        """Select the images behind confusion cell ``(row, column)`` in every view."""
        if self.evaluation is None:
            self.progress.show_message("Evaluate to pick the images behind a cell.")
            return
        ids = self.evaluation.images_in_cell(row, column)
        labels = self.evaluation.labels
        self.state.select(ids)
        if len(ids):
            self.state.set_current(int(ids[0]))
        self.progress.show_message(
            f"selected {len(ids):,} images: {labels[row]} \u2192 {labels[column]}"
        )
        self.images_chosen.emit(ids)

    def shutdown(self) -> None:
        self._unsubscribe()
        self.runner.shutdown()
        self._reader.shutdown()

    # -------------------------------------------------------------- results
    def _on_sources(self, info: SourcesInfo) -> None:
        self.info = info
        self._fill_combos()
        if self.evaluation is None and info.summary is not None:
            self._show_summary(info.summary, stored=True)
        self._update_actions()

    def _on_evaluated(self, evaluation: Evaluation) -> None:
        self.evaluation = evaluation
        self._show_summary(evaluation.to_json())
        self.progress.show_message(f"evaluated {len(evaluation.sample_ids):,} images")
        self.evaluated.emit()

    def _show_summary(self, summary: dict[str, Any] | None, stored: bool = False) -> None:
        self.summary = summary
        self.classes.show_summary(summary)
        if summary is None:
            self.confusion.show_confusion([], [])
            self.headline.setText(NO_SOURCES if not self._has_pair() else "")
        else:
            confusion = summary["confusion"]
            self.confusion.show_confusion(confusion["classes"], confusion["matrix"])
            self.headline.setText(_headline(summary, stored))
            self.headline.setToolTip(self.headline.text())
        self._update_actions()

    # ---------------------------------------------------------------- helpers
    def _fill_combos(self) -> None:
        sources = [] if self.info is None else self.info.sources
        truths = [s.name for s in sources if s.is_ground_truth]
        found = [s.name for s in sources if not s.is_ground_truth]
        default_truth = None if self.info is None else self.info.truth
        _fill(self.gt_combo, truths, default_truth)
        _fill(self.predictions_combo, found, "predictions" if "predictions" in found else None)
        if self.info is not None and self.summary is None:
            self.headline.setText("" if self._has_pair() else NO_SOURCES)

    def _has_pair(self) -> bool:
        return self.gt_combo.count() > 0 and self.predictions_combo.count() > 0

    def _update_actions(self) -> None:
        busy = self.runner.is_busy
        self.evaluate_button.setEnabled(
            self.project_dir is not None and self._has_pair() and not busy
        )
        has_scores = self.summary is not None
        self.worst_button.setEnabled(has_scores and not busy)
        self.errors_button.setEnabled(has_scores and not busy)

    def _on_state(self, event: str) -> None:
        if event == "filter":
            with QSignalBlocker(self.errors_button):
                self.errors_button.setChecked(self.state.filter.selection == ERRORS_SELECTION)


def _fill(combo: QComboBox, names: list[str], preferred: str | None) -> None:
    keep = combo.currentData()
    with QSignalBlocker(combo):
        combo.clear()
        for name in names:
            combo.addItem(name, name)
        wanted = keep if keep in names else preferred if preferred in names else None
        if wanted is not None:
            combo.setCurrentIndex(names.index(wanted))
        elif names:
            combo.setCurrentIndex(len(names) - 1)


def _headline(summary: dict[str, Any], stored: bool) -> str:
    maps = f"mAP {ap_text(summary['map'])} \u00b7 mAP50 {ap_text(summary['map50'])}"
    counts = f"TP {summary['tp']:,} \u00b7 FP {summary['fp']:,} \u00b7 FN {summary['fn']:,}"
    images = f"{summary['images']:,} images, {summary['images_with_errors']:,} with errors"
    where = f"{summary['predictions']} vs {summary['ground_truth']}, IoU {summary['iou']:g}"
    last = " (last evaluation)" if stored else ""
    return f"{maps} \u00b7 {counts}\n{images}\n{where}{last}"
