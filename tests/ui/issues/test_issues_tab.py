"""The Issues tab: a real run on planted images; counts and strips, a click filters and sorts the
grid, the threshold slider, tagging everything found (undoable) and the clean subset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QUndoStack

from app.core.store.project import Project
from app.gui_model.state import AppState
from app.ui.issues.panel import IssuesPanel
from app.ui.main_window import MainWindow
from app.ui.tags.editor import TagEditor
from tests.core.quality.planted import make_planted

TIMEOUT_MS = 30_000


@pytest.fixture
def planted_folder(tmp_path: Path):
    folder = tmp_path / "planted"
    planted = make_planted(folder, ordinary=24, per_kind=2, seed=9)
    return folder, planted


def _open(qtbot, window: MainWindow, folder: Path, count: int) -> None:
    window.open_folder(folder)
    qtbot.waitUntil(lambda: window.browser.model.rowCount() == count, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: not window.runner.is_busy, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: window.state.indexing is None, timeout=TIMEOUT_MS)


def _run(qtbot, panel: IssuesPanel, names=None) -> None:
    qtbot.waitUntil(lambda: not panel.runner.is_busy, timeout=TIMEOUT_MS)
    with qtbot.waitSignal(panel.stored, timeout=TIMEOUT_MS):
        panel.run_checks(names)


def test_the_tab_counts_shows_examples_and_filters_the_grid(
    qtbot, window: MainWindow, planted_folder, screenshots: Path
) -> None:
    folder, planted = planted_folder
    total = 24 + 2 * 9
    _open(qtbot, window, folder, total)
    ui = window.issues_ui
    assert ui.dock in window.tabifiedDockWidgets(window.tags_dock)
    ui.dock.show()
    ui.dock.raise_()
    panel = ui.panel
    qtbot.waitUntil(lambda: panel.summary is not None, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: not panel.runner.is_busy, timeout=TIMEOUT_MS)
    dark = panel.rows["dark"]
    assert dark.count.text() == "2 found"
    assert not dark.tiles[0].pixmap().isNull() and dark.tiles[2].pixmap().isNull()
    assert dark.tiles[0].toolTip().startswith("p_dark_")
    assert panel.rows["exact_duplicates"].count.text() == "2 found"
    window.resize(1500, 900)
    window.resizeDocks([ui.dock], [460], Qt.Orientation.Horizontal)
    qtbot.wait(200)
    window.grab().save(str(screenshots / "issues-window.png"))
    panel.grab().save(str(screenshots / "issues-tab.png"))

    qtbot.mouseClick(panel.rows["blurry"], Qt.MouseButton.LeftButton)
    assert window.state.filter.selection == "issues: blurry"
    assert window.state.filter.sort == "quality.blurry" and not window.state.filter.descending
    qtbot.waitUntil(lambda: window.browser.model.rowCount() == 2, timeout=TIMEOUT_MS)
    assert window.pages.currentWidget() is window.browser
    qtbot.mouseClick(panel.rows["dark"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.browser.model.rowCount() == 2, timeout=TIMEOUT_MS)
    qtbot.wait(300)
    window.grab().save(str(screenshots / "issues-grid.png"))


def test_slider_tag_all_with_undo_and_clean_subset(qtbot, planted_folder) -> None:
    folder, planted = planted_folder
    from app.core.ingest.indexing import IndexOptions, index_job
    from app.core.jobs import run_job

    with Project.for_dataset(folder) as project:
        run_job(index_job(project, IndexOptions(workers=2)))
        project_dir = project.path
    state, stack = AppState(), QUndoStack()
    editor = TagEditor(stack)
    panel = IssuesPanel(state, editor)
    qtbot.addWidget(panel)
    with Project.open(project_dir) as project:
        editor.set_project(project)
        panel.set_project(project_dir)
        _run(qtbot, panel)
        dark = panel.rows["dark"]
        assert dark.slider.isVisible() or not panel.isVisible()
        dark.slider.setValue(dark.slider.maximum() // 2)  # the median: about half are darker
        assert int(dark.count.text().split()[0].replace(",", "")) >= 15
        assert "release" in dark.threshold.text()
        with qtbot.waitSignal(panel.stored, timeout=TIMEOUT_MS):
            dark.threshold_chosen.emit("dark", dark.value_at(dark.slider.value()))
        assert len(panel.summary.checks["dark"].flagged) >= 15
        found = panel.flagged_ids()

        panel.tag_name.setCurrentText("exclude")
        panel.tag_all()
        qtbot.waitUntil(lambda: editor.writes.flush(), timeout=TIMEOUT_MS)
        tag_id = project.tag_id("exclude")
        assert sorted(project.tagged(tag_id)) == found.tolist()
        stack.undo()
        qtbot.waitUntil(lambda: editor.writes.flush(), timeout=TIMEOUT_MS)
        assert project.tag_id("exclude") is None
        stack.redo()
        qtbot.waitUntil(lambda: editor.writes.flush(), timeout=TIMEOUT_MS)
        assert sorted(project.tagged(project.tag_id("exclude"))) == found.tolist()

        with qtbot.waitSignal(panel.stored, timeout=TIMEOUT_MS):
            panel.clean_subset()
        from app.core.store.selections import get_selection

        clean = get_selection(project, "clean (without exclude)").members
        usable = {row.id for row in project.samples(status="ok")}
        assert set(clean.tolist()) == usable - set(found.tolist())
        assert state.filter.selection == "clean (without exclude)"
        editor.set_project(None)
    panel.shutdown()
    assert np.all(np.isin(found, list(usable)))


def _panel_on_indexed(qtbot, folder: Path) -> tuple[AppState, IssuesPanel]:
    """A lone Issues panel on ``folder``'s project, indexed (statistics measured)."""
    from app.core.ingest.indexing import IndexOptions, index_job
    from app.core.jobs import run_job

    with Project.for_dataset(folder) as project:
        run_job(index_job(project, IndexOptions(workers=2)))
        project_dir = project.path
    state = AppState()
    panel = IssuesPanel(state)
    qtbot.addWidget(panel)
    panel.set_project(project_dir)
    return state, panel


@pytest.mark.parametrize(
    "wait, reason, told",
    [
        ("set_indexing", "indexing: 3 of 42 files left", "index"),
        (
            "set_measuring",  # every file thumbnailed, the statistics not measured yet
            "measuring image statistics, 40 of 42 left",
            "measuring image statistics, 40 of 42 left",
        ),
    ],
)
def test_checks_asked_for_while_the_index_runs_start_once_it_is_done(
    qtbot, planted_folder, wait, reason, told
) -> None:
    state, panel = _panel_on_indexed(qtbot, planted_folder[0])
    getattr(state, wait)(reason)
    assert not panel.run_button.isEnabled() and told in panel.run_button.toolTip()
    panel.run_checks()
    assert not panel.runner.is_busy and panel.summary is None
    with qtbot.waitSignal(panel.stored, timeout=TIMEOUT_MS):
        getattr(state, wait)(None)
    assert panel.summary is not None and panel.run_button.isEnabled()
    panel.shutdown()
