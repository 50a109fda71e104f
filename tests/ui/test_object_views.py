"""The grid's object views on a real project: the object filter (class and count) through its
panel, the class histogram of the selection, and boxes painted on the thumbnails."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage

from app.core.ingest.indexing import index_job
from app.core.ingest.thumbnails import thumbnail_job
from app.core.jobs import run_job
from app.core.store.objects import NewObject, replace_source
from app.core.store.project import Project
from app.gui_model.class_colours import class_rgb
from app.gui_model.object_filters import ObjectFilter
from app.gui_model.state import AppState
from app.ui.browser.widget import BrowserWidget
from app.ui.objects.histogram import BAR_HEIGHT, GAP, ClassHistogram
from tests.factories import write_image

CLASSES = ("red", "green", "blue")


def make_scenes(count: int, seed: int) -> list[list[tuple[str, tuple[int, int, int, int]]]]:
    """Per image ``i``: ``i % 5`` shapes ``(class, (x, y, w, h))`` at random places."""
    rng = np.random.default_rng(seed)
    scenes = []
    for i in range(count):
        shapes = []
        for _ in range(i % 5):
            w, h = (int(v) for v in rng.integers(15, 45, 2))
            x, y = int(rng.integers(0, 120 - w)), int(rng.integers(0, 90 - h))
            shapes.append((CLASSES[int(rng.integers(len(CLASSES)))], (x, y, w, h)))
        scenes.append(shapes)
    return scenes


def store(project: Project, scenes: list, name: str, kind: str) -> None:
    rows = project.samples()
    objects = [
        NewObject(row.id, label, *box)
        for row, shapes in zip(rows, scenes, strict=True)
        for label, box in shapes
    ]
    replace_source(project, name, kind, "coco", objects, classes=CLASSES)  # type: ignore[arg-type]


@pytest.fixture
def scenes(tmp_path: Path) -> tuple[Path, list]:
    """12 dark 120 x 90 images with 0-4 objects each (ground truth), and a prediction source
    holding the first object of each."""
    scenes = make_scenes(12, seed=3)
    for i in range(12):
        write_image(
            tmp_path / "data" / f"scene-{i:04d}.png", Image.new("RGB", (120, 90), (20, 20, 20))
        )
    with Project.for_dataset(tmp_path / "data") as project:
        run_job(index_job(project))
        store(project, scenes, "ground_truth", "ground_truth")
        store(project, [s[:1] for s in scenes], "model", "predictions")
        run_job(thumbnail_job(project))
        return project.path, scenes


@pytest.fixture
def browser(qtbot, scenes) -> Iterator[BrowserWidget]:
    widget = BrowserWidget(AppState())
    qtbot.addWidget(widget)
    widget.resize(900, 640)
    widget.show()
    qtbot.waitExposed(widget)
    with qtbot.waitSignal(widget.loaded, timeout=10_000):
        widget.set_project(scenes[0])
    qtbot.waitUntil(lambda: bool(widget.objects.sources), timeout=10_000)
    yield widget
    widget.shutdown()


def shown_positions(browser: BrowserWidget) -> list[int]:
    """Positions (in sample order) of the shown samples."""
    with Project.open(browser.project_dir) as project:
        ids = [row.id for row in project.samples()]
    return sorted(ids.index(int(i)) for i in browser.order_ids())


def expected(scenes: list, keep) -> list[int]:
    return [i for i, shapes in enumerate(scenes) if keep([label for label, _ in shapes])]


def test_the_filter_button_shows_once_there_are_annotations(browser: BrowserWidget) -> None:
    assert not browser.object_filter.isHidden()
    panel = browser.object_filter.panel
    panel.fill()
    assert [panel.source.itemData(i) for i in range(panel.source.count())] == [
        "ground_truth",
        "model",
    ]


def test_filter_by_class_keeps_samples_with_such_an_object(qtbot, browser, scenes) -> None:
    _, shapes = scenes
    panel = browser.object_filter.panel
    qtbot.waitUntil(lambda: panel.classes.count() == 3)
    assert sorted(panel.classes.item(i).text() for i in range(3)) == sorted(CLASSES)
    blue = next(panel.classes.item(i) for i in range(3) if panel.classes.item(i).text() == "blue")
    blue.setCheckState(Qt.CheckState.Checked)
    assert browser.state.filter.objects.classes == {"blue"}
    want = expected(shapes, lambda labels: "blue" in labels)
    assert 0 < len(want) < 12
    qtbot.waitUntil(lambda: shown_positions(browser) == want)
    assert browser.object_filter.text() == "Objects ✓"
    # combined with another filter: the name text
    browser.state.set_filter(browser.state.filter.with_(text="scene-0001"))
    assert shown_positions(browser) == [i for i in want if i == 1]
    panel.clear.click()
    browser.state.set_filter(browser.state.filter.with_(text=""))
    assert len(browser.order_ids()) == 12


def test_filter_by_number_of_objects(qtbot, browser, scenes) -> None:
    _, shapes = scenes
    panel = browser.object_filter.panel
    panel.fill()
    panel.min_count.setValue(2)
    panel.max_count.setValue(3)
    assert browser.state.filter.objects == ObjectFilter(min_count=2, max_count=3)
    qtbot.waitUntil(
        lambda: shown_positions(browser) == expected(shapes, lambda labels: 2 <= len(labels) <= 3)
    )
    panel.min_count.setValue(panel.min_count.minimum())  # "any"
    panel.max_count.setValue(0)
    qtbot.waitUntil(lambda: shown_positions(browser) == expected(shapes, lambda labels: not labels))


def test_filter_by_class_of_a_prediction_source(qtbot, browser, scenes) -> None:
    _, shapes = scenes
    flt = ObjectFilter(source="model", classes=frozenset({"red"}))
    browser.state.set_filter(browser.state.filter.with_(objects=flt))
    want = expected(shapes, lambda labels: labels[:1] == ["red"])
    qtbot.waitUntil(lambda: shown_positions(browser) == want, timeout=10_000)


def test_histogram_counts_objects_of_the_selection_or_of_all_shown(qtbot, browser, scenes) -> None:
    _, shapes = scenes
    histogram = ClassHistogram(browser.state, browser.objects, browser.order_ids)
    qtbot.addWidget(histogram)
    histogram.show()

    def count(positions) -> dict[str, int]:
        found: dict[str, int] = {}
        for i in positions:
            for label, _ in shapes[i]:
                found[label] = found.get(label, 0) + 1
        return found

    qtbot.waitUntil(lambda: histogram.bars.counts == count(range(12)), timeout=10_000)
    assert "among 12 shown samples" in histogram.summary.text()
    ids = browser.order_ids()
    browser.state.select(ids[[3, 4, 9]])
    qtbot.waitUntil(lambda: histogram.bars.counts == count([3, 4, 9]))
    assert "among 3 selected samples" in histogram.summary.text()
    histogram.source.setCurrentIndex(histogram.source.findData("model"))
    want = count([]) | {label: 0 for label in CLASSES}
    for i in (3, 4, 9):
        for label, _ in shapes[i][:1]:
            want[label] += 1
    qtbot.waitUntil(lambda: histogram.bars.counts == {k: v for k, v in want.items() if v})
    histogram.grab().save(str(Path(browser.project_dir).parent / "histogram.png"))
    # a click on a bar filters the grid to that class (of the histogram's source)
    browser.state.clear_selection()
    qtbot.waitUntil(lambda: len(histogram.bars.counts) >= 2)
    second = list(histogram.bars.counts)[1]
    y = GAP + (BAR_HEIGHT + GAP) + BAR_HEIGHT // 2
    qtbot.mouseClick(histogram.bars, Qt.MouseButton.LeftButton, pos=QPoint(40, y))
    assert browser.state.filter.objects == ObjectFilter("model", frozenset({second}))
    want = expected([s[:1] for s in shapes], lambda labels: second in labels)
    qtbot.waitUntil(lambda: shown_positions(browser) == want)
    histogram.shutdown()


def test_boxes_on_thumbnails(qtbot, browser, scenes) -> None:
    _, shapes = scenes
    delegate = browser.view.delegate
    index = None

    def loaded() -> bool:
        nonlocal index
        index = browser.objects.index(None)
        return index is not None

    qtbot.waitUntil(loaded, timeout=10_000)
    label, _ = shapes[4][0]
    colour = class_rgb(label)
    before = colour_pixels(browser, colour)
    delegate.boxes.enabled = True
    delegate.boxes.set_index(index)
    browser.view.viewport().repaint()
    after = colour_pixels(browser, colour)
    assert after > before + 50, (before, after)


def colour_pixels(browser: BrowserWidget, colour: tuple[int, int, int]) -> int:
    image = browser.view.viewport().grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    data = np.frombuffer(image.constBits(), np.uint8, image.sizeInBytes()).copy()
    pixels = data.reshape(image.height(), image.bytesPerLine())[:, : 3 * image.width()]
    pixels = pixels.reshape(image.height(), image.width(), 3).astype(int)
    return int((np.abs(pixels - colour).max(axis=2) <= 10).sum())


def test_a_grown_table_places_the_boxes_again(qtbot, browser) -> None:
    qtbot.waitUntil(lambda: browser.objects.index(None) is not None, timeout=10_000)
    index = browser.objects.index(None)
    before = index.unit_boxes.copy()
    table = browser.data.table
    wider = copy.copy(table)
    wider.width = table.width * 2
    with qtbot.waitSignal(browser.objects.index_loaded, timeout=10_000):
        browser.objects.set_table(wider)
    assert np.allclose(index.unit_boxes[:, 0], before[:, 0] / 2)
    assert np.allclose(index.unit_boxes[:, 1], before[:, 1])


def test_the_window_offers_the_objects_dock_and_thumbnail_boxes(qtbot, window, scenes) -> None:
    project_dir, shapes = scenes
    ui = window.objects_ui
    assert ui.dock.isHidden()
    view_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    assert ui.boxes_action in view_menu.actions()
    window.open_project(project_dir)
    qtbot.waitUntil(lambda: not ui.dock.isHidden(), timeout=20_000)
    ui.boxes_action.setChecked(True)
    boxes = window.browser.view.delegate.boxes
    qtbot.waitUntil(lambda: boxes.enabled and boxes.index is not None, timeout=10_000)
    total = sum(len(s) for s in shapes)
    qtbot.waitUntil(lambda: sum(ui.histogram.bars.counts.values()) == total, timeout=10_000)
    assert window.settings.qt.value("view/thumbnail_boxes", type=bool)  # remembered
    ui.boxes_action.setChecked(False)
    assert not boxes.enabled
    assert not window.settings.qt.value("view/thumbnail_boxes", type=bool)
    # an import while the detail view is open: its boxes appear there at once
    first = int(window.browser.order_ids()[3])
    window.show_detail(first)
    overlay = window.detail.objects
    qtbot.waitUntil(lambda: overlay.data is not None and overlay.data.sample_id == first)
    assert "second" not in overlay.panel.checkboxes
    with Project.open(project_dir) as project:
        new = [NewObject(first, "red", 1, 1, 5, 5, score=0.5)]
        replace_source(project, "second", "predictions", "coco", new)  # type: ignore[arg-type]
    window.browser.objects.reload()
    qtbot.waitUntil(lambda: "second" in overlay.panel.checkboxes, timeout=10_000)
    assert len(overlay.box_items("second")) == 1
