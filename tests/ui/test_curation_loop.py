"""The curation loop through the real window on the demo: train, map, click, lasso, select, export.

Small settings keep it quick (1 epoch at 16 px, PCA map); the panels' own tests cover the rest.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from app.core.embeddings.neighbours import nearest_ids
from app.ui.main_window import MainWindow

WAIT_MS = 180_000


def test_train_map_click_lasso_select_and_export_on_the_demo(
    qtbot, window: MainWindow, tmp_path: Path, screenshots: Path
) -> None:
    window.resize(1600, 960)
    window.open_demo()
    qtbot.waitUntil(lambda: window.browser.data is not None, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not window.runner.is_busy, timeout=WAIT_MS)

    window.train_dock.raise_()
    training = window.training_panel()
    qtbot.waitUntil(lambda: training.project_dir is not None, timeout=WAIT_MS)
    editors = training.form.editors
    editors["epochs"].spin.setValue(1)
    editors["image_size"].spin.setValue(16)
    editors["batch_size"].spin.setValue(64)
    editors["backbone"].combo.setCurrentIndex(editors["backbone"].combo.findData("resnet18_small"))
    qtbot.mouseClick(training.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: training.runner.is_busy, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not training.runner.is_busy, timeout=WAIT_MS)
    loss_x, _ = training.curves.loss_curve.getData()
    assert loss_x is not None and len(loss_x) > 0

    window.map_panel.method_box.setCurrentText("PCA")
    qtbot.mouseClick(training.runs.embed_button, Qt.MouseButton.LeftButton)
    map_panel = window.map_panel
    qtbot.waitUntil(
        lambda: len(map_panel.xy) == 400 and not map_panel.runner.is_busy, timeout=WAIT_MS
    )
    assert map_panel.pages.currentWidget() is map_panel.scatter

    row = 123
    x, y = map_panel.scatter.map_to_widget(map_panel.xy[row])[0]
    QTest.mouseClick(map_panel.scatter, Qt.MouseButton.LeftButton, pos=QPoint(int(x), int(y)))
    clicked = int(window.state.current)
    assert window.pages.currentWidget() is window.detail
    vectors = np.load(map_panel.source.folder / "vectors.npy")
    expected, _ = nearest_ids(vectors, map_panel.source.ids, clicked, map_panel.k_box.value())
    assert set(window.state.highlighted.tolist()) == set(expected.tolist())
    window.show_grid()

    pixels = map_panel.scatter.map_to_widget(map_panel.xy)
    left, top = pixels.min(axis=0) - 5
    right, bottom = np.median(pixels, axis=0)
    corners = [(left, top), (right, top), (right, bottom), (left, bottom)]
    path = [QPoint(int(a), int(b)) for a, b in corners]
    QTest.mousePress(map_panel.scatter, Qt.MouseButton.LeftButton, pos=path[0])
    for start, end in zip(path, path[1:], strict=False):
        for step in range(1, 9):
            QTest.mouseMove(map_panel.scatter, start + (end - start) * step / 8)
    QTest.mouseRelease(map_panel.scatter, Qt.MouseButton.LeftButton, pos=path[-1])
    selected = set(window.state.selected.tolist())
    ids = map_panel.source.ids
    assert set(ids[_inside(pixels, path, margin=1.5)].tolist()) <= selected
    assert selected <= set(ids[_inside(pixels, path, margin=-1.5)].tolist())

    window.select_dock.raise_()
    selection = window.selection_panel
    preset = selection.composer.preset
    preset.setCurrentIndex(preset.findText("Diverse", Qt.MatchFlag.MatchStartsWith))
    selection.composer.count.setValue(50)
    qtbot.waitUntil(selection.run_button.isEnabled, timeout=WAIT_MS)  # the new set is read
    qtbot.mouseClick(selection.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.state.filter.selection is not None, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not selection.runner.is_busy, timeout=WAIT_MS)
    shown = sorted(window.browser.order_ids().tolist())
    assert len(shown) == 50 and shown == window.state.selected.tolist()
    window.grab().save(str(screenshots / "curation_loop.png"))

    dialog = selection.open_export_dialog()
    assert dialog is not None
    target = tmp_path / "subset.txt"
    dialog.destination.setText(str(target))
    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: target.exists() and not dialog.runner.is_busy, timeout=WAIT_MS)
    names = target.read_text().split()
    table = window.browser.data.table
    expected_names = {table.name(r) for r in table.row_of(np.array(shown))}
    assert len(names) == 50 and set(names) == expected_names
    dialog.reject()


def _inside(pixels: np.ndarray, path: list[QPoint], margin: float) -> np.ndarray:
    """Points more than ``margin`` pixels inside the rectangle ``path`` (negative: outside)."""
    left, top = path[0].x() + margin, path[0].y() + margin
    right, bottom = path[2].x() - margin, path[2].y() - margin
    x, y = pixels[:, 0], pixels[:, 1]
    return (x > left) & (x < right) & (y > top) & (y < bottom)
