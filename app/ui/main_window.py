"""The main window: menus, the welcome page or the sample grid, and the job status bar."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox, QStackedWidget, QWidget

from app import __version__
from app.core.errors import SieveError
from app.core.store.project import THUMBS_NAME, find_project_dir
from app.engine import JobRunner
from app.engine.runner import JobFactory
from app.ui.grid import ICON_SIZE, SampleGrid, SampleListModel
from app.ui.opening import (
    LoadedProject,
    fill_thumbnails_job,
    open_demo_job,
    open_folder_job,
    open_project_job,
)
from app.ui.status import StatusPanel, counts_text
from app.ui.thumbs import ThumbnailLoader
from app.ui.welcome import WelcomePage

log = logging.getLogger("sieve")


class MainWindow(QMainWindow):
    """Opens a dataset folder, a project or the demo through a :class:`JobRunner`."""

    def __init__(self, runner: JobRunner | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Sieve")
        self.resize(1100, 720)
        self.runner = runner or JobRunner(self)
        self.project: LoadedProject | None = None
        self._then: Callable[[Any], None] | None = None

        self.welcome = WelcomePage()
        self.model = SampleListModel(self)
        self.grid = SampleGrid()
        self.grid.setModel(self.model)
        self.pages = QStackedWidget()
        self.pages.addWidget(self.welcome)
        self.pages.addWidget(self.grid)
        self.setCentralWidget(self.pages)
        self.status_panel = StatusPanel(self.runner)
        self.statusBar().addPermanentWidget(self.status_panel, 1)

        self._open_actions = self._build_menus()
        self.welcome.open_folder_clicked.connect(self.choose_folder)
        self.welcome.open_demo_clicked.connect(self.open_demo)
        self.runner.finished.connect(self._on_job_finished)
        self.runner.failed.connect(self._on_job_failed)
        self.runner.cancelled.connect(self._on_job_cancelled)
        self.runner.busy_changed.connect(self._on_busy_changed)

    def _build_menus(self) -> list[QAction]:
        file_menu = self.menuBar().addMenu("&File")
        open_folder = file_menu.addAction("Open &folder…", self.choose_folder)
        open_folder.setShortcut(QKeySequence.StandardKey.Open)
        open_project = file_menu.addAction("Open &project…", self.choose_project)
        open_demo = file_menu.addAction("Open &demo", self.open_demo)
        file_menu.addSeparator()
        quit_action = file_menu.addAction("&Quit", self.close)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction("&About Sieve", self.show_about)
        return [open_folder, open_project, open_demo]

    # ---------------------------------------------------------------- opening
    def open_path(self, path: str | Path, project_dir: str | Path | None = None) -> None:
        """A project folder is opened as it is; a dataset folder is (re)indexed first."""
        found = find_project_dir(path)
        if project_dir is None and found is not None and found == Path(path):
            self.open_project(path)
        else:
            self.open_folder(path, project_dir)

    def open_folder(self, folder: str | Path, project_dir: str | Path | None = None) -> None:
        """Index ``folder`` (new and changed files only) and show its samples."""
        self._start(
            lambda cancel: open_folder_job(folder, project_dir, cancel), "Indexing", self._show
        )

    def open_project(self, path: str | Path) -> None:
        self._start(
            lambda cancel: open_project_job(path, cancel), "Opening the project", self._show
        )

    @Slot()
    def open_demo(self) -> None:
        self._start(open_demo_job, "Opening the demo", self._show)

    @Slot()
    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a dataset folder")
        if folder:
            self.open_folder(folder)

    @Slot()
    def choose_project(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a Sieve project folder")
        if folder:
            self.open_project(folder)

    def _start(self, factory: JobFactory, name: str, then: Callable[[Any], None]) -> None:
        try:
            self.runner.start(factory, name)
        except SieveError as error:
            self.show_error(str(error), "")
            return
        self._then = then

    def _show(self, loaded: LoadedProject) -> None:
        """Put a freshly loaded project in the grid, then fill in missing thumbnails."""
        self.project = loaded
        loader = ThumbnailLoader(loaded.path / THUMBS_NAME, ICON_SIZE, parent=self.model)
        self.model.set_samples(loaded.samples, loader)
        self.pages.setCurrentWidget(self.grid)
        self.setWindowTitle(f"{loaded.dataset_root.name} — Sieve")
        self.status_panel.set_counts(counts_text(loaded.usable, loaded.broken_files, loaded.labels))
        log.info("opened %s (%d samples)", loaded.path, len(loaded.samples))
        project_dir = loaded.path
        self._start(
            lambda cancel: fill_thumbnails_job(project_dir, cancel),
            "Making thumbnails",
            self._on_thumbnails_made,
        )

    def _on_thumbnails_made(self, made: int) -> None:
        if made:
            self.model.refresh_thumbnails()

    # ------------------------------------------------------------ job outcome
    @Slot(object)
    def _on_job_finished(self, result: object) -> None:
        then, self._then = self._then, None
        if then is not None:
            then(result)

    @Slot(str, str)
    def _on_job_failed(self, message: str, details: str) -> None:
        self._then = None
        self.show_error(message, details)

    @Slot()
    def _on_job_cancelled(self) -> None:
        self._then = None
        self.model.refresh_thumbnails()  # show what a cancelled thumbnail job did make
        self.statusBar().showMessage("Cancelled", 5000)

    @Slot(bool)
    def _on_busy_changed(self, busy: bool) -> None:
        for action in self._open_actions:
            action.setEnabled(not busy)
        self.welcome.set_enabled_actions(not busy)

    @Slot(str, str)
    def show_error(self, message: str, details: str) -> None:
        """A non-blocking error dialog: the readable line, the traceback under Details."""
        box = QMessageBox(QMessageBox.Icon.Critical, "Sieve", message, parent=self)
        if details:
            box.setDetailedText(details)
            box.setInformativeText("The full report is under Details and in the log file.")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    @Slot()
    def show_about(self) -> None:
        QMessageBox.about(
            self,
            "About Sieve",
            f"<b>Sieve {__version__}</b><br>Curate image and video datasets with "
            "self-supervised learning.<br>MIT licence.",
        )

    # ---------------------------------------------------------------- closing
    def shutdown(self) -> None:
        """Stop the running job and the thumbnail loader (idempotent)."""
        self.runner.shutdown()
        self.model.set_samples([], None)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)
