"""The tag panel: every edit is one undo step and is in the project store at once.

Each step is checked through a separate Project connection, the way another process would see it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtGui import QColor, QContextMenuEvent, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QColorDialog,
    QHBoxLayout,
    QInputDialog,
    QLineEdit,
    QListWidget,
    QMenu,
    QMessageBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core.ingest.indexing import index_job
from app.core.jobs import run_job
from app.core.store.project import Project
from app.gui_model.state import AppState
from app.ui.tags import PALETTE, TagPanel
from app.ui.tags.model import CountRole, KeyRole
from app.ui.theme import dark_palette

N_SAMPLES = 10


@dataclass
class Host:
    """A window like the main one: a stand-in grid, a search field and the tag panel."""

    window: QWidget
    grid: QListWidget
    search: QLineEdit
    panel: TagPanel
    state: AppState
    stack: QUndoStack
    project_dir: Path


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    root = make_small_dataset(tmp_path)
    with Project.for_dataset(root) as project:
        run_job(index_job(project))
        assert project.sample_count() == N_SAMPLES
        return project.path


def make_small_dataset(tmp_path: Path) -> Path:
    from tests.factories import make_dataset

    return make_dataset(tmp_path / "data", {"cats": 6, "dogs": 4}, size=(16, 12))


def make_host(qtbot, project_dir: Path) -> Host:
    window = QWidget()
    qtbot.addWidget(window)
    state, stack = AppState(), QUndoStack(window)
    grid, search = QListWidget(), QLineEdit()
    grid.addItems(["sample"] * 3)
    panel = TagPanel(state, stack)
    panel.set_project(project_dir)
    panel.install_number_shortcuts(window)
    undo, redo = stack.createUndoAction(window), stack.createRedoAction(window)
    undo.setShortcut(QKeySequence("Ctrl+Z"))
    redo.setShortcut(QKeySequence("Ctrl+Shift+Z"))
    window.addActions([undo, redo])
    left = QVBoxLayout()
    left.addWidget(search)
    left.addWidget(grid)
    layout = QHBoxLayout(window)
    layout.addLayout(left, 1)
    layout.addWidget(panel)
    window.resize(700, 420)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    grid.setFocus()
    return Host(window, grid, search, panel, state, stack, project_dir)


@pytest.fixture
def host(qtbot, project_dir: Path) -> Iterator[Host]:
    host = make_host(qtbot, project_dir)
    yield host
    host.panel.set_project(None)


def stored(project_dir: Path) -> dict[str, tuple[int, str, list[int]]]:
    """Every tag as another connection sees it: name -> (id, colour, member ids)."""
    with Project.open(project_dir) as project:
        return {tag.name: (tag.id, tag.color, project.tagged(tag.id)) for tag in project.tags()}


def members(project_dir: Path, name: str) -> list[int]:
    return stored(project_dir)[name][2]


def all_ids(project_dir: Path) -> list[int]:
    with Project.open(project_dir) as project:
        return [sample.id for sample in project.samples()]


def button(panel: TagPanel, action) -> QToolButton:
    return next(b for b in panel.findChildren(QToolButton) if b.defaultAction() is action)


def click(qtbot, panel: TagPanel, action) -> None:
    qtbot.mouseClick(button(panel, action), Qt.MouseButton.LeftButton)


def answer_text(monkeypatch, text: str) -> list[str]:
    """Make QInputDialog.getText return ``text``; returns the labels it was asked with."""
    asked: list[str] = []

    def get_text(parent, title, label, *args, **kwargs):
        asked.append(label)
        return text, True

    monkeypatch.setattr(QInputDialog, "getText", staticmethod(get_text))
    return asked


def collect_warnings(monkeypatch) -> list[str]:
    warnings: list[str] = []

    def warning(parent, title, text, *args, **kwargs):
        warnings.append(text)
        return QMessageBox.StandardButton.Ok

    monkeypatch.setattr(QMessageBox, "warning", staticmethod(warning))
    return warnings


def create(qtbot, monkeypatch, host: Host, name: str) -> int:
    answer_text(monkeypatch, name)
    click(qtbot, host.panel, host.panel.new_action)
    return stored(host.project_dir)[name.strip()][0]


def test_create_rename_recolour_with_undo_and_redo(qtbot, monkeypatch, host: Host) -> None:
    panel, stack, folder = host.panel, host.stack, host.project_dir
    assert not panel.rename_action.isEnabled() and panel.hint.text().startswith("No tags yet")
    with qtbot.waitSignal(panel.tags_changed):
        tag_id = create(qtbot, monkeypatch, host, "  keep ")
    assert stored(folder) == {"keep": (tag_id, PALETTE[0], [])}
    assert panel.current_tag().name == "keep" and panel.rename_action.isEnabled()
    assert stack.undoText() == "New tag \u201ckeep\u201d"

    answer_text(monkeypatch, "good")
    click(qtbot, panel, panel.rename_action)
    assert stored(folder) == {"good": (tag_id, PALETTE[0], [])}
    assert stack.undoText() == "Rename tag \u201ckeep\u201d to \u201cgood\u201d"

    monkeypatch.setattr(QColorDialog, "getColor", staticmethod(lambda *a, **k: QColor("#123456")))
    click(qtbot, panel, panel.color_action)
    assert stored(folder) == {"good": (tag_id, "#123456", [])}
    assert panel.model.index(0).data() == "good"

    steps = [
        {"good": (tag_id, PALETTE[0], [])},
        {"keep": (tag_id, PALETTE[0], [])},
        {},
    ]
    for expected in steps:
        stack.undo()
        assert stored(folder) == expected
        assert [panel.model.index(r).data() for r in range(panel.model.rowCount())] == list(
            expected
        )
    for expected in reversed([{"good": (tag_id, "#123456", [])}, *steps[:-1]]):
        stack.redo()
        assert stored(folder) == expected  # a redone create keeps the tag's id


def test_refused_edits_warn_and_push_nothing(qtbot, monkeypatch, host: Host) -> None:
    warnings = collect_warnings(monkeypatch)
    create(qtbot, monkeypatch, host, "keep")
    create(qtbot, monkeypatch, host, "drop")
    assert host.stack.count() == 2
    answer_text(monkeypatch, "keep")
    click(qtbot, host.panel, host.panel.new_action)
    click(qtbot, host.panel, host.panel.rename_action)  # "drop" is current: rename to "keep"
    assert len(warnings) == 2 and all("exists already" in text for text in warnings)
    assert host.stack.count() == 2 and sorted(stored(host.project_dir)) == ["drop", "keep"]


def test_delete_asks_and_undo_restores_exact_members(qtbot, monkeypatch, host: Host) -> None:
    panel, folder = host.panel, host.project_dir
    ids = all_ids(folder)
    tag_id = create(qtbot, monkeypatch, host, "keep")
    chosen = [ids[1], ids[4], ids[7]]
    host.state.select(chosen)
    click(qtbot, panel, panel.assign_action)
    assert members(folder, "keep") == chosen
    assert panel.model.index(0).data(CountRole) == 3
    monkeypatch.setattr(QColorDialog, "getColor", staticmethod(lambda *a, **k: QColor("#a0b0c0")))
    click(qtbot, panel, panel.color_action)

    asked: list[str] = []

    def question(parent, title, text, *args, **kwargs):
        asked.append(text)
        return answers.pop(0)

    answers = [QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes]
    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    click(qtbot, panel, panel.delete_action)
    assert "keep" in stored(folder) and "3 samples" in asked[0]
    click(qtbot, panel, panel.delete_action)
    assert stored(folder) == {} and panel.model.rowCount() == 0
    assert host.stack.undoText() == "Delete tag \u201ckeep\u201d"

    host.stack.undo()
    assert stored(folder) == {"keep": (tag_id, "#a0b0c0", chosen)}
    host.stack.redo()
    assert stored(folder) == {}
    host.stack.undo()
    host.stack.undo()  # the colour change, on the restored tag
    assert stored(folder) == {"keep": (tag_id, PALETTE[0], chosen)}


def test_number_keys_toggle_tags_on_the_selection(qtbot, monkeypatch, host: Host) -> None:
    folder, stack = host.project_dir, host.stack
    ids = all_ids(folder)
    create(qtbot, monkeypatch, host, "keep")
    create(qtbot, monkeypatch, host, "blurry")
    host.panel.editor.assign(stored(folder)["keep"][0], [ids[0]])
    host.state.select(ids[:3])
    host.grid.setFocus()

    qtbot.keyClick(host.grid, Qt.Key.Key_1)
    assert members(folder, "keep") == ids[:3]
    assert stack.undoText() == "Tag 2 samples \u201ckeep\u201d"
    qtbot.keyClick(host.grid, Qt.Key.Key_1)  # all three have it now: off
    assert members(folder, "keep") == []
    qtbot.keyClick(host.grid, Qt.Key.Key_2)
    assert members(folder, "blurry") == ids[:3] and members(folder, "keep") == []
    before = stack.count()
    qtbot.keyClick(host.grid, Qt.Key.Key_3)  # there is no third tag
    assert stack.count() == before

    qtbot.keyClick(host.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert members(folder, "blurry") == []
    qtbot.keyClick(host.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert members(folder, "keep") == ids[:3]
    qtbot.keyClick(host.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert members(folder, "keep") == [ids[0]]  # undo untags only the newly tagged
    redo = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(host.grid, Qt.Key.Key_Z, redo)
    assert members(folder, "keep") == ids[:3]

    host.search.setFocus()
    qtbot.keyClicks(host.search, "12")
    assert host.search.text() == "12"
    assert members(folder, "keep") == ids[:3] and members(folder, "blurry") == []

    host.state.clear_selection()
    host.grid.setFocus()
    qtbot.keyClick(host.grid, Qt.Key.Key_1)
    assert members(folder, "keep") == ids[:3]


def test_double_click_renames_inline(qtbot, monkeypatch, host: Host) -> None:
    tag_id = create(qtbot, monkeypatch, host, "keep")
    view = host.panel.view
    centre = view.visualRect(host.panel.model.index(0)).center()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=centre)  # a real
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=centre)  # double-click
    qtbot.waitUntil(lambda: isinstance(QApplication.focusWidget(), QLineEdit))
    editor = QApplication.focusWidget()
    assert editor is not host.search and editor.text() == "keep"
    editor.selectAll()
    qtbot.keyClicks(editor, "run1")  # the digit is typed, not a tag toggle
    qtbot.keyClick(editor, Qt.Key.Key_Return)  # the delegate commits in a queued call
    qtbot.waitUntil(lambda: view.state() != QAbstractItemView.State.EditingState)
    assert stored(host.project_dir) == {"run1": (tag_id, PALETTE[0], [])}
    assert host.stack.undoText() == "Rename tag \u201ckeep\u201d to \u201crun1\u201d"


def test_assign_menu_checks_and_toggles(qtbot, monkeypatch, host: Host) -> None:
    folder = host.project_dir
    ids = all_ids(folder)
    create(qtbot, monkeypatch, host, "keep")
    host.state.select(ids[2:5])
    menu = host.panel.tag_menu(host.window)

    def choose(text: str) -> None:
        menu.popup(host.window.mapToGlobal(QPoint(10, 10)))
        qtbot.waitExposed(menu)
        action = next(a for a in menu.actions() if a.text().split("\t")[0] == text)
        qtbot.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(action).center())
        qtbot.waitUntil(lambda: not menu.isVisible())

    assert [a.text() for a in menu.actions() if a.isCheckable()] == ["keep\t1"]
    assert not menu.actions()[0].isChecked()
    choose("keep")
    assert members(folder, "keep") == ids[2:5]
    menu.rebuild()
    assert menu.actions()[0].isChecked()
    choose("keep")
    assert members(folder, "keep") == []

    answer_text(monkeypatch, "picked")
    depth = host.stack.count()
    choose("New tag from selection\u2026")
    assert members(folder, "picked") == ids[2:5]
    assert host.stack.count() == depth + 1  # one macro: create and assign
    host.stack.undo()
    assert "picked" not in stored(folder)


def test_context_menu_asks_to_show_only_a_tag(qtbot, monkeypatch, host: Host) -> None:
    create(qtbot, monkeypatch, host, "keep")
    view = host.panel.view
    pos = view.visualRect(host.panel.model.index(0)).center()

    def pick() -> None:
        qtbot.waitUntil(lambda: isinstance(QApplication.activePopupWidget(), QMenu))
        menu = QApplication.activePopupWidget()
        action = next(a for a in menu.actions() if a.text() == "&Show only this tag")
        qtbot.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(action).center())

    QTimer.singleShot(0, pick)  # runs inside the menu's own event loop
    event = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos, view.viewport().mapToGlobal(pos))
    with qtbot.waitSignal(host.panel.show_tag_requested) as signal:
        QApplication.sendEvent(view.viewport(), event)
    assert signal.args == ["keep"]


def test_switching_projects_clears_undo_and_rereads(qtbot, monkeypatch, host: Host) -> None:
    create(qtbot, monkeypatch, host, "keep")
    host.panel.set_project(None)
    assert host.stack.count() == 0 and host.panel.model.rowCount() == 0
    assert not host.panel.new_action.isEnabled() and host.panel.hint.isVisible()
    host.panel.set_project(host.project_dir)
    assert host.panel.model.index(0).data() == "keep"
    with Project.open(host.project_dir) as other:
        other.create_tag("from the cli")
    host.panel.refresh()
    assert host.panel.model.index(1).data() == "from the cli"
    assert host.panel.model.index(0).data(KeyRole) == "1" and not host.panel.hint.isVisible()


def big_project(tmp_path: Path, count: int) -> Path:
    (tmp_path / "big").mkdir()
    with Project.create(tmp_path / "big-project", tmp_path / "big") as project, project.db:
        cursor = project.db.execute(
            "INSERT INTO files(relpath, kind, size, mtime_ns, status, n_frames) "
            "VALUES ('clip.mp4', 'video', 1, 1, 'ok', ?)",
            (count,),
        )
        project.db.executemany(
            "INSERT INTO samples(file_id, frame, status) VALUES (?, ?, 'ok')",
            ((cursor.lastrowid, frame) for frame in range(count)),
        )
        return project.path


def test_100k_assignment_and_undo_stay_fast(qtbot, monkeypatch, tmp_path: Path) -> None:
    folder = big_project(tmp_path, 100_000)
    host = make_host(qtbot, folder)
    try:
        ids = np.asarray(all_ids(folder), dtype=np.int64)
        tag_id = create(qtbot, monkeypatch, host, "many")
        host.panel.editor.assign(tag_id, ids[:1000])
        host.state.select(ids)
        timings = []
        for _ in range(2):  # the better of two runs, so a busy machine does not fail it
            started = time.perf_counter()
            qtbot.keyClick(host.grid, Qt.Key.Key_1)
            host.stack.undo()
            timings.append(time.perf_counter() - started)
            assert members(folder, "many") == ids[:1000].tolist()
        assert min(timings) < 1.0, f"assign + undo of 100k took {min(timings):.2f} s"
        host.stack.redo()
        assert len(members(folder, "many")) == 100_000
    finally:
        host.panel.set_project(None)


def test_screenshot_of_the_panel(qtbot, monkeypatch, host: Host, screenshots: Path) -> None:
    ids = all_ids(host.project_dir)
    for index, name in enumerate(["keep", "blurry", "near duplicate", "review later"]):
        tag_id = create(qtbot, monkeypatch, host, name)
        host.panel.editor.assign(tag_id, ids[: 8 - 2 * index])
    host.panel.select_tag(stored(host.project_dir)["blurry"][0])
    host.state.select(ids[:2])
    host.panel.resize(300, 320)
    host.panel.grab().save(str(screenshots / "tags_panel.png"))
    host.panel.setPalette(dark_palette())
    host.panel.view.setPalette(dark_palette())
    host.panel.grab().save(str(screenshots / "tags_panel_dark.png"))
    assert (screenshots / "tags_panel.png").stat().st_size > 0
