"""Wiring of the Issues tab into the main window: a dock tabbed with the side panels, its toggle
in the View menu, the project hook, and the grid refresh after a run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QDockWidget

from app.ui.issues.panel import IssuesPanel

if TYPE_CHECKING:
    from app.ui.main_window import MainWindow


class IssuesUi(QObject):
    """The Issues dock of one window; the checks run the first time it is shown per project."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.panel = IssuesPanel(window.state, window.tag_panel.editor)
        self.dock = QDockWidget("Issues", window)
        self.dock.setObjectName("dock-issues")
        self.dock.setWidget(self.panel)
        window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.dock)
        window.tabifyDockWidget(window.tags_dock, self.dock)
        window.tags_dock.raise_()
        for action in window.menuBar().actions():
            if action.text() == "&View" and action.menu() is not None:
                action.menu().addAction(self.dock.toggleViewAction())
        window.browser.loaded.connect(self._on_project)
        self.dock.visibilityChanged.connect(self._on_visible)
        self.panel.stored.connect(window.browser.refresh_saved)
        self.panel.show_grid.connect(window.show_grid)

    def shutdown(self) -> None:
        self.panel.shutdown()

    def _on_project(self) -> None:
        if self.window.browser.project_dir != self.panel.project_dir:
            self.panel.set_project(self.window.browser.project_dir)
            if self.dock.isVisible() and not self.dock.visibleRegion().isEmpty():
                self.panel.run_checks()

    def _on_visible(self, visible: bool) -> None:
        if visible and self.panel.summary is None:
            self.panel.run_checks()


def install_issues(window: MainWindow) -> IssuesUi:
    """Add the Issues tab to ``window`` (after its docks and menus are built)."""
    return IssuesUi(window)
