"""TrainingPanel: set up, watch and manage self-supervised training runs.

Left, the settings (generated from TrainConfig) with Start / Pause / Resume / Stop and the job's
progress; in the middle, the augmentation preview and the live curves; right, the project's runs.
The panel owns its own :class:`JobRunner` for training (so training runs beside the main
window's jobs) and another for exports; each job opens its own Project on the worker thread.

Pause cancels the job: the trainer writes a consistent checkpoint when stopped and marks the run
"stopped", and Resume continues the same run from it. Stop cancels for good (the run can still
be resumed later from the runs list).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Literal

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.core.data.images import ImageError
from app.core.data.video import VideoError
from app.core.errors import SieveError
from app.core.jobs import Progress
from app.core.ssl.checks import check_config
from app.core.ssl.trainer import TrainResult
from app.engine import JobRunner
from app.gui_model.state import AppState, Event
from app.ui.index_gate import gate
from app.ui.job_progress import JobProgress
from app.ui.training.curves import LiveCurves
from app.ui.training.estimate_box import CpuEstimate
from app.ui.training.export_dialog import SUFFIXES, ExportDialog, ExportRequest
from app.ui.training.form import TrainForm
from app.ui.training.jobs import (
    ProjectFacts,
    TrainSession,
    export_job,
    preview_sample,
    read_facts,
    read_runs,
    train_session_job,
)
from app.ui.training.messages import MessageLabel
from app.ui.training.preview import DEBOUNCE_MS, AugmentPreview
from app.ui.training.run_list import RunList

Phase = Literal["idle", "running", "pausing", "stopping", "paused"]
TABS_MIN_HEIGHT = 420
CURVES_TAB, PREVIEW_TAB, RUNS_TAB = 0, 1, 2


class TrainingPanel(QWidget):
    """Training settings, live curves and runs for the open project."""

    embed_and_map_requested = Signal(int)

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.project_dir: Path | None = None
        self.facts: ProjectFacts | None = None
        self.phase: Phase = "idle"
        self.session: TrainSession | None = None
        self.paused_run: int | None = None
        self.export_dialog: ExportDialog | None = None
        self._export_request: ExportRequest | None = None
        self._curves_run: int | None = None
        self._listed_run: int | None = None
        self._preview_sample: int | None = None
        self._closed = False
        self.runner = JobRunner(self)
        self.export_runner = JobRunner(self)

        self.form = TrainForm()
        self.estimate = CpuEstimate()
        self.message = MessageLabel()
        self.start_button = QPushButton("Start")
        self.pause_button = QPushButton("Pause")
        self.resume_button = QPushButton("Resume")
        self.stop_button = QPushButton("Stop")
        self.start_button.setToolTip("Train a new run with these settings")
        self.pause_button.setToolTip("Stop after this step with a checkpoint; Resume continues")
        self.resume_button.setToolTip("Continue the paused run where it stopped")
        self.stop_button.setToolTip("End the run (it keeps its last checkpoint)")
        self.start_button.setDefault(True)
        self.progress = JobProgress(self.runner, on_cancel=self.stop)
        self.preview = AugmentPreview()
        self.curves = LiveCurves()
        self.runs = RunList()
        self.export_progress = JobProgress(self.export_runner)
        self.export_message = MessageLabel()

        self._source_timer = QTimer(self)
        self._source_timer.setSingleShot(True)
        self._source_timer.setInterval(DEBOUNCE_MS)
        self._source_timer.timeout.connect(self._load_preview_source)

        self._build_layout()
        self._connect()
        unsubscribe = state.subscribe(self._on_state)
        self._unsubscribe = unsubscribe
        self.destroyed.connect(lambda *_: unsubscribe())
        self.set_project(None)

    # ------------------------------------------------------------------ layout
    def _build_layout(self) -> None:
        buttons = QHBoxLayout()
        for button in (self.start_button, self.pause_button, self.resume_button, self.stop_button):
            buttons.addWidget(button)
        settings = QVBoxLayout()
        settings.addWidget(self.form)
        settings.addWidget(self.estimate)
        settings.addStretch(1)
        settings.addWidget(self.message)
        settings.addLayout(buttons)
        settings.addWidget(self.progress)
        settings_box = QGroupBox("Settings")
        settings_box.setLayout(settings)
        runs = QWidget()
        runs_layout = QVBoxLayout(runs)
        runs_layout.setContentsMargins(0, 0, 0, 0)
        runs_layout.addWidget(self.runs, 1)
        runs_layout.addWidget(self.export_progress)
        runs_layout.addWidget(self.export_message)

        self.tabs = QTabWidget()
        self.tabs.addTab(self.curves, "Live curves")
        self.tabs.addTab(self.preview, "Augmentations")
        self.tabs.addTab(runs, "Runs")
        self.tabs.setMinimumHeight(TABS_MIN_HEIGHT)
        self.tabs.setCurrentIndex(PREVIEW_TAB)

        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(settings_box)
        split.addWidget(self.tabs)
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(split)

    def _connect(self) -> None:
        self.form.changed.connect(self._on_form_changed)
        self.estimate.apply_requested.connect(self.form.set_config)
        self.start_button.clicked.connect(self.start)
        self.pause_button.clicked.connect(self.pause)
        self.resume_button.clicked.connect(self.resume)
        self.stop_button.clicked.connect(self.stop)
        self.runner.progress.connect(self._on_progress)
        self.runner.finished.connect(self._on_finished)
        self.runner.failed.connect(self._on_failed)
        self.runner.cancelled.connect(self._on_cancelled)
        self.runner.busy_changed.connect(self._update_controls)
        self.export_runner.finished.connect(self._on_exported)
        self.export_runner.failed.connect(self._on_export_failed)
        self.export_runner.cancelled.connect(
            lambda: self.export_message.show_message("Export cancelled.", "warning")
        )
        self.runs.embed_requested.connect(self.embed_and_map_requested)
        self.runs.export_requested.connect(self.open_export_dialog)
        self.runs.resume_requested.connect(self.resume_run)

    # ----------------------------------------------------------------- project
    def set_project(self, path: Path | None) -> None:
        """Show the runs of the project in ``path`` (None: no project)."""
        if self.runner.is_busy:
            self.phase = "stopping"
            self.runner.cancel()
        else:
            self.phase = "idle"
        self.project_dir = None if path is None else Path(path)
        self.paused_run = None
        self._preview_sample = None
        self.facts = None
        self.message.clear_message()
        self.export_message.clear_message()
        if self.project_dir is not None:
            try:
                self.facts = read_facts(self.project_dir)
            except SieveError as error:
                self.message.show_message(str(error), "error")
        labelled = self.facts is None or self.facts.labelled
        self.curves.clear(labelled=labelled)
        self._curves_run = None
        self.refresh_runs()
        self._load_preview_source()
        self._on_form_changed()
        self._update_controls()

    def refresh_runs(self, select: int | None = None) -> None:
        """Re-read the project's runs (a short read of the runs table)."""
        if self.project_dir is None:
            self.runs.set_runs([])
            return
        try:
            records = read_runs(self.project_dir)
        except SieveError as error:
            self.message.show_message(f"Cannot read the training runs: {error}", "error")
            return
        self.runs.set_runs(records, select)

    # ----------------------------------------------------------------- control
    def start(self) -> None:
        """Check the form's settings and train a new run with them."""
        if self.project_dir is None:
            self.message.show_message("Open a project to train on.", "error")
            return
        try:
            config = self.form.config()
            check_config(config)
        except SieveError as error:
            self.message.show_message(f"Cannot start: {error}", "error")
            return
        if self._launch(TrainSession(config), f"Training {config.method}"):
            self.curves.clear(labelled=self._labelled(), epochs=config.epochs)
            self._curves_run = None

    def pause(self) -> None:
        """Stop at the next step with a checkpoint; :meth:`resume` continues the same run."""
        if self.phase == "running":
            self.phase = "pausing"
            self.message.show_message("Pausing after this step…")
            self.runner.cancel()
            self._update_controls()

    def resume(self) -> None:
        """Continue the paused run."""
        if self.phase == "paused" and self.paused_run is not None:
            self.resume_run(self.paused_run)

    def stop(self) -> None:
        """End the running or paused run."""
        if self.phase in ("running", "pausing"):
            self.phase = "stopping"
            self.message.show_message("Stopping after this step…")
            self.runner.cancel()
        elif self.phase == "paused":
            run_id, self.paused_run, self.phase = self.paused_run, None, "idle"
            self.message.show_message(
                f"Run {run_id} stopped at its last checkpoint; "
                "select it under Runs to resume it later."
            )
        self._update_controls()

    def resume_run(self, run_id: int) -> None:
        """Continue stopped run ``run_id`` with its stored settings."""
        if self.project_dir is None:
            return
        record = self.runs.records.get(run_id)
        if not self._launch(TrainSession(None, resume=run_id), f"Resuming run {run_id}"):
            return
        if self._curves_run != run_id and record is not None:
            history = record.metrics.get("history", [])
            self.curves.clear(history, self._labelled(), record.config.epochs)
            self._curves_run = run_id

    def _launch(self, session: TrainSession, name: str) -> bool:
        assert self.project_dir is not None
        try:
            self.runner.start(partial(train_session_job, self.project_dir, session), name)
        except SieveError as error:
            self.message.show_message(str(error), "error")
            return False
        self.session = session
        self.phase = "running"
        self.tabs.setCurrentIndex(CURVES_TAB)
        self.paused_run = None
        self._listed_run = None
        self.message.clear_message()
        self._update_controls()
        return True

    def _labelled(self) -> bool:
        return self.facts is None or self.facts.labelled

    def shutdown(self) -> None:
        """Stop the panel's jobs and wait for them (the trainer checkpoints); idempotent."""
        if self._closed:
            return
        self._closed = True
        self._unsubscribe()
        for timer in (self._source_timer, self.preview.timer, self.curves.timer):
            timer.stop()
        self.runner.shutdown()
        self.export_runner.shutdown()
        self.phase = "idle"

    # ------------------------------------------------------------ job events
    @Slot(object)
    def _on_progress(self, progress: Progress) -> None:
        self.curves.add(progress.partial)
        session = self.session
        if session is None or session.run_id is None:
            return
        self._curves_run = session.run_id
        partial_kind = progress.partial.get("kind") if isinstance(progress.partial, dict) else None
        if self._listed_run != session.run_id or partial_kind == "epoch":
            self._listed_run = session.run_id
            self.refresh_runs(select=session.run_id)

    @Slot(object)
    def _on_finished(self, result: TrainResult) -> None:
        self.phase = "idle"
        last = result.history[-1] if result.history else {}
        loss = f", loss {last['loss']:.4f}" if last.get("loss") is not None else ""
        knn = f", kNN {last['knn']:.1%}" if last.get("knn") is not None else ""
        notes = "".join(f"\n• {message}" for message in result.messages[-3:])
        self.message.show_message(
            f"Run {result.run_id} finished: {result.epochs_done} epochs{loss}{knn}.{notes}",
            "success",
        )
        self.refresh_runs(select=result.run_id)
        self.tabs.setCurrentIndex(RUNS_TAB)
        self._update_controls()

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self.phase = "idle"
        self.message.show_message(f"Training failed: {message}", "error")
        run_id = self.session.run_id if self.session else None
        self.refresh_runs(select=run_id)
        self._update_controls()

    @Slot()
    def _on_cancelled(self) -> None:
        run_id = self.session.run_id if self.session else None
        if run_id is None:
            self.phase = "idle"
            self.message.show_message("Stopped before the run began; nothing was saved.")
        elif self.phase == "pausing":
            self.phase, self.paused_run = "paused", run_id
            self.message.show_message(f"Run {run_id} paused at a checkpoint. Resume continues it.")
        else:
            self.phase = "idle"
            self.message.show_message(
                f"Run {run_id} stopped at a checkpoint; select it under Runs to resume it later."
            )
        self.refresh_runs(select=run_id)
        self._update_controls()

    def _update_controls(self, *_: object) -> None:
        busy = self.runner.is_busy
        project = self.project_dir is not None
        gate(self.start_button, self.state, project and not busy)
        self.pause_button.setEnabled(self.phase == "running")
        self.resume_button.setEnabled(self.phase == "paused" and not busy)
        self.stop_button.setEnabled(self.phase in ("running", "pausing", "paused"))
        self.form.setEnabled(not busy)
        self.estimate.setEnabled(not busy)
        self.runs.set_busy(busy)

    # ------------------------------------------------------------------ form
    def _on_form_changed(self) -> None:
        try:
            config = self.form.config()
        except SieveError as error:
            self.preview.show_problem(str(error))
            self.estimate.show_for(None, 0)
            return
        self.preview.request(config.method, max(config.image_size, 8), config.augment)
        self.estimate.show_for(config, self.facts.samples if self.facts else 0)

    # --------------------------------------------------------------- preview
    def _on_state(self, event: Event) -> None:
        if event == "indexing":
            self._update_controls()
        if event == "current" and self.project_dir is not None:
            self._source_timer.start()

    def _load_preview_source(self) -> None:
        """The current sample (else the first usable one) as the preview's source."""
        if self.project_dir is None:
            self.preview.set_source(None)
            return
        wanted = self.state.current
        if wanted is not None and wanted == self._preview_sample:
            return
        try:
            found = preview_sample(self.project_dir, wanted)
        except (SieveError, ImageError, VideoError, OSError) as error:
            self.preview.set_source(None)
            self.preview.show_problem(f"Cannot read the preview sample: {error}")
            return
        if found is None:
            self.preview.set_source(None)
            return
        row, image = found
        self._preview_sample = row.id
        self.preview.set_source(image, row.name)

    # ---------------------------------------------------------------- export
    def open_export_dialog(self, run_id: int) -> ExportDialog | None:
        """Ask for a format and a file, then export run ``run_id``'s backbone as a job."""
        record = self.runs.records.get(run_id)
        if self.project_dir is None or record is None:
            return None
        default = self.project_dir / "exports" / f"run-{run_id}-{record.config.backbone}"
        dialog = ExportDialog(
            run_id, default.with_name(default.name + SUFFIXES["state_dict"]), self
        )
        dialog.accepted.connect(lambda: self.export(dialog.request()))
        dialog.finished.connect(dialog.deleteLater)
        self.export_dialog = dialog
        dialog.open()
        return dialog

    def export(self, request: ExportRequest) -> None:
        if self.project_dir is None:
            return
        factory = partial(
            export_job, self.project_dir, request.run_id, request.format, request.path
        )
        try:
            self.export_runner.start(factory, f"Export run {request.run_id}")
        except SieveError as error:
            self.export_message.show_message(str(error), "error")
            return
        self._export_request = request
        self.export_message.clear_message()

    @Slot(object)
    def _on_exported(self, path: Path) -> None:
        request = self._export_request
        what = f" of run {request.run_id} as {request.format}" if request else ""
        self.export_message.show_message(f"Exported the backbone{what} to {path}", "success")

    @Slot(str, str)
    def _on_export_failed(self, message: str, details: str) -> None:
        self.export_message.show_message(f"Export failed: {message}", "error")
