"""The main window: pages (welcome, grid, detail), docks (tags, log), menus and the job bar."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QUndoStack
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QStackedWidget,
    QWidget,
)

from app import __version__
from app.core.errors import SieveError
from app.core.store.project import find_project_dir
from app.engine import JobRunner
from app.engine.runner import JobFactory, shutdown_all
from app.gui_model.state import AppState
from app.ui.active import ActiveLearningPanel
from app.ui.browser.widget import BrowserWidget
from app.ui.detail.widget import DetailView
from app.ui.dialogs.import_annotations import install_import_annotations
from app.ui.dialogs.import_torchvision import ImportTorchvisionDialog
from app.ui.dialogs.preferences import PreferencesDialog
from app.ui.dialogs.shortcuts import ShortcutsDialog
from app.ui.evaluation.install import install_evaluation
from app.ui.issues.install import install_issues
from app.ui.lazy_panel import LazyPanel
from app.ui.log_panel import LogPanel
from app.ui.map import MapPanel
from app.ui.map.object_focus import install_object_focus
from app.ui.menus import build_menus
from app.ui.objects.install import install_objects
from app.ui.opening import (
    LoadedProject,
    fill_thumbnails_job,
    import_torchvision_job_then_open,
    open_demo_job,
    open_project_job,
)
from app.ui.progressive import install_progressive_open
from app.ui.project_problems import MissingFiles, counts_line, problem_details
from app.ui.selection import SelectionPanel
from app.ui.settings import Settings
from app.ui.staged import set_project_in_turns
from app.ui.status import StatusPanel
from app.ui.tags.panel import TagPanel
from app.ui.theme import app_icon
from app.ui.welcome import WelcomePage

log = logging.getLogger("sieve")
SIDE_WIDTH = 440
MAP_WIDTH = 620
SHUTDOWN_TIMEOUT_MS = 5000


class MainWindow(QMainWindow):
    """Opens a dataset folder, a project or the demo through a :class:`JobRunner`."""

    def __init__(
        self,
        runner: JobRunner | None = None,
        settings: Settings | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Sieve")
        self.setWindowIcon(app_icon())
        self.resize(1600, 960)
        self.setAcceptDrops(True)
        self.state = AppState()
        self.runner = runner or JobRunner(self)
        self.settings = settings or Settings()
        self.undo_stack = QUndoStack(self)
        self.project: LoadedProject | None = None
        self._shut_down = False  # no panel gets a project any more (see show_project)
        self._then: Callable[[Any], None] | None = None

        self.welcome = WelcomePage()
        self.browser = BrowserWidget(self.state)
        self.detail = DetailView(self.state)
        self.object_focus = install_object_focus(self.detail, self.state)
        self.pages = QStackedWidget()
        for page in (self.welcome, self.browser, self.detail):
            self.pages.addWidget(page)
        self.setCentralWidget(self.pages)

        self.map_panel = MapPanel(self.state)
        self.map_dock = self._dock("Map", self.map_panel, Qt.DockWidgetArea.RightDockWidgetArea)
        self.training = LazyPanel(
            self._build_training,
            "Open a dataset folder (or the demo) to train a model on it.",
            "Loading the training panel…",
            ("app.ui.training.panel",),
        )
        self.selection_panel = SelectionPanel(self.state)
        self.active_panel = ActiveLearningPanel(self.state, self.undo_stack)
        self.tag_panel = TagPanel(self.state, self.undo_stack)
        left = Qt.DockWidgetArea.LeftDockWidgetArea
        self.train_dock = self._dock("Train", _scrolled(self.training), left)
        self.select_dock = self._dock("Select", _scrolled(self.selection_panel), left)
        self.label_dock = self._dock("Label", _scrolled(self.active_panel), left)
        self.tags_dock = self._dock("Tags", self.tag_panel, left)
        for first, second in zip(self.side_docks(), self.side_docks()[1:], strict=False):
            self.tabifyDockWidget(first, second)
        self.tags_dock.raise_()  # Train loads torch: only once the user opens it
        self.train_dock.visibilityChanged.connect(self.training.set_shown)
        self.log_panel = LogPanel()
        self.log_dock = self._dock("Log", self.log_panel, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.log_dock.hide()
        self.status_panel = StatusPanel(self.runner)
        self.statusBar().addPermanentWidget(self.status_panel, 1)
        self.indexer = install_progressive_open(self)  # the background index of the open folder
        self.missing_files = MissingFiles(self)
        self.actions = build_menus(self)
        self.import_annotations = install_import_annotations(self, self.actions.import_torchvision)
        self.objects_ui = install_objects(self)
        self.evaluation_ui = install_evaluation(self)
        self.issues_ui = install_issues(self)
        self.tag_panel.install_number_shortcuts(self)
        self._connect()
        self._restore_layout()
        self._on_busy_changed(False)

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{title.lower()}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def side_docks(self) -> list[QDockWidget]:
        """The tabbed panels on the left, in tab order."""
        return [self.train_dock, self.select_dock, self.label_dock, self.tags_dock]

    def docks(self) -> list[QDockWidget]:
        return [self.map_dock, *self.side_docks(), self.log_dock]

    def _build_training(self) -> QWidget:
        from app.ui.training import TrainingPanel  # torch loads here, not at start-up

        panel = TrainingPanel(self.state)
        panel.embed_and_map_requested.connect(self.embed_and_map)
        if self.project is not None:
            panel.set_project(self.project.path)
        return panel

    def training_panel(self) -> Any:
        """The training panel, built now if its tab was never shown."""
        return self.training.panel()

    def embed_and_map(self, run_id: int | None) -> None:
        """Embed with a finished run (None: a quick look) and show the map."""
        self.map_dock.show()
        self.map_dock.raise_()
        self.map_panel.embed_and_map(run_id)

    def _connect(self) -> None:
        self.welcome.open_folder_clicked.connect(self.choose_folder)
        self.welcome.open_demo_clicked.connect(self.open_demo)
        self.welcome.recent_clicked.connect(self.open_project)
        self.welcome.set_recent(self.settings.recent_projects())
        self.browser.activated.connect(self.show_detail)
        self.browser.counts_changed.connect(self._on_counts_changed)
        self.browser.loaded.connect(self._on_browser_loaded)
        self.browser.failed.connect(lambda message: self.show_error(message, ""))
        self.detail.close_requested.connect(self.show_grid)
        self.tag_panel.tags_changed.connect(self._on_tags_changed)
        self.selection_panel.tags_changed.connect(self._on_tags_changed)
        self.active_panel.tags_changed.connect(self._on_tags_changed)
        self.selection_panel.selections_changed.connect(self.browser.refresh_saved)
        self.map_panel.sample_clicked.connect(self.show_detail)
        self.map_panel.train_requested.connect(lambda: self._raise(self.train_dock))
        self.map_panel.source_changed.connect(self._on_embeddings_changed)
        self.tag_panel.show_tag_requested.connect(
            lambda name: self.state.set_filter(self.state.filter.with_(tag=name))
        )
        self.runner.finished.connect(self._on_job_finished)
        self.runner.failed.connect(self._on_job_failed)
        self.runner.cancelled.connect(self._on_job_cancelled)
        self.runner.busy_changed.connect(self._on_busy_changed)

    def _restore_layout(self) -> None:
        geometry, state = self.settings.window_state()
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)
        else:  # docks get their sizes once the window is laid out
            QTimer.singleShot(0, self, self._default_dock_sizes)
        self.browser.set_thumbnail_size(self.settings.thumbnail_size())

    def _default_dock_sizes(self) -> None:
        horizontal = Qt.Orientation.Horizontal
        self.resizeDocks([self.train_dock, self.map_dock], [SIDE_WIDTH, MAP_WIDTH], horizontal)

    # ---------------------------------------------------------------- opening
    def open_path(self, path: str | Path, project_dir: str | Path | None = None) -> None:
        """A project folder is opened as it is; a dataset folder is (re)indexed first."""
        found = find_project_dir(path)
        if project_dir is None and found is not None and found == Path(path):
            self.open_project(path)
        else:
            self.open_folder(path, project_dir)

    def open_folder(self, folder: str | Path, project_dir: str | Path | None = None) -> None:
        """Show ``folder``'s files at once while they are indexed (new and changed files only)."""
        self.indexer.open(folder, project_dir)

    def open_project(self, path: str | Path) -> None:
        """Show the project, then catch up with files added or removed since (in the background)."""
        self.indexer.stop()
        self.start_job(
            lambda cancel: open_project_job(path, cancel),
            "Opening the project",
            lambda loaded: (self.show_project(loaded), self.refresh()),
        )

    @Slot()
    def refresh(self) -> None:
        """Index the open project again: added files appear, removed ones are marked missing."""
        if self.project is not None:
            self.indexer.refresh(self.project)

    @Slot()
    def open_demo(self) -> None:
        self.indexer.stop()
        self.start_job(open_demo_job, "Opening the demo", self.show_project)

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

    @Slot()
    def choose_torchvision(self) -> None:
        dialog = ImportTorchvisionDialog(self)
        if dialog.exec() != ImportTorchvisionDialog.DialogCode.Accepted:
            return
        request = dialog.request()
        self.indexer.stop()
        self.start_job(
            lambda cancel: import_torchvision_job_then_open(request, cancel),
            f"Importing {request.name}",
            self.show_project,
        )

    def start_job(self, factory: JobFactory, name: str, then: Callable[[Any], None]) -> None:
        try:
            self.runner.start(factory, name)
        except SieveError as error:
            self.show_error(str(error), "")
            return
        self._then = then

    def show_project(self, loaded: LoadedProject) -> None:
        """Show a freshly loaded project: the grid at once (thumbnails follow), then the panels
        (:func:`~app.ui.staged.set_project_in_turns`), then the recent projects."""
        self.project = loaded
        self.undo_stack.clear()
        self.state.reset()
        self.browser.set_project(loaded.path)
        self.training.allow()
        self.pages.setCurrentWidget(self.browser)
        self.setWindowTitle(f"{loaded.dataset_root.name} — Sieve")
        self._on_busy_changed(self.runner.is_busy)  # its actions work while the index runs
        log.info("opened %s (%d samples)", loaded.path, loaded.samples)
        if loaded.warning is not None:
            log.warning("%s", loaded.warning)
            self.show_message(QMessageBox.Icon.Warning, loaded.warning, "")
        panels = [self.tag_panel, self.detail, self.map_panel, self.selection_panel]
        panels += [self.active_panel, *([self.training_panel()] if self.training.is_built else [])]
        set_project_in_turns(
            self,
            panels,
            loaded.path,
            partial(self._shows, loaded.path),
            partial(self._remember, loaded.path),
        )

    def _shows(self, path: Path) -> bool:
        """Whether the window still shows the project at ``path`` (the same project may come
        back summed up anew when its index ends)."""
        return not self._shut_down and self.project is not None and self.project.path == path

    def _remember(self, path: Path) -> None:
        self.settings.add_recent_project(path)
        self.welcome.set_recent(self.settings.recent_projects())

    @Slot()
    def _on_browser_loaded(self) -> None:
        busy = self.runner.is_busy or self.state.statistics_wait  # (measuring: still writing)
        if self.project is None or busy:
            return
        project_dir = self.project.path
        self.start_job(
            lambda cancel: fill_thumbnails_job(project_dir, cancel),
            "Making thumbnails",
            self._on_thumbnails_made,
        )

    def _on_thumbnails_made(self, made: int) -> None:
        if made:
            self.browser.refresh_thumbnails()

    # ------------------------------------------------------------ missing files
    @Slot()
    # ----------------------------------------------------------- page & view
    @Slot(int)
    def show_detail(self, sample_id: int) -> None:
        self.detail.set_order(self.browser.order_ids())
        self.state.set_current(sample_id)
        self.pages.setCurrentWidget(self.detail)
        self.detail.setFocus()

    @Slot()
    def show_grid(self) -> None:
        if self.project is not None:
            self.pages.setCurrentWidget(self.browser)
            self.browser.setFocus()

    def select_all(self) -> None:
        self.state.select(self.browser.order_ids())

    def set_thumbnail_size(self, size: int) -> None:
        self.browser.set_thumbnail_size(size)
        self.settings.set_thumbnail_size(size)

    @Slot(int, int, int)
    def _on_counts_changed(self, shown: int, total: int, selected: int) -> None:
        if self.project is None:
            return
        if self.browser.data is None:  # its rows are still being read: nothing to count yet
            self.status_panel.set_counts(f"reading {self.project.dataset_root.name}…")
            return
        line = counts_line(self.project, shown, total, selected, self.indexer.status_note())
        self.status_panel.set_counts(line, problem_details(self.project))

    def _raise(self, dock: QDockWidget) -> None:
        dock.show()
        dock.raise_()

    @Slot()
    def _on_embeddings_changed(self) -> None:
        """A new embedding set became active: panels that read embeddings or scores re-read."""
        self.selection_panel.refresh()
        self.active_panel.refresh()
        self.browser.refresh_saved()

    @Slot()
    def _on_tags_changed(self) -> None:
        """Every view of tags re-reads them; a tag filter naming a deleted tag is dropped."""
        sender = self.sender()
        if sender is not self.tag_panel:
            self.tag_panel.refresh()
        if sender is not self.selection_panel:
            self.selection_panel.refresh()
        if sender is not self.active_panel:
            self.active_panel.refresh()
        self.map_panel.refresh_colours()
        self.browser.refresh_tags()
        names = {tag.name for tag in self.tag_panel.editor.tags()}
        if self.state.filter.tag is not None and self.state.filter.tag not in names:
            self.state.set_filter(self.state.filter.with_(tag=None))

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
        self.browser.refresh_thumbnails()
        self.statusBar().showMessage("Cancelled", 5000)

    @Slot(bool)
    def _on_busy_changed(self, busy: bool) -> None:
        for action in self.actions.opening:
            action.setEnabled(not busy)
        for action in self.actions.needs_project:
            action.setEnabled(self.project is not None)
        self.missing_files.update_action()
        self.welcome.set_enabled_actions(not busy)

    @Slot(str, str)
    def show_error(self, message: str, details: str) -> None:
        """A non-blocking error dialog: the readable line, the traceback under Details."""
        self.show_message(QMessageBox.Icon.Critical, message, details)

    def show_message(self, icon: QMessageBox.Icon, message: str, details: str) -> None:
        """A non-blocking message box; ``details`` (if any) under Details."""
        box = QMessageBox(icon, "Sieve", message, parent=self)
        if details:
            box.setDetailedText(details)
            box.setInformativeText("The full report is under Details and in the log file.")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    # ---------------------------------------------------------------- dialogs
    @Slot()
    def show_about(self) -> None:
        QMessageBox.about(
            self,
            "About Sieve",
            f"<b>Sieve {__version__}</b><br>Curate image and video datasets with "
            "self-supervised learning.<br>MIT licence.",
        )

    @Slot()
    def show_shortcuts(self) -> None:
        ShortcutsDialog(self.findChildren(type(self.actions.undo)), self).exec()

    @Slot()
    def show_preferences(self) -> None:
        if PreferencesDialog(self.settings, self).exec():
            self.browser.set_thumbnail_size(self.settings.thumbnail_size())
            self.welcome.set_recent(self.settings.recent_projects())

    # ---------------------------------------------------------- drag and drop
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if _dropped_folder(event) is not None and not self.runner.is_busy:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        folder = _dropped_folder(event)
        if folder is not None:
            event.acceptProposedAction()
            self.open_path(folder)

    # ---------------------------------------------------------------- closing
    def shutdown(self) -> None:
        """Stop every job and the views' loaders (idempotent).

        All jobs are cancelled at once and waited for together, then the panels let go.
        """
        self._shut_down = True
        runners = dict.fromkeys([self.runner, *self.findChildren(JobRunner)])
        shutdown_all(runners, SHUTDOWN_TIMEOUT_MS)
        if self.training.is_built:
            self.training_panel().shutdown()
        self.map_panel.shutdown()
        self.selection_panel.shutdown()
        self.active_panel.shutdown()
        self.objects_ui.shutdown()
        self.evaluation_ui.shutdown()
        self.issues_ui.shutdown()
        self.browser.shutdown()
        self.detail.shutdown()
        self.tag_panel.set_project(None)
        self.log_panel.detach()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.settings.save_window_state(self.saveGeometry(), self.saveState())
        self.shutdown()
        super().closeEvent(event)


def _scrolled(panel: QWidget) -> QScrollArea:
    """``panel`` in a scroll area, so a tall panel still fits a short dock."""
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    area.setWidget(panel)
    return area


def _dropped_folder(event: QDragEnterEvent | QDropEvent) -> Path | None:
    urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
    if len(urls) == 1 and urls[0].isLocalFile():
        path = Path(urls[0].toLocalFile())
        if path.is_dir():
            return path
    return None
