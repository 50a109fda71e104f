"""The selection panel on a real embedded project, driven through its widgets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QInputDialog, QMessageBox

from app.core.ingest.indexing import IndexOptions, index_job
from app.core.jobs import CancelToken, run_job
from app.core.store.embedding_sets import create_embedding_set, finish_embedding_set
from app.core.store.project import Project
from app.core.store.selections import get_selection, list_selections
from app.gui_model.state import AppState
from app.ui.browser.widget import BrowserWidget
from app.ui.selection import SelectionPanel
from app.ui.selection.export_dialog import ExportDialog
from app.ui.selection.presets import DUPLICATE_DISTANCE, PRESETS
from app.ui.theme import dark_palette
from tests.factories import make_dataset

LEFT = Qt.MouseButton.LeftButton


@pytest.fixture
def state() -> AppState:
    return AppState()


@pytest.fixture
def panel(qtbot, state: AppState) -> Iterator[SelectionPanel]:
    widget = SelectionPanel(state)
    qtbot.addWidget(widget)
    widget.resize(560, 760)
    widget.show()
    yield widget
    widget.shutdown()


def open_project(qtbot, panel: SelectionPanel, path: Path) -> None:
    panel.set_project(path)
    qtbot.waitUntil(lambda: panel.info is not None and panel.run_button.isEnabled())


def choose_preset(panel: SelectionPanel, label: str) -> None:
    panel.composer.preset.setCurrentIndex(panel.composer.preset.findText(label))


def run(qtbot, panel: SelectionPanel, count: int | None = None, percent: float | None = None):
    composer = panel.composer
    if percent is not None:
        composer.unit.setCurrentIndex(composer.unit.findData("fraction"))
        composer.percent.setValue(percent)
    else:
        composer.unit.setCurrentIndex(composer.unit.findData("count"))
        composer.count.setValue(count or 4)
    with qtbot.waitSignal(panel.outcome_shown, timeout=20_000) as blocker:
        qtbot.mouseClick(panel.run_button, LEFT)
    return blocker.args[0]


def test_a_run_saves_selects_and_filters_the_grid(qtbot, embedded_project, state, panel) -> None:
    project, _ = embedded_project
    browser = BrowserWidget(state)
    qtbot.addWidget(browser)
    browser.resize(700, 500)
    browser.show()
    with qtbot.waitSignal(browser.loaded, timeout=10_000):
        browser.set_project(project.path)
    panel.selections_changed.connect(lambda: browser.set_project(project.path))
    open_project(qtbot, panel, project.path)
    assert panel.composer.name.text() == "selection-1"
    choose_preset(panel, "Diverse")

    outcome = run(qtbot, panel, count=4)

    members = get_selection(project, "selection-1").members
    assert len(members) == 4 and outcome.ids.tolist() == members.tolist()
    assert state.selected.tolist() == sorted(members.tolist())
    assert state.filter.selection == "selection-1"
    qtbot.waitUntil(lambda: sorted(browser.order_ids().tolist()) == sorted(members.tolist()))
    assert browser.bar.selection.currentData() == "selection-1"
    assert panel.table.model().rowCount() == 4
    assert len(panel.coverage.selected.getData()[1]) == len(outcome.coverage.sizes)
    assert panel.classes.classes == ["cats", "dogs"]
    assert panel.composer.name.text() == "selection-2"

    index = panel.table.model().index(2, 1)
    qtbot.mouseClick(panel.table.viewport(), LEFT, pos=panel.table.visualRect(index).center())
    assert state.current == members[2]

    qtbot.mouseClick(panel.clear_button, LEFT)
    assert state.filter.selection is None
    qtbot.waitUntil(lambda: len(browser.order_ids()) == 12)
    browser.shutdown()


def test_presets_fill_the_strategy_rows(panel: SelectionPanel) -> None:
    composer = panel.composer
    assert composer.preset.currentText().startswith("Recommended")
    kinds = [(row.row_kind(), row.strength.value()) for row in composer.strategies.rows]
    assert kinds == [("typicality", 3.0), ("diversity", 1.0)]

    choose_preset(panel, "Deduplicated")
    assert [row.row_kind() for row in composer.strategies.rows] == ["diversity"]
    assert composer.dedupe.isChecked() and composer.min_distance.value() == DUPLICATE_DISTANCE

    choose_preset(panel, "Class-balanced")
    assert composer.balance_by.currentData() == "label" and not composer.dedupe.isChecked()
    spec = composer.spec(np.empty(0, np.int64))
    assert spec.balance == {"by": "label", "target": "uniform"}
    assert [s["kind"] for s in spec.strategies] == ["typicality", "diversity"]

    choose_preset(panel, "Typical")
    assert composer.spec(np.empty(0, np.int64)).balance is None
    row = composer.strategies.rows[0]
    row.strength.setValue(-2.0)
    assert composer.preset.currentText() == "Custom"
    assert composer.spec(np.empty(0, np.int64)).strategies == [
        {"kind": "typicality", "strength": -2.0}
    ]
    assert len(PRESETS) == composer.preset.count()


def test_custom_rows_cover_every_kind(qtbot, embedded_project, state, panel) -> None:
    project, embedding_set = embedded_project
    ids = embedding_set.ids()
    project.add_tag(project.create_tag("seen"), ids[:2].tolist())
    project.db.executemany(
        "INSERT INTO metadata(sample_id, key, value) VALUES (?, 'blur', ?)",
        [(int(i), float(v)) for v, i in enumerate(ids)],
    )
    project.db.commit()
    open_project(qtbot, panel, project.path)
    composer = panel.composer
    composer.strategies.set_entries([])
    for kind in ("similar_selection", "similar_tag", "weight", "random"):
        row = composer.strategies.add_row()
        row.kind.setCurrentIndex(row.kind.findData(kind))
    state.select(ids[5:7])
    entries = composer.spec(state.selected).strategies
    assert entries[0] == {"kind": "similarity", "samples": ids[5:7].tolist(), "strength": 1.0}
    assert entries[1] == {"kind": "similarity", "query": "tag:seen", "strength": 1.0}
    assert entries[2] == {"kind": "weight", "score": "blur", "strength": 1.0}
    assert entries[3]["kind"] == "random"
    outcome = run(qtbot, panel, count=3)
    assert len(outcome.ids) == 3

    state.clear_selection()
    qtbot.mouseClick(panel.run_button, LEFT)
    assert "select some samples first" in panel.progress.label.text()
    assert not panel.runner.is_busy


def test_excluding_a_tag_never_returns_tagged_samples(qtbot, embedded_project, panel) -> None:
    project, _ = embedded_project
    cats = [row.id for row in project.samples() if row.label == "cats"]
    project.add_tag(project.create_tag("labelled"), cats)
    open_project(qtbot, panel, project.path)
    composer = panel.composer
    composer.exclude.setCurrentIndex(composer.exclude.findData("labelled"))
    assert "of 6 candidates" in composer.pool_label.text()

    outcome = run(qtbot, panel, count=6)

    assert len(outcome.ids) == 6 and not np.isin(outcome.ids, cats).any()


def test_a_fraction_picks_round_fraction_times_the_pool(qtbot, embedded_project, panel) -> None:
    project, _ = embedded_project
    open_project(qtbot, panel, project.path)
    outcome = run(qtbot, panel, percent=25.0)
    assert len(outcome.ids) == round(0.25 * 12)
    assert get_selection(project, outcome.name).strategy["fraction"] == 0.25


def test_a_taken_name_is_refused_visibly(qtbot, embedded_project, panel) -> None:
    project, _ = embedded_project
    open_project(qtbot, panel, project.path)
    first = run(qtbot, panel, count=2)
    panel.composer.name.setText(first.name)
    with qtbot.waitSignal(panel.runner.failed, timeout=20_000):
        qtbot.mouseClick(panel.run_button, LEFT)
    assert "exists" in panel.progress.label.text() and panel.progress.label.isVisible()
    assert len(list_selections(project)) == 1


def export(qtbot, dialog: ExportDialog, fmt: str, out: Path, overwrite: bool = False) -> None:
    dialog.set_format(fmt)
    dialog.destination.setText(str(out))
    dialog.overwrite.setChecked(overwrite)
    with qtbot.waitSignal(
        dialog.runner.busy_changed, timeout=20_000, check_params_cb=lambda b: not b
    ):
        qtbot.mouseClick(dialog.export_button, LEFT)


def test_the_export_dialog_writes_and_refuses_to_overwrite(
    qtbot, embedded_project, panel, tmp_path
) -> None:
    project, _ = embedded_project
    open_project(qtbot, panel, project.path)
    outcome = run(qtbot, panel, count=5)
    dialog = panel.open_export_dialog()
    assert dialog is not None and dialog.isVisible()
    assert [dialog.format.itemData(i) for i in range(dialog.format.count())] == [
        "txt",
        "csv",
        "json",
        "copy",
        "symlink",
        "coco",
        "yolo",
        "voc",
    ]

    names = tmp_path / "out" / "picks.txt"
    export(qtbot, dialog, "txt", names)
    assert names.read_text().splitlines() == outcome.names
    assert "5 samples" in dialog.progress.label.text()

    export(qtbot, dialog, "txt", names)
    message = dialog.progress.label.text()
    assert "exists" in message and "Overwrite existing files" in message
    assert dialog.progress.label.isVisible()
    export(qtbot, dialog, "txt", names, overwrite=True)
    assert "5 samples" in dialog.progress.label.text()

    folder = tmp_path / "copied"
    export(qtbot, dialog, "copy", folder)
    for name in outcome.names:
        assert (folder / name).is_file() and not (folder / name).is_symlink()

    dialog.split.setChecked(True)
    dialog.val_percent.setValue(40)
    export(qtbot, dialog, "csv", tmp_path / "split.csv")
    train = (tmp_path / "split-train.csv").read_text().splitlines()
    val = (tmp_path / "split-val.csv").read_text().splitlines()
    assert len(train) - 1 == 3 and len(val) - 1 == 2 and train[0].startswith("name,label")


def test_tag_rename_and_delete(qtbot, embedded_project, state, panel, monkeypatch) -> None:
    project, _ = embedded_project
    open_project(qtbot, panel, project.path)
    outcome = run(qtbot, panel, count=3)

    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("to label", True))
    with qtbot.waitSignal(panel.tags_changed):
        qtbot.mouseClick(panel.tag_button, LEFT)
    assert project.tagged(project.tag_id("to label")) == sorted(outcome.ids.tolist())

    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("round 1", True))
    qtbot.mouseClick(panel.rename_button, LEFT)
    assert [s.name for s in list_selections(project)] == ["round 1"]
    assert state.filter.selection == "round 1" and panel.outcome.name == "round 1"

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    qtbot.mouseClick(panel.delete_button, LEFT)
    assert list_selections(project) == [] and state.filter.selection is None
    assert panel.outcome is None and not panel.export_button.isEnabled()


@pytest.fixture
def clustered_project(tmp_path: Path) -> Iterator[Project]:
    """150 images in 3 folders with clustered 16-D embeddings (for screenshots)."""
    root = make_dataset(tmp_path / "data", {"cars": 80, "bikes": 45, "buses": 25}, size=(8, 8))
    project = Project.for_dataset(root)
    run_job(index_job(project, IndexOptions(), CancelToken()))
    rows = project.samples()
    ids = np.array([row.id for row in rows], dtype=np.int64)
    rng = np.random.default_rng(3)
    centres = rng.standard_normal((9, 16))
    members = rng.choice(9, size=len(ids), p=rng.dirichlet(np.full(9, 0.5)))
    vectors = centres[members] + 0.25 * rng.standard_normal((len(ids), 16))
    embedding_set = create_embedding_set(project, {"source": "clustered test vectors"})
    finish_embedding_set(project, embedding_set, ids, vectors.astype(np.float32))
    yield project
    project.close()


def test_screenshots_in_the_dark_theme(qtbot, clustered_project, screenshots) -> None:
    app = QApplication.instance()
    old_style, old_palette = app.style().name(), app.palette()
    app.setStyle("Fusion")
    app.setPalette(dark_palette())
    state = AppState()
    panel = SelectionPanel(state)
    qtbot.addWidget(panel)
    try:
        panel.resize(600, 820)
        panel.show()
        open_project(qtbot, panel, clustered_project.path)
        run(qtbot, panel, count=30)
        for index, name in enumerate(("picks", "coverage", "classes")):
            panel.tabs.setCurrentIndex(index)
            qtbot.wait(50)
            assert panel.grab().save(str(screenshots / f"selection_{name}.png"))
        dialog = panel.open_export_dialog()
        dialog.destination.setText(str(screenshots / "picks.txt"))
        dialog.resize(520, 220)
        qtbot.waitExposed(dialog)
        assert dialog.grab().save(str(screenshots / "selection_export.png"))
    finally:
        panel.shutdown()
        app.setStyle(old_style)
        app.setPalette(old_palette)
