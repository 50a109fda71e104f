"""The active-learning panel, driven through its keys and buttons on a real project.

Jobs run on the panel's own JobRunner; each test waits for the runner to go idle and checks the
outcome through a separate Project connection (the fixture's), as another process would see it.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut, QUndoStack
from PySide6.QtWidgets import QApplication, QHBoxLayout, QListWidget, QWidget

from app.core.active.labels import PREDICTED_KEY, UNCERTAINTY_KEY
from app.core.active.strategies import RECOMMENDED
from app.core.ingest.indexing import index_job
from app.core.jobs import run_job
from app.core.store.embedding_sets import EmbeddingSet
from app.core.store.metadata import numeric_scores
from app.core.store.project import Project
from app.gui_model.state import AppState
from app.ui.active import ActiveLearningPanel
from app.ui.active.labeller import TO_LABEL_TAG
from app.ui.active.panel import EMBED_FIRST, UNCERTAINTY_COLOUR
from app.ui.theme import dark_palette
from tests.factories import make_dataset

JOB_TIMEOUT_MS = 60_000


@dataclass
class Host:
    """A window like the main one: a stand-in grid, the panel, the shared state and undo stack."""

    window: QWidget
    grid: QListWidget
    panel: ActiveLearningPanel
    state: AppState
    stack: QUndoStack
    project: Project  # a second connection, for checking what the panel stored
    window_key_1: list[int]  # activations of a window-wide "1" shortcut (as the tag panel has)


def make_host(qtbot, project: Project) -> Host:
    window = QWidget()
    qtbot.addWidget(window)
    state, stack = AppState(), QUndoStack(window)
    grid = QListWidget()
    grid.addItems(["sample"] * 3)
    panel = ActiveLearningPanel(state, stack)
    panel.set_project(project.path)
    undo = stack.createUndoAction(window)
    undo.setShortcut(QKeySequence("Ctrl+Z"))
    window.addAction(undo)
    window_key_1: list[int] = []
    shortcut = QShortcut(QKeySequence("1"), window)
    shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
    shortcut.activated.connect(lambda: window_key_1.append(1))
    layout = QHBoxLayout(window)
    layout.addWidget(grid, 1)
    layout.addWidget(panel)
    window.resize(820, 820)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    settle(qtbot, panel)
    return Host(window, grid, panel, state, stack, project, window_key_1)


@pytest.fixture
def host(qtbot, embedded_project: tuple[Project, EmbeddingSet]) -> Iterator[Host]:
    project, _ = embedded_project
    host = make_host(qtbot, project)
    yield host
    host.panel.shutdown()


def settle(qtbot, panel: ActiveLearningPanel) -> None:
    """Wait until the panel's job and its counts' read (if any) have finished and been reported."""
    qtbot.waitUntil(lambda: not panel.runner.is_busy and not panel.reading, timeout=JOB_TIMEOUT_MS)


def ids_of(project: Project, folder: str) -> np.ndarray:
    return np.array([row.id for row in project.samples(label=folder)], dtype=np.int64)


def class_members(project: Project, name: str) -> set[int]:
    tag_id = project.tag_id(name)
    return set() if tag_id is None else set(project.tagged(tag_id))


def press(qtbot, host: Host, ids: np.ndarray, key: int) -> None:
    host.state.select(ids)
    with qtbot.waitSignal(host.panel.tags_changed):
        qtbot.keyClick(host.panel, Qt.Key(Qt.Key.Key_0 + key))


def define_classes(host: Host) -> None:
    host.panel.use_folders(False)
    assert host.panel.add_class("cat")
    assert host.panel.add_class("dog")


def label_ten(qtbot, host: Host) -> tuple[np.ndarray, np.ndarray]:
    """Five cats as class 1 and five dogs as class 2, by key; returns (cats, dogs) ids."""
    define_classes(host)
    cats, dogs = ids_of(host.project, "cats"), ids_of(host.project, "dogs")
    press(qtbot, host, cats[:5], 1)
    press(qtbot, host, dogs[:5], 2)
    return cats, dogs


def click(qtbot, host: Host, button) -> None:
    assert button.isEnabled(), host.panel.message.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    settle(qtbot, host.panel)


def test_number_keys_label_the_selection_and_ctrl_z_undoes(qtbot, host: Host) -> None:
    define_classes(host)
    cats, dogs = ids_of(host.project, "cats"), ids_of(host.project, "dogs")

    press(qtbot, host, cats[:3], 1)
    press(qtbot, host, dogs[:2], 2)
    assert class_members(host.project, "cat") == set(cats[:3].tolist())
    assert class_members(host.project, "dog") == set(dogs[:2].tolist())
    counts = [label.text() for label in host.panel.classes.count_labels]
    assert counts == ["3", "2"]
    assert "5 labelled \u00b7 7 unlabelled" in host.panel.classes.totals.text()

    press(qtbot, host, cats[:1], 2)  # re-labelling moves the sample to the other class
    assert class_members(host.project, "cat") == set(cats[1:3].tolist())
    assert class_members(host.project, "dog") == set(dogs[:2].tolist()) | {int(cats[0])}

    qtbot.keyClick(host.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert class_members(host.project, "cat") == set(cats[:3].tolist())
    assert class_members(host.project, "dog") == set(dogs[:2].tolist())
    qtbot.keyClick(host.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert class_members(host.project, "dog") == set()
    assert [label.text() for label in host.panel.classes.count_labels] == ["3", "0"]


def test_keys_reach_the_panel_from_any_child_but_text_fields(qtbot, host: Host) -> None:
    define_classes(host)
    cats = ids_of(host.project, "cats")
    host.state.select(cats[:2])
    combo = host.panel.batch_box.strategy  # a combo box would search its items for a typed digit
    combo.setFocus()
    qtbot.waitUntil(combo.hasFocus)
    with qtbot.waitSignal(host.panel.tags_changed):
        qtbot.keyClick(combo, Qt.Key.Key_1)
    assert combo.currentData() == RECOMMENDED
    assert class_members(host.project, "cat") == set(cats[:2].tolist())
    assert host.window_key_1 == []  # the panel took the key before the window shortcut

    host.panel.batch_box.size.setFocus()
    qtbot.waitUntil(host.panel.batch_box.size.hasFocus)
    host.panel.batch_box.size.lineEdit().selectAll()
    qtbot.keyClicks(host.panel.batch_box.size, "12")
    assert host.panel.batch_box.size.value() == 12
    assert class_members(host.project, "dog") == set()

    host.grid.setFocus()
    qtbot.waitUntil(host.grid.hasFocus)
    qtbot.keyClick(host.grid, Qt.Key.Key_1)
    assert host.window_key_1 == [1]  # outside the panel, the window's shortcuts still work


def test_keys_typed_on_a_class_button_made_after_the_panel_label_the_selection(
    qtbot, host: Host
) -> None:
    define_classes(host)  # its buttons are built after the panel started watching keys
    dogs = ids_of(host.project, "dogs")
    host.state.select(dogs[:3])
    button = host.panel.classes.buttons[0]
    button.setFocus()
    qtbot.waitUntil(button.hasFocus)
    with qtbot.waitSignal(host.panel.tags_changed):
        qtbot.keyClick(button, Qt.Key.Key_2)
    assert class_members(host.project, "dog") == set(dogs[:3].tolist())
    assert host.window_key_1 == []


def test_class_buttons_label_like_the_keys(qtbot, host: Host) -> None:
    define_classes(host)
    dogs = ids_of(host.project, "dogs")
    host.state.select(dogs[:4])
    with qtbot.waitSignal(host.panel.tags_changed):
        qtbot.mouseClick(host.panel.classes.buttons[1], Qt.MouseButton.LeftButton)
    assert class_members(host.project, "dog") == set(dogs[:4].tolist())


def test_fit_stores_uncertainty_for_every_sample_and_colours_by_it(qtbot, host: Host) -> None:
    label_ten(qtbot, host)
    click(qtbot, host, host.panel.probe_box.fit_button)

    ids = np.array([row.id for row in host.project.samples()], dtype=np.int64)
    scores = numeric_scores(host.project, ids)
    assert np.isfinite(scores[UNCERTAINTY_KEY]).all()
    assert ((scores[UNCERTAINTY_KEY] >= 0) & (scores[UNCERTAINTY_KEY] <= 1)).all()
    assert set(scores[PREDICTED_KEY].tolist()) <= {0.0, 1.0}
    assert host.state.colour_by == UNCERTAINTY_COLOUR == "score:active_uncertainty"
    assert "%" in host.panel.probe_box.accuracy.text()

    events: list[str] = []
    host.state.subscribe(events.append)
    click(
        qtbot, host, host.panel.probe_box.fit_button
    )  # a refit tells the map to re-read the scores
    assert "colour_by" in events and host.state.colour_by == UNCERTAINTY_COLOUR


def test_next_batch_selects_unlabelled_samples_and_records_rounds(
    qtbot, host: Host, screenshots: Path
) -> None:
    cats, dogs = label_ten(qtbot, host)
    labelled = set(cats[:5].tolist()) | set(dogs[:5].tolist())
    assert host.panel.batch_box.strategy.currentData() == RECOMMENDED
    assert "recommended" in host.panel.batch_box.strategy.currentText()
    host.panel.batch_box.size.setValue(1)

    click(qtbot, host, host.panel.batch_box.next_button)
    first = host.state.selected.tolist()
    assert len(first) == 1 and not set(first) & labelled
    assert class_members(host.project, TO_LABEL_TAG) == set(first)
    assert host.panel.history.table.rowCount() == 1
    assert len(host.panel.history.curve.getData()[0]) == 1

    press(qtbot, host, np.array(first), 1)  # label the pick: it leaves the to-label queue
    assert class_members(host.project, TO_LABEL_TAG) == set()
    click(qtbot, host, host.panel.batch_box.next_button)
    second = host.state.selected.tolist()
    assert len(second) == 1 and not set(second) & (labelled | set(first))
    assert host.panel.history.table.rowCount() == 2
    x, y = host.panel.history.curve.getData()
    assert x.tolist() == [10, 11] and ((y >= 0) & (y <= 100)).all()

    host.panel.resize(380, 820)
    host.panel.grab().save(str(screenshots / "active_panel.png"))

    reopened = ActiveLearningPanel(AppState(), QUndoStack())
    qtbot.addWidget(reopened)
    reopened.set_project(host.project.path)
    reopened.show()
    settle(qtbot, reopened)
    assert reopened.history.table.rowCount() == 2
    assert [button.text() for button in reopened.classes.buttons] == ["1   cat", "2   dog"]
    reopened.shutdown()


def test_folder_labels_need_no_tagging(qtbot, host: Host) -> None:
    assert host.panel.classes.source.currentData() is True
    names = [button.text() for button in host.panel.classes.buttons]
    assert names == ["cats", "dogs"]
    assert [label.text() for label in host.panel.classes.count_labels] == ["6", "6"]

    host.state.select(ids_of(host.project, "cats")[:2])
    qtbot.keyClick(host.panel, Qt.Key.Key_1)
    assert host.project.tags() == []
    assert "Folder names" in host.panel.message.text()

    click(qtbot, host, host.panel.probe_box.fit_button)
    scores = numeric_scores(host.project, ids_of(host.project, "dogs"))
    assert np.isfinite(scores[UNCERTAINTY_KEY]).all()
    assert host.state.colour_by == UNCERTAINTY_COLOUR


def test_fewer_than_two_classes_is_explained(qtbot, host: Host) -> None:
    define_classes(host)
    press(qtbot, host, ids_of(host.project, "cats")[:4], 1)
    assert not host.panel.fit_probe()
    assert "at least 2 classes" in host.panel.message.text()
    assert not host.panel.runner.is_busy


def test_without_embeddings_the_panel_says_to_embed_first(qtbot, tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "data", {"cats": 2, "dogs": 2}, size=(16, 16))
    with Project.for_dataset(root) as project:
        run_job(index_job(project))
        host = make_host(qtbot, project)
        try:
            assert host.panel.message.text() == EMBED_FIRST
            assert not host.panel.probe_box.fit_button.isEnabled()
            assert not host.panel.batch_box.next_button.isEnabled()
            assert not host.panel.fit_probe() and not host.panel.next_batch()
        finally:
            host.panel.shutdown()


def test_screenshot_in_the_dark_theme(
    qtbot, embedded_project: tuple[Project, EmbeddingSet], screenshots: Path
) -> None:
    app = QApplication.instance()
    previous = app.palette()
    app.setPalette(dark_palette())
    try:
        host = make_host(qtbot, embedded_project[0])
        cats, _ = label_ten(qtbot, host)
        host.panel.batch_box.size.setValue(1)
        click(qtbot, host, host.panel.batch_box.next_button)
        press(qtbot, host, host.state.selected, 1)
        click(qtbot, host, host.panel.batch_box.next_button)
        host.state.select(cats[:3])
        host.panel.resize(380, 820)
        host.panel.grab().save(str(screenshots / "active_panel_dark.png"))
        assert host.panel.history.table.rowCount() == 2
        host.panel.shutdown()
    finally:
        app.setPalette(previous)


def test_a_failing_job_tells_the_user_why(qtbot, host: Host) -> None:
    cats, _ = label_ten(qtbot, host)
    host.project.add_tag(host.project.tag_id("dog"), [int(cats[0])])  # tagged both, elsewhere
    click(qtbot, host, host.panel.probe_box.fit_button)
    assert "keep one label" in host.panel.message.text()
    assert host.state.colour_by is None
    assert not host.panel.progress.isVisible()


def test_an_existing_tag_can_become_a_class(qtbot, host: Host) -> None:
    dogs = ids_of(host.project, "dogs")
    host.project.add_tag(host.project.create_tag("dog"), dogs[:2].tolist())
    host.panel.refresh()
    define_classes(host)
    assert [label.text() for label in host.panel.classes.count_labels] == ["0", "2"]


def test_importing_the_panel_does_not_import_torch() -> None:
    code = "import sys, app.ui.active; print('torch' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[2]
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_a_cold_start_batch_needs_no_labels(qtbot, host: Host) -> None:
    host.panel.use_folders(False)
    host.panel.batch_box.size.setValue(3)
    click(qtbot, host, host.panel.batch_box.next_button)
    assert len(host.state.selected) == 3
    assert host.panel.history.table.rowCount() == 1
    x, _ = host.panel.history.curve.getData()
    assert x is None or len(x) == 0  # no accuracy without labels
    assert host.state.colour_by is None
