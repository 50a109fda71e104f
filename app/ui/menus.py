"""The main window's actions, menus and toolbar, built in one place from the window's slots."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QToolBar

from app.ui.dialogs.export_names import export_names

if TYPE_CHECKING:
    from app.ui.main_window import MainWindow

THUMBNAIL_SIZES = {"Small": 64, "Medium": 128, "Large": 192, "Huge": 256}


@dataclass
class WindowActions:
    """Actions other code enables, disables or triggers."""

    open_folder: QAction
    open_project: QAction
    open_demo: QAction
    import_torchvision: QAction
    export_selected: QAction
    export_shown: QAction
    undo: QAction
    redo: QAction
    select_all: QAction
    select_none: QAction
    recent_menu: QMenu
    tag_menu: QMenu
    forget_missing: QAction

    @property
    def opening(self) -> list[QAction]:
        return [self.open_folder, self.open_project, self.open_demo, self.import_torchvision]

    @property
    def needs_project(self) -> list[QAction]:
        return [self.export_selected, self.export_shown, self.select_all, self.select_none]


def build_menus(window: MainWindow) -> WindowActions:
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    open_folder = file_menu.addAction("Open &folder…", window.choose_folder)
    open_folder.setShortcut(QKeySequence.StandardKey.Open)
    open_project = file_menu.addAction("Open &project…", window.choose_project)
    open_project.setShortcut(QKeySequence("Ctrl+Shift+O"))
    recent_menu = file_menu.addMenu("Open &recent")
    recent_menu.aboutToShow.connect(partial(_fill_recent, window, recent_menu))
    open_demo = file_menu.addAction("Open &demo", window.open_demo)
    import_tv = file_menu.addAction("&Import torchvision dataset…", window.choose_torchvision)
    file_menu.addSeparator()
    export_menu = file_menu.addMenu("&Export")
    export_selected = export_menu.addAction(
        "Names of the &selected samples…", partial(export_names, window, "selected")
    )
    export_selected.setShortcut(QKeySequence("Ctrl+E"))
    export_shown = export_menu.addAction(
        "Names of the samples &shown…", partial(export_names, window, "shown")
    )
    file_menu.addSeparator()
    forget_missing = file_menu.addAction("Forget missing files…", window.missing_files.forget)
    forget_missing.setEnabled(False)
    file_menu.addSeparator()
    file_menu.addAction("&Quit", window.close).setShortcut(QKeySequence.StandardKey.Quit)

    edit_menu = bar.addMenu("&Edit")
    undo = window.undo_stack.createUndoAction(window, "&Undo")
    undo.setShortcut(QKeySequence.StandardKey.Undo)
    redo = window.undo_stack.createRedoAction(window, "&Redo")
    redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
    edit_menu.addActions([undo, redo])
    edit_menu.addSeparator()
    select_all = edit_menu.addAction("Select &all shown", window.select_all)
    select_all.setShortcut(QKeySequence.StandardKey.SelectAll)
    select_none = edit_menu.addAction("Select &none", window.state.clear_selection)
    select_none.setShortcut(QKeySequence("Ctrl+Shift+A"))
    tag_menu = window.tag_panel.tag_menu(window)
    edit_menu.addMenu(tag_menu)
    edit_menu.addSeparator()
    preferences = edit_menu.addAction("&Preferences…", window.show_preferences)
    preferences.setShortcut(QKeySequence.StandardKey.Preferences)

    view_menu = bar.addMenu("&View")
    for dock in window.docks():
        view_menu.addAction(dock.toggleViewAction())
    view_menu.addSeparator()
    sizes = view_menu.addMenu("Thumbnail &size")
    for name, size in THUMBNAIL_SIZES.items():
        sizes.addAction(f"{name} ({size} px)", partial(window.set_thumbnail_size, size))
    view_menu.addAction("&Grid", window.show_grid).setShortcut(QKeySequence("Ctrl+1"))
    view_menu.addAction("&Refresh", window.refresh).setShortcut(QKeySequence("F5"))

    help_menu = bar.addMenu("&Help")
    help_menu.addAction("&Keyboard shortcuts", window.show_shortcuts).setShortcut(
        QKeySequence.StandardKey.HelpContents
    )
    help_menu.addAction("&About Sieve", window.show_about)

    toolbar = QToolBar("Main")
    toolbar.setObjectName("main-toolbar")
    toolbar.setMovable(False)
    toolbar.addActions([open_folder, open_demo])
    toolbar.addSeparator()
    toolbar.addActions([undo, redo])
    window.addToolBar(toolbar)
    return WindowActions(
        open_folder,
        open_project,
        open_demo,
        import_tv,
        export_selected,
        export_shown,
        undo,
        redo,
        select_all,
        select_none,
        recent_menu,
        tag_menu,
        forget_missing,
    )


def _fill_recent(window: MainWindow, menu: QMenu) -> None:
    menu.clear()
    recent = window.settings.recent_projects()
    for path in recent:
        menu.addAction(str(path), partial(window.open_project, path))
    if not recent:
        menu.addAction("(none)").setEnabled(False)
