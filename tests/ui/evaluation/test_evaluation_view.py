"""The evaluation view: tables from a real evaluation, worst images first, a cell's images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.core.evaluation.evaluate import ERROR_KEY, ERRORS_SELECTION
from app.core.ingest.indexing import IndexOptions, index_job
from app.core.jobs import CancelToken, run_job
from app.core.store.objects import NewObject, replace_source
from app.core.store.project import Project
from app.gui_model.state import AppState
from app.ui.evaluation import EvaluationPanel
from tests.factories import make_dataset

TIMEOUT_MS = 20_000


@pytest.fixture
def evaluated_dataset(tmp_path: Path) -> tuple[Path, list[int]]:
    """12 indexed images; four of them, out of name order, carry the hand-computed case of the
    core tests (errors 2.5, 1.6, 1.0 and 0.3)."""
    root = make_dataset(tmp_path / "data", {"a": 6, "b": 6}, size=(100, 80))
    with Project.for_dataset(root) as project:
        run_job(index_job(project, IndexOptions(), CancelToken()))
        ids = sorted(row.id for row in project.samples())
        a, b, c, d = ids[11], ids[6], ids[3], ids[0]
        truth = [
            NewObject(a, "cat", 0, 0, 10, 10),
            NewObject(a, "dog", 50, 50, 20, 20),
            NewObject(b, "dog", 0, 0, 20, 20),
            NewObject(b, "cat", 40, 40, 40, 40, iscrowd=True),
            NewObject(c, "cat", 10, 10, 30, 30),
        ]
        predictions = [
            NewObject(a, "cat", 0, 0, 10, 10, score=0.9),
            NewObject(a, "cat", 1, 1, 10, 10, score=0.8),
            NewObject(a, "dog", 20, 20, 10, 10, score=0.7),
            NewObject(b, "cat", 0, 0, 20, 20, score=0.6),
            NewObject(b, "cat", 50, 50, 10, 10, score=0.5),
            NewObject(d, "dog", 0, 0, 5, 5, score=0.3),
        ]
        replace_source(
            project, "ground_truth", "ground_truth", "coco", truth, classes=["cat", "dog"]
        )
        replace_source(project, "predictions", "predictions", "coco", predictions)
        project_dir = project.path
    return project_dir, [a, b, c, d]


def _evaluate(qtbot, panel: EvaluationPanel) -> None:
    qtbot.waitUntil(lambda: panel.evaluate_button.isEnabled(), timeout=TIMEOUT_MS)
    with qtbot.waitSignal(panel.evaluated, timeout=TIMEOUT_MS):
        panel.evaluate_button.click()


def test_the_view_shows_ap_per_class_and_the_confusion_matrix(
    qtbot, evaluated_dataset, screenshots: Path
) -> None:
    project_dir, _ = evaluated_dataset
    state = AppState()
    panel = EvaluationPanel(state)
    qtbot.addWidget(panel)
    panel.resize(440, 560)
    panel.show()
    panel.set_project(project_dir)
    qtbot.waitUntil(lambda: panel.predictions_combo.count() == 1, timeout=TIMEOUT_MS)
    assert panel.gt_combo.currentText() == "ground_truth"
    assert not panel.worst_button.isEnabled()
    _evaluate(qtbot, panel)
    table = panel.classes
    rows = {table.cell_text(r, 0): [table.cell_text(r, c) for c in range(1, 7)] for r in range(2)}
    assert rows == {
        "cat": ["0.505", "0.505", "2", "1", "2", "1"],
        "dog": ["0.000", "0.000", "2", "0", "2", "2"],
    }
    confusion = panel.confusion
    assert confusion.rowCount() == confusion.columnCount() == 3
    texts = [[confusion.item(r, c).text() for c in range(3)] for r in range(3)]
    assert texts == [["1", "", "1"], ["1", "", "1"], ["1", "2", ""]]
    assert confusion.verticalHeaderItem(2).text() == "background"
    assert panel.headline.text().splitlines() == [
        "mAP 0.252 \u00b7 mAP50 0.252 \u00b7 TP 1 \u00b7 FP 4 \u00b7 FN 3",
        "4 images, 4 with errors",
        "predictions vs ground_truth, IoU 0.5",
    ]
    assert panel.worst_button.isEnabled()
    qtbot.waitUntil(lambda: panel.headline.height() >= panel.headline.sizeHint().height())
    panel.grab().save(str(screenshots / "evaluation-panel.png"))
    panel.shutdown()


def test_a_stored_evaluation_is_shown_when_the_project_opens(qtbot, evaluated_dataset) -> None:
    project_dir, _ = evaluated_dataset
    first = EvaluationPanel(AppState())
    qtbot.addWidget(first)
    first.set_project(project_dir)
    _evaluate(qtbot, first)
    first.shutdown()
    again = EvaluationPanel(AppState())
    qtbot.addWidget(again)
    again.set_project(project_dir)
    qtbot.waitUntil(lambda: again.summary is not None, timeout=TIMEOUT_MS)
    assert "(last evaluation)" in again.headline.text()
    assert again.classes.rowCount() == 2
    again.confusion.cell_chosen.emit(1, 0)  # no cell images without a fresh run
    assert "Evaluate to pick" in again.progress.label.text()
    again.shutdown()


def test_worst_first_sorts_the_grid_and_a_cell_selects_its_images(
    qtbot, window, evaluated_dataset, screenshots: Path
) -> None:
    project_dir, (a, b, c, d) = evaluated_dataset
    window.open_project(project_dir)
    browser = window.browser
    qtbot.waitUntil(lambda: len(browser.order_ids()) == 12, timeout=TIMEOUT_MS)
    ui = window.evaluation_ui
    ui.dock.show()
    ui.dock.raise_()
    panel = ui.panel
    qtbot.waitUntil(lambda: panel.project_dir == project_dir, timeout=TIMEOUT_MS)
    _evaluate(qtbot, panel)
    before = browser.order_ids()[:4].tolist()
    panel.worst_button.click()
    assert window.state.filter.sort == ERROR_KEY and window.state.filter.descending
    qtbot.waitUntil(lambda: browser.order_ids()[:4].tolist() == [a, b, c, d], timeout=TIMEOUT_MS)
    assert before != [a, b, c, d]  # the name order puts them elsewhere: the sort moved them
    assert browser.bar.sort.currentData() == ERROR_KEY
    panel.errors_button.click()
    assert window.state.filter.selection == ERRORS_SELECTION
    qtbot.waitUntil(lambda: browser.order_ids().tolist() == [a, b, c, d], timeout=TIMEOUT_MS)
    panel.confusion.cell_chosen.emit(1, 0)  # dog taken for a cat: image b
    assert window.state.selected.tolist() == [b]
    assert window.state.current == b
    panel.confusion.cellClicked.emit(2, 1)  # dogs predicted on nothing: images a and d
    assert window.state.selected.tolist() == sorted([a, d])
    panel.errors_button.click()
    qtbot.waitUntil(lambda: len(browser.order_ids()) == 12, timeout=TIMEOUT_MS)
    assert np.array_equal(browser.order_ids()[:4], [a, b, c, d])
    window.grab().save(str(screenshots / "evaluation-window.png"))


def test_import_predictions_from_the_view_then_evaluate(qtbot, evaluated_dataset, tmp_path) -> None:
    project_dir, _ = evaluated_dataset
    panel = EvaluationPanel(AppState())
    qtbot.addWidget(panel)
    panel.set_project(project_dir)
    qtbot.waitUntil(lambda: panel.import_button.isEnabled(), timeout=TIMEOUT_MS)
    labels = tmp_path / "yolo" / "labels" / "a"
    labels.mkdir(parents=True)
    (labels / "000.txt").write_text("0 0.5 0.5 0.2 0.2 0.9\n1 0.5 0.5 0.2 0.2\n")  # no score
    dialog = panel.import_predictions()
    dialog.format.setCurrentIndex(dialog.format.findData("yolo"))
    dialog.source.setText(str(tmp_path / "yolo"))
    dialog.name.setText("detector")
    with qtbot.waitSignal(dialog.runner.failed, timeout=TIMEOUT_MS):
        dialog.import_button.click()
    assert "a/000.txt:2: a prediction without a score" in dialog.error.text()
    assert dialog.isVisible()
    (labels / "000.txt").write_text("0 0.5 0.5 0.2 0.2 0.9\n")
    with qtbot.waitSignal(panel.predictions_imported, timeout=TIMEOUT_MS):
        dialog.import_button.click()
    qtbot.waitUntil(lambda: panel.predictions_combo.findData("detector") >= 0, timeout=TIMEOUT_MS)
    panel.predictions_combo.setCurrentIndex(panel.predictions_combo.findData("detector"))
    _evaluate(qtbot, panel)
    assert panel.evaluation.predictions == "detector"
    assert panel.evaluation.per_class["cat"].fp == 1  # the box on a/000.png covers nothing
    panel.shutdown()


def test_a_dock_behind_a_tab_reads_the_project_when_it_comes_into_view(
    qtbot, window, evaluated_dataset
) -> None:
    """Opening a project starts no read for the Evaluate dock while it is out of sight."""
    project_dir, _ = evaluated_dataset
    ui = window.evaluation_ui
    window.tags_dock.raise_()  # the Evaluate dock is a tab behind the Tags dock
    started = []
    ui.panel._reader.runner.started.connect(started.append)
    window.open_project(project_dir)
    qtbot.waitUntil(lambda: len(window.browser.order_ids()) == 12, timeout=TIMEOUT_MS)
    qtbot.wait(100)
    assert ui.dock.visibleRegion().isEmpty()
    assert ui.panel.project_dir is None and started == []
    ui.dock.raise_()
    qtbot.waitUntil(lambda: ui.panel.project_dir == project_dir, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: ui.panel.gt_combo.count() > 0, timeout=TIMEOUT_MS)
    assert started
