"""The GUI keeps the user's data: missing files shown and forgotten only on request, a corrupt
thumbnail cache rebuilt, unreadable folders listed, odd file names shown."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from app.core.store.project import Project
from app.ui.browser.model import MissingRole
from app.ui.main_window import MainWindow
from app.ui.placeholders import missing_pixmap
from tests.factories import write_image
from tests.ui.test_main_window import (
    TIMEOUT_MS,
    decoration,
    find_message_box,
    is_placeholder,
    open_and_wait,
    rows,
)


def missing_rows(window: MainWindow) -> list[int]:
    model = window.browser.model
    return [r for r in range(model.rowCount()) if model.index(r).data(MissingRole)]


def answer(monkeypatch, button: QMessageBox.StandardButton) -> list[str]:
    """Make the confirmation answer ``button``; the list collects the questions asked."""
    asked: list[str] = []

    def question(parent, title, text, *args):
        asked.append(text)
        return button

    monkeypatch.setattr(QMessageBox, "question", question)
    return asked


def counts_text(window: MainWindow) -> str:
    return window.status_panel.counts_label.text()


def test_missing_files_get_a_badge_and_are_forgotten_only_after_a_yes(
    qtbot, window: MainWindow, colour_dataset: Path, monkeypatch
) -> None:
    open_and_wait(qtbot, window, colour_dataset, 13)
    assert not window.actions.forget_missing.isEnabled()
    (colour_dataset / "red" / "00.png").unlink()
    (colour_dataset / "blue" / "01.png").unlink()
    open_and_wait(qtbot, window, colour_dataset, 13)
    qtbot.waitUntil(lambda: len(missing_rows(window)) == 2, timeout=TIMEOUT_MS)
    pixmap = decoration(window, missing_rows(window)[0])
    assert pixmap.cacheKey() == missing_pixmap(128).cacheKey()
    qtbot.waitUntil(lambda: "2 missing" in counts_text(window))
    assert find_message_box() is None  # a few missing files are no alarm
    action = window.actions.forget_missing
    qtbot.waitUntil(lambda: action.isEnabled(), timeout=TIMEOUT_MS)  # after the thumbnails
    assert action.text() == "Forget 2 missing files…"

    asked = answer(monkeypatch, QMessageBox.StandardButton.No)
    action.trigger()
    assert len(asked) == 1 and "2 missing files" in asked[0] and "cannot be undone" in asked[0]
    assert not window.runner.is_busy and rows(window) == 13

    answer(monkeypatch, QMessageBox.StandardButton.Yes)
    action.trigger()
    qtbot.waitUntil(lambda: rows(window) == 11, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: not window.runner.is_busy, timeout=TIMEOUT_MS)
    with Project.open(colour_dataset) as project:
        assert project.missing_count() == 0 and project.sample_count() == 11
    assert not action.isEnabled() and "missing" not in counts_text(window)


def test_a_vanished_folder_warns_on_open_and_keeps_everything(
    qtbot, window: MainWindow, colour_dataset: Path, tmp_path: Path, monkeypatch
) -> None:
    open_and_wait(qtbot, window, colour_dataset, 13)
    with Project.open(colour_dataset) as project:
        ids = sorted(row.id for row in project.samples())
        project.add_tag(project.create_tag("keep"), ids[:3])
    away = tmp_path / "away"
    away.mkdir()
    for name in ("red", "green", "blue"):
        (colour_dataset / name).rename(away / name)
    open_and_wait(qtbot, window, colour_dataset, 13)
    qtbot.waitUntil(lambda: find_message_box() is not None, timeout=TIMEOUT_MS)
    assert "is the drive mounted?" in find_message_box().text()
    qtbot.waitUntil(lambda: len(missing_rows(window)) == 13, timeout=TIMEOUT_MS)
    asked = answer(monkeypatch, QMessageBox.StandardButton.No)
    qtbot.waitUntil(lambda: window.actions.forget_missing.isEnabled(), timeout=TIMEOUT_MS)
    window.actions.forget_missing.trigger()
    assert "is the drive mounted?" in asked[0]
    with Project.open(colour_dataset) as project:
        assert sorted(row.id for row in project.samples()) == ids
        assert project.tagged(project.tag_id("keep")) == ids[:3]


def test_a_corrupt_thumbnail_cache_is_rebuilt_on_open(
    qtbot, window: MainWindow, colour_dataset: Path
) -> None:
    open_and_wait(qtbot, window, colour_dataset, 13)
    window.shutdown()  # let go of the cache, as a closed window would
    project_dir = colour_dataset / ".sieve"
    (project_dir / "thumbs.sqlite").write_bytes(b"this is not a database " * 200)
    fresh = MainWindow(settings=window.settings)
    qtbot.addWidget(fresh)
    fresh.show()
    try:
        fresh.open_project(project_dir)
        qtbot.waitUntil(lambda: rows(fresh) == 13, timeout=TIMEOUT_MS)
        qtbot.waitUntil(lambda: not fresh.runner.is_busy, timeout=TIMEOUT_MS)
        assert find_message_box() is None
        qtbot.waitUntil(lambda: not is_placeholder(decoration(fresh, 0)), timeout=TIMEOUT_MS)
        assert len(list(project_dir.glob("thumbs.sqlite.broken-*"))) == 1
    finally:
        fresh.shutdown()


def test_unreadable_folders_are_listed_in_the_status_bar(
    qtbot, window: MainWindow, colour_dataset: Path, monkeypatch
) -> None:
    real_scandir = os.scandir
    locked = os.fspath(colour_dataset / "green")

    def scandir(path):
        if os.fspath(path) == locked:
            raise PermissionError(13, "Permission denied", locked)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    window.indexer.in_process = True  # the patch reaches this process's index only
    open_and_wait(qtbot, window, colour_dataset, 9)
    qtbot.waitUntil(lambda: "1 unreadable" in counts_text(window))
    assert "green: permission denied" in window.status_panel.counts_label.toolTip()


def test_a_file_name_that_is_not_utf8_is_shown_with_its_thumbnail(
    qtbot, window: MainWindow, colour_dataset: Path
) -> None:
    write_image(Path(os.fsdecode(os.fsencode(colour_dataset) + b"/caf\xe9.png")))
    open_and_wait(qtbot, window, colour_dataset, 14)
    model = window.browser.model
    (row,) = [r for r in range(rows(window)) if "\ufffd" in model.index(r).data()]
    assert model.index(row).data() == "caf\ufffd.png"
    qtbot.waitUntil(lambda: not is_placeholder(decoration(window, row)), timeout=TIMEOUT_MS)
    window.show_detail(model.sample_id(row))
    qtbot.waitUntil(lambda: window.detail.image_view.pixmap() is not None, timeout=TIMEOUT_MS)
    assert model.index(row).data(Qt.ItemDataRole.ToolTipRole).startswith("caf\ufffd.png")
