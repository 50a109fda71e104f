"""Wiring of the evaluation view into the main window: an "Evaluate" dock beside the side
panels, its toggle in the View menu, and the project and grid hooks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QDockWidget, QMenu

from app.ui.evaluation.panel import EvaluationPanel

if TYPE_CHECKING:
    from app.ui.main_window import MainWindow


class EvaluationUi(QObject):
    """The evaluation dock of one window."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.panel = EvaluationPanel(window.state)
        self.dock = QDockWidget("Evaluate", window)
        self.dock.setObjectName("dock-evaluate")
        self.dock.setWidget(self.panel)
        window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.dock)
        window.tabifyDockWidget(window.tags_dock, self.dock)
        window.tags_dock.raise_()
        view_menu = _menu(window, "&View")
        if view_menu is not None:
            view_menu.addAction(self.dock.toggleViewAction())
        window.browser.loaded.connect(self._on_project)
        self.dock.visibilityChanged.connect(self._on_visible)
        self.panel.evaluated.connect(window.browser.refresh_saved)
        self.panel.predictions_imported.connect(self._on_imported)
        self.panel.images_chosen.connect(lambda _ids: window.show_grid())

    def shutdown(self) -> None:
        self.panel.shutdown()

    def _on_project(self) -> None:
        """The grid shows a project: the panel takes it now if the dock is seen, else when it
        comes into view (its sources are read by a job: at a 1M open, 14 ms of the GUI thread
        for a dock behind a tab)."""
        if not self.dock.visibleRegion().isEmpty():
            self._take_project()

    def _take_project(self) -> bool:
        """Give the panel the grid's project if it has another; whether it had."""
        if self.window.browser.project_dir == self.panel.project_dir:
            return False
        self.panel.set_project(self.window.browser.project_dir)
        return True

    def _on_imported(self) -> None:
        self.window.browser.objects.reload()  # the new source's boxes in the detail view
        self.window.browser.refresh_saved()  # its uncertainty scores in the sort menu

    def _on_visible(self, visible: bool) -> None:
        if visible and not self._take_project():
            self.panel.reload()  # sources may have been imported meanwhile


def install_evaluation(window: MainWindow) -> EvaluationUi:
    """Add the evaluation view to ``window`` (after its docks and menus are built)."""
    return EvaluationUi(window)


def _menu(window: MainWindow, title: str) -> QMenu | None:
    for action in window.menuBar().actions():
        if action.text() == title and action.menu() is not None:
            return action.menu()
    return None
