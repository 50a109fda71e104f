"""File ▸ Import annotations…: the dialog imports into the open project, or shows the one-line
refusal and leaves the project as it was."""

from __future__ import annotations

from pathlib import Path

from app.core.store import objects as store
from app.core.store.project import Project
from app.ui.dialogs.import_annotations import MENU_TEXT, open_import_dialog
from app.ui.main_window import MainWindow
from tests.annotation_files import indexed_project, write_coco


def _open(qtbot, window: MainWindow, tmp_path: Path) -> Path:
    with indexed_project(tmp_path / "data") as project:
        project_dir = project.path
    window.open_project(project_dir)
    qtbot.waitUntil(lambda: window.project is not None, timeout=20_000)
    return project_dir


def test_the_file_menu_imports_coco_into_the_open_project(qtbot, window, tmp_path) -> None:
    file_menu = window.menuBar().actions()[0].menu()
    texts = [action.text() for action in file_menu.actions()]
    assert texts.index(MENU_TEXT) == texts.index("&Import torchvision dataset…") + 1
    project_dir = _open(qtbot, window, tmp_path)
    dialog = open_import_dialog(window)
    assert not dialog.import_button.isEnabled()
    dialog.format.setCurrentIndex(dialog.format.findData("coco"))
    dialog.source.setText(str(write_coco(tmp_path / "labels.json")))
    dialog.name.setText("truth")
    dialog.grab().save(str(tmp_path / "import-annotations.png"))
    with qtbot.waitSignal(dialog.finished, timeout=20_000):
        dialog.import_button.click()
    with Project.open(project_dir) as project:
        assert store.annotation_summary(project)["annotation_sources"][0]["objects"] == 6
    assert "Imported 6 objects on 4 images as 'truth'" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: bool(window.browser.objects.sources), timeout=10_000)


def test_a_refused_file_shows_its_line_and_imports_nothing(qtbot, window, tmp_path) -> None:
    project_dir = _open(qtbot, window, tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text('{"images": [\n  {"id": 1,}\n]}')
    dialog = open_import_dialog(window)
    dialog.source.setText(str(bad))
    dialog.import_button.click()
    qtbot.waitUntil(lambda: dialog.error.isVisible(), timeout=20_000)
    assert "bad.json: line 2 column 12: broken json" in dialog.error.text()
    assert "\n" not in dialog.error.text() and dialog.isVisible()
    dialog.grab().save(str(tmp_path / "import-annotations-error.png"))
    with Project.open(project_dir) as project:
        assert store.sources(project) == []
    dialog.reject()
    qtbot.waitUntil(lambda: not dialog.isVisible())
