"""IssuesPanel: run the quality checks on a worker and act on what they found.

One row per check (count, threshold slider, strip of the worst examples). A click on a row
filters the grid to that check's selection (``issues: <check>``, saved by the run) and sorts it
by the check's score, worst first. "Tag" puts a tag (e.g. ``exclude``) on everything found, as
one undoable step through the Tags panel's editor; "Clean subset" saves the usable samples
without that tag as a selection and shows it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.core.quality.checks import CHECKS
from app.core.quality.run import SCORE_PREFIX
from app.engine import JobRunner
from app.gui_model.state import AppState
from app.ui.index_gate import gate
from app.ui.issues.jobs import IssuesSummary, clean_subset_job, run_checks_job, selection_of
from app.ui.issues.row import CheckRow
from app.ui.job_progress import JobProgress
from app.ui.tags.editor import TagEditor

DEFAULT_TAG = "exclude"
ALL = "all issues"


class IssuesPanel(QWidget):
    """See the module docstring. ``stored``: scores or selections were saved (the grid should
    read them again); ``show_grid``: the grid should come to the front."""

    stored = Signal()
    show_grid = Signal()

    def __init__(
        self, state: AppState, editor: TagEditor | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.state = state
        self.editor = editor
        self.project_dir: Path | None = None
        self.summary: IssuesSummary | None = None
        self.thresholds: dict[str, float] = {}
        self.runner = JobRunner(self)
        self._job = ""
        self._waiting = False  # a run was asked for while the index was still running

        self.run_button = QPushButton("Run checks")
        self.run_button.setToolTip(
            "Check every image and video frame from the statistics measured while indexing "
            "(and the active embeddings: outliers, near duplicates, label errors)"
        )
        self.progress = JobProgress(self.runner, row=True, idle="message")
        self.note = QLabel("")
        self.note.setWordWrap(True)
        self.rows = {name: CheckRow(name, check.describe) for name, check in CHECKS.items()}
        holder = QWidget()
        rows_layout = QVBoxLayout(holder)
        rows_layout.setContentsMargins(0, 0, 0, 0)
        rows_layout.setSpacing(3)
        for row in self.rows.values():
            rows_layout.addWidget(row)
            row.show_requested.connect(self.show_check)
            row.threshold_chosen.connect(self.set_threshold)
        rows_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(holder)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        self.which = QComboBox()
        self.which.addItem(ALL, None)
        for name in CHECKS:
            self.which.addItem(name.replace("_", " "), name)
        self.which.setToolTip("Which samples to tag: everything found, or one check's")
        self.tag_name = QComboBox()
        self.tag_name.setEditable(True)
        self.tag_name.addItem(DEFAULT_TAG)
        self.tag_name.setToolTip("The tag to put on them (created when missing)")
        self.tag_button = QPushButton("Tag all")
        self.tag_button.setToolTip("Tag every sample found, in one step (Edit \u25b8 Undo undoes)")
        self.clean_button = QPushButton("Clean subset")
        self.clean_button.setToolTip(
            "Save the usable samples without the tag as a selection and show it in the grid"
        )
        tagging = QHBoxLayout()
        tagging.addWidget(self.which, 1)
        tagging.addWidget(QLabel("\u2192"))
        tagging.addWidget(self.tag_name, 1)
        tagging.addWidget(self.tag_button)
        top = QHBoxLayout()
        top.addWidget(self.run_button)
        top.addWidget(self.progress, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.note)
        layout.addWidget(scroll, 1)
        layout.addLayout(tagging)
        layout.addWidget(self.clean_button)

        self.run_button.clicked.connect(lambda: self.run_checks())
        self.tag_button.clicked.connect(self.tag_all)
        self.clean_button.clicked.connect(self.clean_subset)
        self.runner.finished.connect(self._on_finished)
        self.runner.failed.connect(lambda message, _details: self.progress.show_error(message))
        self.runner.busy_changed.connect(lambda _busy: self._update_actions())
        self._unsubscribe = state.subscribe(self._on_state)
        self._update_actions()

    # ------------------------------------------------------------------- API
    def set_project(self, project_dir: Path | None) -> None:
        self.project_dir = None if project_dir is None else Path(project_dir)
        self.summary = None
        self.thresholds = {}
        self._waiting = False
        self.note.setText("" if project_dir is None else "Run the checks to see what they find.")
        self._update_actions()

    def run_checks(self, names: list[str] | None = None) -> None:
        """Run ``names`` (default: all checks) with the thresholds chosen so far."""
        if self.project_dir is None or self.runner.is_busy:
            return
        if self.state.statistics_wait is not None:
            self._waiting = True
            self.progress.show_message("the checks run once the index has measured the images")
            return
        project_dir, thresholds = self.project_dir, dict(self.thresholds)
        self._job = "checks"
        self.runner.start(
            lambda cancel: run_checks_job(project_dir, names, thresholds, cancel), "check issues"
        )

    def set_threshold(self, name: str, value: float) -> None:
        """Use ``value`` as ``name``'s threshold and run that check again."""
        self.thresholds[name] = value
        self.run_checks([name])

    def show_check(self, name: str) -> None:
        """Filter the grid to what ``name`` found, sorted by its score, worst first."""
        if self.summary is None or name not in self.summary.checks:
            return
        check = self.summary.checks[name]
        if not len(check.flagged):
            self.progress.show_message(f"{name.replace('_', ' ')}: nothing found")
            return
        descending = check.direction == "high"
        flt = self.state.filter.with_(
            selection=selection_of(name), sort=SCORE_PREFIX + name, descending=descending
        )
        self.state.set_filter(flt)
        self.show_grid.emit()

    def flagged_ids(self, name: str | None = None) -> np.ndarray:
        """Sample ids found by check ``name``, or by any check (ascending)."""
        if self.summary is None:
            return np.empty(0, dtype=np.int64)
        checks = self.summary.checks
        chosen = [checks[name]] if name is not None and name in checks else list(checks.values())
        rows = np.concatenate([c.flagged for c in chosen]) if chosen else np.empty(0, np.int64)
        return np.unique(self.summary.ids[rows.astype(np.int64)])

    def tag_all(self) -> None:
        """Tag what was found (all checks or the chosen one) in one undoable step."""
        editor, name = self.editor, self.tag_name.currentText().strip()
        ids = self.flagged_ids(self.which.currentData())
        if editor is None or editor.project is None or not name or not len(ids):
            self.progress.show_message("nothing to tag" if name else "name the tag first")
            return
        existing = {tag.name: tag.id for tag in editor.tags()}
        if name in existing:
            editor.assign(existing[name], ids)
        else:
            editor.create_tag(name, sample_ids=ids)
        self.progress.show_message(f"tagged {len(ids):,} samples {name!r} (Ctrl+Z undoes)")

    def clean_subset(self) -> None:
        """Save the usable samples without the tag as a selection, then show it."""
        tag = self.tag_name.currentText().strip()
        if self.project_dir is None or self.runner.is_busy or not tag:
            return
        project_dir, name = self.project_dir, f"clean (without {tag})"
        self._job = "clean"
        self._clean_name = name
        self.runner.start(
            lambda cancel: clean_subset_job(project_dir, tag, name, cancel), "clean subset"
        )

    def shutdown(self) -> None:
        self._unsubscribe()
        self.runner.shutdown()

    # -------------------------------------------------------------- results
    def _on_finished(self, result: object) -> None:
        if self._job == "clean" and isinstance(result, int):
            self.progress.show_message(f"saved {result:,} samples as {self._clean_name!r}")
            self.stored.emit()
            self.state.set_filter(self.state.filter.with_(selection=self._clean_name))
            self.show_grid.emit()
            return
        if not isinstance(result, IssuesSummary):
            return
        if self.summary is None or len(result.checks) == len(CHECKS):
            self.summary = result
        else:
            self.summary.checks.update(result.checks)
        for name, check in result.checks.items():
            self.rows[name].set_summary(check)
        total = len(self.flagged_ids())
        self.note.setText(result.note)
        self.progress.show_message(f"{total:,} samples with an issue")
        self.stored.emit()
        self._update_actions()

    def _on_state(self, event: str) -> None:
        if event not in ("indexing", "measuring"):
            return
        self._update_actions()
        if self.state.statistics_wait is None and self._waiting:
            self._waiting = False
            self.run_checks()

    def _update_actions(self) -> None:
        busy, has_project = self.runner.is_busy, self.project_dir is not None
        gate(self.run_button, self.state, has_project and not busy, statistics=True)
        self.tag_button.setEnabled(self.summary is not None and not busy)
        self.clean_button.setEnabled(has_project and not busy)
        for row in self.rows.values():
            row.slider.setEnabled(not busy)
