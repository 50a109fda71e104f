"""The window's dialogs and menus: shortcuts, preferences, torchvision import, recent projects."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QDialogButtonBox

from app.ui.dialogs.import_torchvision import ImportTorchvisionDialog
from app.ui.dialogs.preferences import PreferencesDialog
from app.ui.dialogs.shortcuts import ShortcutsDialog
from app.ui.main_window import MainWindow
from app.ui.settings import Settings


def test_shortcuts_dialog_lists_the_window_actions(qtbot, window: MainWindow) -> None:
    dialog = ShortcutsDialog(window.findChildren(type(window.actions.undo)), window)
    qtbot.addWidget(dialog)
    table = dialog.table
    texts = {table.item(row, 1).text() for row in range(table.rowCount())}
    assert {"Undo", "Redo", "Open folder", "Select all shown"} <= texts
    assert any("tag" in text for text in texts)


def test_preferences_store_the_thumbnail_size(qtbot, settings: Settings) -> None:
    dialog = PreferencesDialog(settings)
    qtbot.addWidget(dialog)
    dialog.thumbnail_size.setValue(192)
    dialog.accept()
    assert settings.thumbnail_size() == 192


def test_import_dialog_needs_both_folders(qtbot, tmp_path: Path) -> None:
    dialog = ImportTorchvisionDialog()
    qtbot.addWidget(dialog)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert not ok.isEnabled()
    dialog.root.setText(str(tmp_path / "files"))
    dialog.out_dir.setText(str(tmp_path / "out"))
    dialog.limit.setValue(50)
    assert ok.isEnabled()
    request = dialog.request()
    assert request.name == "CIFAR10" and request.limit == 50 and request.split == "train"
    assert request.out_dir == tmp_path / "out"


def test_recent_menu_lists_opened_projects(qtbot, window: MainWindow, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    window.settings.add_recent_project(project)
    menu = window.actions.recent_menu
    menu.aboutToShow.emit()
    assert [action.text() for action in menu.actions()] == [str(project)]


def test_window_layout_is_remembered(qtbot, settings: Settings) -> None:
    first = MainWindow(settings=settings)
    qtbot.addWidget(first)
    first.show()
    first.resize(1240, 700)
    first.log_dock.show()
    first.close()
    second = MainWindow(settings=settings)
    qtbot.addWidget(second)
    second.show()
    assert second.height() == 700  # the offscreen screen clamps the width to the window's minimum
    assert second.log_dock.isVisible()
    second.close()
