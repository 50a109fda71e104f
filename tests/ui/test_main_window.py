"""The main window opens real projects through the engine and shows them in the grid."""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QApplication, QMessageBox

from app.core.jobs import CancelToken, Job, Progress
from app.ui.grid import ICON_SIZE, SampleRole
from app.ui.main_window import MainWindow
from app.ui.placeholders import broken_pixmap, loading_pixmap
from tests.factories import make_dataset, write_clip
from tests.ui.conftest import COLOURS, PER_CLASS

TIMEOUT_MS = 10_000


def visible_rows(window: MainWindow) -> list[int]:
    view = window.grid
    area = view.viewport().rect()
    rows = range(window.model.rowCount())
    return [r for r in rows if view.visualRect(window.model.index(r)).intersects(area)]


def decoration(window: MainWindow, row: int) -> QPixmap:
    return window.model.data(window.model.index(row), Qt.ItemDataRole.DecorationRole)


def is_placeholder(pixmap: QPixmap) -> bool:
    return pixmap.cacheKey() == loading_pixmap(ICON_SIZE).cacheKey()


def open_and_wait(qtbot, window: MainWindow, folder: Path, rows: int) -> None:
    window.open_folder(folder)
    qtbot.waitUntil(lambda: window.model.rowCount() == rows, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: not window.runner.is_busy, timeout=TIMEOUT_MS)


def test_welcome_page_when_nothing_is_open(window: MainWindow, screenshots: Path) -> None:
    assert window.pages.currentWidget() is window.welcome
    assert window.welcome.open_demo_button.isVisible()
    assert window.status_panel.counts_label.text() == "No project open"
    assert not window.status_panel.cancel_button.isVisible()
    window.grab().save(str(screenshots / "welcome.png"))


def test_opens_a_folder_and_shows_real_thumbnails(
    qtbot, window: MainWindow, colour_dataset: Path, screenshots: Path
) -> None:
    n = len(COLOURS) * PER_CLASS + 1
    open_and_wait(qtbot, window, colour_dataset, n)
    assert window.pages.currentWidget() is window.grid
    assert window.status_panel.counts_label.isVisible()
    assert window.status_panel.counts_label.text() == "12 samples · 1 broken · 3 labels"
    assert window.windowTitle() == "colours — Sieve"

    names = [window.model.data(window.model.index(r)) for r in range(n)]
    assert names[0] == "blue/00.png" and "red/bad.png" in names
    rows = visible_rows(window)
    assert len(rows) == n  # the small window shows them all

    broken = names.index("red/bad.png")
    assert decoration(window, broken).cacheKey() == broken_pixmap(ICON_SIZE).cacheKey()
    tip = window.model.data(window.model.index(broken), Qt.ItemDataRole.ToolTipRole)
    assert tip.startswith("red/bad.png\nbroken: ")

    good = [r for r in rows if r != broken]
    qtbot.waitUntil(
        lambda: not any(is_placeholder(decoration(window, r)) for r in good), timeout=TIMEOUT_MS
    )
    for row in good:
        label = window.model.data(window.model.index(row)).split("/")[0]
        image = decoration(window, row).toImage()
        assert (image.width(), image.height()) == (ICON_SIZE, ICON_SIZE)
        assert image.pixelColor(ICON_SIZE // 2, 2).alpha() == 0  # letterboxed: wider than tall
        centre = image.pixelColor(ICON_SIZE // 2, ICON_SIZE // 2)
        expected = COLOURS[label]
        assert abs(centre.red() - expected[0]) < 30, (row, centre.getRgb())
        assert abs(centre.green() - expected[1]) < 30 and abs(centre.blue() - expected[2]) < 30
    tip = window.model.data(window.model.index(0), Qt.ItemDataRole.ToolTipRole)
    assert tip == "blue/00.png\nlabel: blue\n40 × 30"
    assert window.model.data(window.model.index(0), SampleRole).label == "blue"
    window.grab().save(str(screenshots / "grid.png"))


def test_only_visible_thumbnails_are_loaded(qtbot, window: MainWindow, tmp_path: Path) -> None:
    folder = make_dataset(tmp_path / "many", {"a": 150, "b": 150}, size=(8, 8))
    open_and_wait(qtbot, window, folder, 300)
    loader = window.model.loader
    first = visible_rows(window)
    assert 0 < len(first) < 100
    qtbot.waitUntil(lambda: not any(is_placeholder(decoration(window, r)) for r in first))
    assert loader.loaded_count < 150

    window.grid.scrollToBottom()
    last = visible_rows(window)
    assert 299 in last
    qtbot.waitUntil(lambda: not is_placeholder(decoration(window, 299)), timeout=TIMEOUT_MS)
    assert loader.loaded_count < 300


def test_open_demo_button(qtbot, window: MainWindow, screenshots: Path) -> None:
    qtbot.mouseClick(window.welcome.open_demo_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.model.rowCount() == 400, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: not window.runner.is_busy, timeout=TIMEOUT_MS)
    assert window.status_panel.counts_label.text() == "400 samples · 0 broken · 10 labels"
    rows = visible_rows(window)
    qtbot.waitUntil(lambda: not any(is_placeholder(decoration(window, r)) for r in rows))
    window.grab().save(str(screenshots / "demo.png"))


def find_message_box() -> QMessageBox | None:
    boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox)]
    visible = [box for box in boxes if box.isVisible()]
    return visible[0] if visible else None


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
    qtbot.mouseClick(box.button(QMessageBox.StandardButton.Ok), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: find_message_box() is None)
    assert window.pages.currentWidget() is window.welcome
    assert not window.runner.is_busy


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
        qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
        pauses[9].set()
    assert steps == list(range(11))  # the step it was waiting in ended, then it stopped
    assert not panel.cancel_button.isVisible()
    assert panel.counts_label.isVisible()
    assert window.welcome.open_folder_button.isEnabled()
    assert window.model.rowCount(QModelIndex()) == 0


def test_video_frames_get_thumbnails_after_indexing(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    folder = tmp_path / "clips"
    write_clip(folder / "walk" / "clip.mp4", frames=5)
    open_and_wait(qtbot, window, folder, 5)
    rows = range(5)
    names = [window.model.data(window.model.index(r)) for r in rows]
    assert all(name.startswith("walk/clip") for name in names)
    qtbot.waitUntil(
        lambda: not any(is_placeholder(decoration(window, r)) for r in rows), timeout=TIMEOUT_MS
    )
    for row in rows:
        level = 10 + 4 * window.model.sample(row).frame
        centre = decoration(window, row).toImage().pixelColor(ICON_SIZE // 2, ICON_SIZE // 2)
        assert abs(centre.red() - level) < 12 and abs(centre.green() - level) < 12
