"""SelectionPanel: compose strategies, run a selection, see its picks, coverage and classes.

A run saves a named selection, makes it the shared selection (:meth:`AppState.select`) and
filters the grid to it (``Filter.selection``), so the grid and the map show exactly the subset.
Jobs run on the panel's own :class:`JobRunner` with a progress line and Cancel; the project's
tags, scores and pool size are read by a second runner, so a run's messages stay in view.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import numpy as np
from PySide6.QtCore import QItemSelectionModel, QSignalBlocker, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMessageBox,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.core.errors import SieveError
from app.engine import JobRunner, LatestRunner
from app.gui_model.state import AppState, Event
from app.ui.index_gate import gate
from app.ui.job_progress import JobProgress
from app.ui.selection.composer import StrategyComposer
from app.ui.selection.edits import remove_selection, rename_selection, tag_samples
from app.ui.selection.export_dialog import ExportDialog
from app.ui.selection.jobs import PoolInfo, SelectionOutcome, pool_info_job, run_selection_job
from app.ui.selection.plots import ClassBars, CoveragePlot
from app.ui.selection.results import PicksTable

T = TypeVar("T")


class SelectionPanel(QWidget):
    """See the module docstring.

    ``selections_changed``: a selection was saved, renamed or deleted (views that list saved
    selections, like the browser's filter, should read them again). ``tags_changed``: the
    panel tagged samples. ``outcome_shown(SelectionOutcome)``: a run's results are on show.
    """

    selections_changed = Signal()
    tags_changed = Signal()
    outcome_shown = Signal(object)

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.project_dir: Path | None = None
        self.info: PoolInfo | None = None
        self.outcome: SelectionOutcome | None = None
        self.export_dialog: ExportDialog | None = None
        self.runner = JobRunner(self)
        self._reader = LatestRunner(parent=self)

        self.composer = StrategyComposer()
        self.run_button = QPushButton("Run selection")
        self.run_button.setDefault(True)
        self.run_button.setToolTip("Pick the samples and save them as a selection")
        self.progress = JobProgress(self.runner, row=True, idle="message")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.table = PicksTable(state)
        self.coverage = CoveragePlot()
        self.classes = ClassBars()
        self.tag_button = QPushButton("Save as tag\u2026")
        self.rename_button = QPushButton("Rename\u2026")
        self.delete_button = QPushButton("Delete\u2026")
        self.clear_button = QPushButton("Clear filter")
        self.clear_button.setToolTip("Show every sample in the grid again")
        self.export_button = QPushButton("Export\u2026")

        run_row = QHBoxLayout()
        run_row.addWidget(self.run_button)
        run_row.addWidget(self.progress, 1)
        picks = QWidget()
        picks_layout = QVBoxLayout(picks)
        picks_layout.setContentsMargins(0, 4, 0, 0)
        picks_layout.addWidget(self.table, 1)
        buttons = QGridLayout()  # two rows, so the panel fits a narrow dock
        edits = (self.tag_button, self.rename_button, self.delete_button)
        for column, button in enumerate(edits):
            buttons.addWidget(button, 0, column)
        buttons.addWidget(self.clear_button, 1, 0)
        buttons.addWidget(self.export_button, 1, 1, 1, 2)
        picks_layout.addLayout(buttons)
        self.tabs = QTabWidget()
        self.tabs.addTab(picks, "Picks")
        self.tabs.addTab(self.coverage, "Coverage")
        self.tabs.addTab(self.classes, "Classes")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.composer)
        layout.addLayout(run_row)
        layout.addWidget(self.summary)
        layout.addWidget(self.tabs, 1)

        self.run_button.clicked.connect(self.run)
        self.tag_button.clicked.connect(self.save_as_tag)
        self.rename_button.clicked.connect(self.rename_selection)
        self.delete_button.clicked.connect(self.delete_selection)
        self.clear_button.clicked.connect(self.clear_filter)
        self.export_button.clicked.connect(self.open_export_dialog)
        self.runner.finished.connect(self._on_finished)
        self.runner.failed.connect(lambda message, _details: self.progress.show_error(message))
        self.runner.busy_changed.connect(self._update_actions)
        self._reader.finished.connect(self._on_info)
        self._reader.failed.connect(lambda message, _details: self.progress.show_error(message))
        self._unsubscribe = state.subscribe(self._on_state)
        self._update_actions()

    # ----------------------------------------------------------------- project
    def set_project(self, path: Path | None) -> None:
        """Work on the project in ``path`` (None: no project); a running job is cancelled."""
        self.runner.cancel()
        self.project_dir = None if path is None else Path(path)
        self.info = None
        self.composer.set_info(None)
        self._show_outcome(None)
        self.progress.show_message("" if path else "Open a project to select samples.")
        self.refresh()

    def refresh(self) -> None:
        """Read the project's tags, scores and pool size again (after tags changed elsewhere)."""
        if self.project_dir is None:
            return
        project_dir = self.project_dir
        self._reader.request(lambda cancel: pool_info_job(project_dir, cancel), "read project")

    def shutdown(self) -> None:
        """Stop listening to the state and stop every job (before deleting)."""
        self._unsubscribe()
        if self.export_dialog is not None:
            self.export_dialog.shutdown()
        self.runner.shutdown()
        self._reader.shutdown()

    # ------------------------------------------------------------------ actions
    def run(self) -> None:
        """Read the form and start the selection job; form errors show in the progress line."""
        if self.project_dir is None or self.runner.is_busy:
            return
        try:
            spec = self.composer.spec(self.state.selected)
            name = self.composer.selection_name()
        except SieveError as error:
            self.progress.show_error(str(error))
            return
        project_dir = self.project_dir
        self.runner.start(
            lambda cancel: run_selection_job(project_dir, spec, name, cancel), f"select {name}"
        )

    def save_as_tag(self) -> None:
        outcome = self.outcome
        if outcome is None or self.project_dir is None:
            return
        tag, ok = QInputDialog.getText(
            self, "Save as tag", "Tag the selected samples as:", text=outcome.name
        )
        if not ok:
            return
        ok, total = self._guarded(lambda: tag_samples(self.project_dir, tag, outcome.ids))
        if ok:
            self.progress.show_message(
                f"tagged {len(outcome.ids):,} samples {tag.strip()!r} ({total:,} now tagged)"
            )
            self.tags_changed.emit()
            self.refresh()

    def rename_selection(self) -> None:
        outcome = self.outcome
        if outcome is None or self.project_dir is None:
            return
        name, ok = QInputDialog.getText(
            self, "Rename selection", f"New name for {outcome.name!r}:", text=outcome.name
        )
        if not ok:
            return
        ok, new = self._guarded(lambda: rename_selection(self.project_dir, outcome.name, name))
        if not ok or new is None or new == outcome.name:
            return
        self._replace_selection_name(outcome.name, new)
        self.outcome = replace(outcome, name=new)
        self._show_summary()
        self.progress.show_message(f"renamed {outcome.name!r} to {new!r}")

    def delete_selection(self) -> None:
        outcome = self.outcome
        if outcome is None or self.project_dir is None:
            return
        answer = QMessageBox.question(
            self,
            "Delete selection",
            f"Delete the saved selection {outcome.name!r} ({len(outcome.ids):,} samples)?\n"
            "The samples and their tags stay.",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        ok, _ = self._guarded(lambda: remove_selection(self.project_dir, outcome.name))
        if not ok:
            return
        self._replace_selection_name(outcome.name, None)
        self._show_outcome(None)
        self.progress.show_message(f"deleted selection {outcome.name!r}")

    def clear_filter(self) -> None:
        """Show every sample in the grid again (the shared selection stays)."""
        self.state.set_filter(self.state.filter.with_(selection=None))

    def open_export_dialog(self) -> ExportDialog | None:
        """Open (non-modal) the export dialog for the shown selection."""
        outcome = self.outcome
        if outcome is None or self.project_dir is None:
            return None
        if self.export_dialog is not None:
            self.export_dialog.shutdown()
            self.export_dialog.deleteLater()
        self.export_dialog = ExportDialog(self.project_dir, outcome.name, len(outcome.ids), self)
        self.export_dialog.show()
        return self.export_dialog

    # ------------------------------------------------------------- job results
    def _on_finished(self, result: object) -> None:
        if not isinstance(result, SelectionOutcome) or result.project_dir != self.project_dir:
            return
        self._show_outcome(result)
        if self.info is not None:
            self.info = replace(self.info, selections=[*self.info.selections, result.name])
            self.composer.refresh_name(self.info.selections)
        self.progress.show_message(result.message)
        self.selections_changed.emit()
        self.state.select(result.ids)
        self.state.set_filter(self.state.filter.with_(selection=result.name))
        self.outcome_shown.emit(result)

    def _on_info(self, info: object) -> None:
        if isinstance(info, PoolInfo) and info.project_dir == self.project_dir:
            self.info = info
            self.composer.set_info(info)
            if not info.embedded:
                self.progress.show_message("Embed the project first: selection needs embeddings.")
            self._update_actions()

    # ----------------------------------------------------------------- helpers
    def _show_outcome(self, outcome: SelectionOutcome | None) -> None:
        self.outcome = outcome
        self.table.set_outcome(outcome)
        self.coverage.set_coverage(None if outcome is None else outcome.coverage)
        if outcome is None:
            self.classes.set_counts({}, {})
        else:
            self.classes.set_counts(outcome.pool_counts, outcome.subset_counts)
        self._show_summary()
        self._update_actions()

    def _show_summary(self) -> None:
        outcome = self.outcome
        if outcome is None:
            self.summary.setText("")
            return
        coverage = outcome.coverage
        versus = ""
        if len(coverage.sizes) and not np.isnan(coverage.random[-1]):
            versus = (
                f"; mean distance to the nearest pick {coverage.selected[-1]:.3f} "
                f"(random picks: {coverage.random[-1]:.3f})"
            )
        self.summary.setText(f"<b>{outcome.name}</b>: {len(outcome.ids):,} samples{versus}")

    def _replace_selection_name(self, old: str, new: str | None) -> None:
        if self.info is not None:
            names = [n for n in self.info.selections if n != old] + ([new] if new else [])
            self.info = replace(self.info, selections=names)
        self.selections_changed.emit()
        if self.state.filter.selection == old:
            self.state.set_filter(self.state.filter.with_(selection=new))

    def _update_actions(self, *_: object) -> None:
        busy = self.runner.is_busy
        embedded = self.info is not None and self.info.embedded > 0
        gate(self.run_button, self.state, embedded and not busy)
        has = self.outcome is not None and not busy
        for button in (self.tag_button, self.rename_button, self.delete_button):
            button.setEnabled(has)
        self.export_button.setEnabled(has)
        self.clear_button.setEnabled(self.state.filter.selection is not None)

    def _on_state(self, event: Event) -> None:
        if event in ("filter", "indexing"):
            self._update_actions()
        elif event == "current" and self.state.current is not None:
            row = self.table.row_of(self.state.current)
            if row >= 0 and row != self.table.currentIndex().row():
                with QSignalBlocker(self.table.selectionModel()):
                    self.table.selectionModel().setCurrentIndex(
                        self.table.picks.index(row, 0),
                        QItemSelectionModel.SelectionFlag.ClearAndSelect
                        | QItemSelectionModel.SelectionFlag.Rows,
                    )
                self.table.viewport().update()

    def _guarded(self, edit: Callable[[], T]) -> tuple[bool, T | None]:
        """Run a store edit: (True, its result), or (False, None) when refused (SieveError,
        shown in the progress line)."""
        try:
            return True, edit()
        except SieveError as error:
            self.progress.show_error(str(error))
            return False, None
