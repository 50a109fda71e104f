"""The main window end to end: open, browse, select, tag, undo, filter, detail, jobs, errors."""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QPixmap
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from app.core.jobs import CancelToken, Job, Progress
from app.core.store.project import Project
from app.ui.main_window import MainWindow
from app.ui.placeholders import loading_pixmap
from tests.factories import make_dataset, write_clip
from tests.ui.conftest import COLOURS, PER_CLASS

TIMEOUT_MS = 15_000
LEFT = Qt.MouseButton.LeftButton
CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


def rows(window: MainWindow) -> int:
    return window.browser.model.rowCount()


def decoration(window: MainWindow, row: int) -> QPixmap:
    model = window.browser.model
    return model.data(model.index(row), Qt.ItemDataRole.DecorationRole)


def is_placeholder(pixmap: QPixmap) -> bool:
    return pixmap.cacheKey() == loading_pixmap(128).cacheKey()


def visible_rows(window: MainWindow) -> list[int]:
    view, model = window.browser.view, window.browser.model
    area = view.viewport().rect()
    return [r for r in range(model.rowCount()) if view.visualRect(model.index(r)).intersects(area)]


def open_and_wait(qtbot, window: MainWindow, folder: Path, count: int) -> None:
    window.open_folder(folder)
    qtbot.waitUntil(lambda: rows(window) == count, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: not window.runner.is_busy, timeout=TIMEOUT_MS)


def click_row(qtbot, window: MainWindow, row: int, modifier=Qt.KeyboardModifier.NoModifier):
    view = window.browser.view
    point = view.visualRect(window.browser.model.index(row)).center()
    qtbot.mouseClick(view.viewport(), LEFT, modifier, point)


def find_message_box() -> QMessageBox | None:
    boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox)]
    visible = [box for box in boxes if box.isVisible()]
    return visible[0] if visible else None


def test_welcome_page_when_nothing_is_open(window: MainWindow, screenshots: Path) -> None:
    assert window.pages.currentWidget() is window.welcome
    assert window.welcome.open_demo_button.isVisible()
    assert not window.welcome.recent.isVisible()
    assert window.status_panel.counts_label.text() == "No project open"
    assert not window.actions.export_selected.isEnabled()
    window.grab().save(str(screenshots / "welcome.png"))


def test_opens_a_folder_with_thumbnails_counts_and_recent(
    qtbot, window: MainWindow, colour_dataset: Path, screenshots: Path
) -> None:
    n = len(COLOURS) * PER_CLASS + 1
    open_and_wait(qtbot, window, colour_dataset, n)
    assert window.pages.currentWidget() is window.browser
    assert window.windowTitle() == "colours — Sieve"
    qtbot.waitUntil(
        lambda: (
            window.status_panel.counts_label.text()
            == "13 samples · 0 selected · 1 broken · 3 labels"
        )
    )
    good = [
        r
        for r in visible_rows(window)
        if "bad" not in window.browser.model.data(window.browser.model.index(r))
    ]
    qtbot.waitUntil(lambda: not any(is_placeholder(decoration(window, r)) for r in good))
    qtbot.waitUntil(lambda: window.settings.recent_projects() == [colour_dataset / ".sieve"])
    assert window.welcome.recent.count() == 1, "remembered once every panel has the project"
    window.grab().save(str(screenshots / "grid.png"))


def test_select_tag_undo_redo_and_filter(qtbot, window: MainWindow, colour_dataset: Path) -> None:
    open_and_wait(qtbot, window, colour_dataset, 13)
    click_row(qtbot, window, 0)
    click_row(qtbot, window, 2, SHIFT)
    click_row(qtbot, window, 5, CTRL)
    selected = window.state.selected.copy()
    assert len(selected) == 4
    qtbot.waitUntil(lambda: "4 selected" in window.status_panel.counts_label.text())

    editor = window.tag_panel.editor
    editor.create_tag("keep")
    window.browser.view.setFocus()
    qtbot.keyClick(window.browser.view, Qt.Key.Key_1)
    project_dir = colour_dataset / ".sieve"

    def tagged() -> list[int]:
        with Project.open(project_dir) as project:
            return sorted(project.tagged(project.tag_id("keep")))

    assert tagged() == sorted(selected.tolist())
    qtbot.keyClick(window, Qt.Key.Key_Z, CTRL)
    assert tagged() == []
    qtbot.keyClick(window, Qt.Key.Key_Z, CTRL | SHIFT)
    assert tagged() == sorted(selected.tolist())

    window.state.set_filter(window.state.filter.with_(tag="keep"))
    qtbot.waitUntil(lambda: rows(window) == 4)
    qtbot.waitUntil(lambda: "4 of 13" in window.status_panel.counts_label.text())
    window.browser.bar.text.setText("")
    window.state.set_filter(window.state.filter.with_(tag=None, text="green"))
    qtbot.waitUntil(lambda: rows(window) == 4)


def test_detail_view_steps_with_arrows_and_esc_returns(
    qtbot, window: MainWindow, colour_dataset: Path, screenshots: Path
) -> None:
    open_and_wait(qtbot, window, colour_dataset, 13)
    click_row(qtbot, window, 0)
    qtbot.keyClick(window.browser.view, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.pages.currentWidget() is window.detail)
    order = window.browser.order_ids().tolist()
    assert window.state.current == order[0]
    qtbot.waitUntil(lambda: window.detail.image_view.pixmap() is not None, timeout=TIMEOUT_MS)
    qtbot.keyClick(window.detail, Qt.Key.Key_Right)
    qtbot.keyClick(window.detail, Qt.Key.Key_Right)
    assert window.state.current == order[2]
    qtbot.keyClick(window.detail, Qt.Key.Key_Left)
    assert window.state.current == order[1]
    qtbot.waitUntil(lambda: window.detail.image_view.pixmap() is not None, timeout=TIMEOUT_MS)
    window.grab().save(str(screenshots / "detail.png"))
    qtbot.keyClick(window.detail, Qt.Key.Key_Escape)
    assert window.pages.currentWidget() is window.browser


def test_select_all_and_export_names(
    qtbot, window: MainWindow, colour_dataset: Path, tmp_path: Path, monkeypatch
) -> None:
    open_and_wait(qtbot, window, colour_dataset, 13)
    window.actions.select_all.trigger()
    assert len(window.state.selected) == 13
    target = tmp_path / "names.txt"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    window.actions.export_selected.trigger()
    qtbot.waitUntil(lambda: target.exists() and not window.runner.is_busy, timeout=TIMEOUT_MS)
    names = target.read_text().splitlines()
    assert len(names) == 13 and "blue/00.png" in names and "red/bad.png" in names


def test_dropping_a_folder_opens_it(qtbot, window: MainWindow, colour_dataset: Path) -> None:
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(colour_dataset))])
    event = QDropEvent(
        QPointF(50, 50), Qt.DropAction.CopyAction, data, LEFT, Qt.KeyboardModifier.NoModifier
    )
    window.dropEvent(event)
    qtbot.waitUntil(lambda: rows(window) == 13, timeout=TIMEOUT_MS)


def test_open_demo_button(qtbot, window: MainWindow, screenshots: Path) -> None:
    qtbot.mouseClick(window.welcome.open_demo_button, LEFT)
    qtbot.waitUntil(lambda: rows(window) == 400, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: not window.runner.is_busy, timeout=TIMEOUT_MS)
    shown = visible_rows(window)
    qtbot.waitUntil(lambda: not any(is_placeholder(decoration(window, r)) for r in shown))
    window.grab().save(str(screenshots / "demo.png"))


def test_a_failing_job_shows_the_error_dialog(
    qtbot, window: MainWindow, tmp_path: Path, screenshots: Path
) -> None:
    missing = tmp_path / "no-such-folder"
    window.open_folder(missing)
    qtbot.waitUntil(lambda: find_message_box() is not None, timeout=TIMEOUT_MS)
    box = find_message_box()
    assert box.text() == f"not a folder: {missing}"
    assert "Traceback" in box.detailedText()
    assert "SieveError: not a folder" in box.detailedText()
    box.grab().save(str(screenshots / "error.png"))
    qtbot.mouseClick(box.button(QMessageBox.StandardButton.Ok), LEFT)
    qtbot.waitUntil(lambda: find_message_box() is None)
    assert window.pages.currentWidget() is window.welcome
    assert "not a folder" in window.log_panel.toPlainText()


def test_cancel_button_cancels_the_running_job(
    qtbot, window: MainWindow, screenshots: Path
) -> None:
    pauses = {4: threading.Event(), 9: threading.Event()}
    steps: list[int] = []

    def waiting_job(cancel: CancelToken) -> Job[None]:
        for i in range(100):
            steps.append(i)
            yield Progress("waiting", i, 100, "for the gate")
            if i in pauses:
                pauses[i].wait()

    panel = window.status_panel
    window.runner.start(waiting_job, "Gated")
    qtbot.waitUntil(lambda: panel.progress_bar.value() == 4, timeout=TIMEOUT_MS)
    pauses[4].set()
    qtbot.waitUntil(lambda: panel.progress_bar.value() == 9, timeout=TIMEOUT_MS)
    assert panel.stage_label.text() == "Gated · waiting: for the gate"
    assert "/s · ETA " in panel.rate_label.text()
    assert panel.cancel_button.isVisible() and not panel.counts_label.isVisible()
    assert not window.welcome.open_folder_button.isEnabled()
    window.grab().save(str(screenshots / "running.png"))
    with qtbot.waitSignal(window.runner.cancelled, timeout=TIMEOUT_MS):
        qtbot.mouseClick(panel.cancel_button, LEFT)
        pauses[9].set()
    assert steps == list(range(11))
    assert not panel.cancel_button.isVisible() and panel.counts_label.isVisible()
    assert window.welcome.open_folder_button.isEnabled()


def test_video_frames_get_thumbnails_after_indexing(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    folder = tmp_path / "clips"
    write_clip(folder / "walk" / "clip.mp4", frames=5)
    open_and_wait(qtbot, window, folder, 5)
    model = window.browser.model
    names = [model.data(model.index(r)) for r in range(5)]
    assert names == [f"walk/clip-{i}-mp4.png" for i in range(5)]
    qtbot.waitUntil(
        lambda: not any(is_placeholder(decoration(window, r)) for r in range(5)),
        timeout=TIMEOUT_MS,
    )
    for row in range(5):
        image = decoration(window, row).toImage()
        level = 10 + 4 * row
        centre = image.pixelColor(QPoint(image.width() // 2, image.height() // 2))
        assert abs(centre.red() - level) < 12


def test_many_images_open(qtbot, window: MainWindow, tmp_path: Path) -> None:
    folder = make_dataset(tmp_path / "many", {"a": 150, "b": 150}, size=(8, 8))
    open_and_wait(qtbot, window, folder, 300)
    window.browser.view.scrollToBottom()
    qtbot.waitUntil(lambda: 299 in visible_rows(window))
    qtbot.waitUntil(lambda: not is_placeholder(decoration(window, 299)), timeout=TIMEOUT_MS)
    loader = window.browser.model.loader
    assert loader.loaded_count < 300
