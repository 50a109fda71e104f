"""Drive the real window through the curation loop on the demo and save a screenshot per step.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/walkthrough.py docs/images

Open the demo, train SimCLR for a few epochs, embed and map (UMAP), click a sample, lasso a
cluster, select 50 diverse samples, open the export dialog, and run an active-learning round.
Each step waits for the real jobs; the PNGs are the user guide's pictures (docs/user-guide.md).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtCore import QPoint, QSettings, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

from app.ui.main_window import MainWindow  # noqa: E402
from app.ui.settings import Settings  # noqa: E402
from app.ui.theme import apply_theme  # noqa: E402

EPOCHS = 4


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = 900) -> None:
    """Process events until ``condition()`` holds; fail loudly after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for: {what}")
        QApplication.processEvents()
        time.sleep(0.02)
    for _ in range(5):
        QApplication.processEvents()


def shot(widget: QWidget, folder: Path, name: str) -> None:
    QApplication.processEvents()
    path = folder / f"{name}.png"
    widget.grab().save(str(path))
    print(f"saved {path}", flush=True)


def main(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("SIEVE_DATA_DIR", tempfile.mkdtemp(prefix="sieve-walkthrough-"))
    app = QApplication.instance() or QApplication(sys.argv)
    apply_theme(app)
    ini = Path(os.environ["SIEVE_DATA_DIR"]) / "settings.ini"
    window = MainWindow(settings=Settings(QSettings(str(ini), QSettings.Format.IniFormat)))
    window.resize(1600, 960)
    window.show()
    shot(window, folder, "01-welcome")

    window.open_demo()
    wait_until(lambda: window.project is not None and window.browser.data is not None, "demo")
    wait_until(lambda: not window.runner.is_busy, "thumbnails")
    shot(window, folder, "02-grid")

    train(window, folder)
    map_and_click(window, folder)
    select(window, folder)
    active_round(window, folder)
    window.shutdown()


def train(window: MainWindow, folder: Path) -> None:
    window.train_dock.raise_()
    panel = window.training_panel()
    wait_until(lambda: panel.project_dir is not None, "training panel project")
    panel.form.editors["epochs"].spin.setValue(EPOCHS)
    panel.form.editors["image_size"].spin.setValue(32)
    shot(window.train_dock, folder, "03-train-settings")
    panel.start_button.click()
    wait_until(lambda: panel.runner.is_busy, "training start")
    wait_until(lambda: not panel.runner.is_busy, "training")
    shot(window, folder, "04-trained")
    shot(window.train_dock, folder, "05-train-curves")


def map_and_click(window: MainWindow, folder: Path) -> None:
    panel = window.training_panel()
    panel.runs.embed_button.click()
    wait_until(lambda: window.map_panel.runner.is_busy, "embedding start")
    wait_until(lambda: not window.map_panel.runner.is_busy, "embedding and UMAP")
    shot(window, folder, "06-map")
    scatter, xy = window.map_panel.scatter, window.map_panel.xy
    x, y = scatter.map_to_widget(xy[len(xy) // 3])[0]
    QTest.mouseClick(scatter, Qt.MouseButton.LeftButton, pos=QPoint(int(x), int(y)))
    wait_until(lambda: len(window.state.highlighted) > 0, "neighbours")
    shot(window, folder, "07-click-neighbours")
    window.show_grid()
    lasso_cluster(window)
    shot(window, folder, "08-lasso")


def lasso_cluster(window: MainWindow) -> None:
    """Lasso a circle around the densest part of the map."""
    scatter, xy = window.map_panel.scatter, window.map_panel.xy
    pixels = scatter.map_to_widget(xy)
    centre = np.median(pixels, axis=0)
    radius = 0.15 * min(scatter.width(), scatter.height())
    angles = np.linspace(0, 2 * np.pi, 40)
    path = [
        QPoint(int(centre[0] + radius * np.cos(a)), int(centre[1] + radius * np.sin(a)))
        for a in angles
    ]
    QTest.mousePress(scatter, Qt.MouseButton.LeftButton, pos=path[0])
    for point in path[1:]:
        QTest.mouseMove(scatter, point)
    QTest.mouseRelease(scatter, Qt.MouseButton.LeftButton, pos=path[-1])
    wait_until(lambda: len(window.state.selected) > 0, "lasso selection")


def select(window: MainWindow, folder: Path) -> None:
    window.select_dock.raise_()
    panel = window.selection_panel
    composer = panel.composer
    composer.preset.setCurrentIndex(
        composer.preset.findText("Diverse", Qt.MatchFlag.MatchStartsWith)
    )
    composer.count.setValue(50)
    panel.run_button.click()
    wait_until(lambda: panel.runner.is_busy, "selection start", 30)
    wait_until(lambda: not panel.runner.is_busy and window.state.filter.selection, "selection")
    shot(window, folder, "09-selection")
    shot(window.select_dock, folder, "10-select-panel")
    dialog = panel.open_export_dialog()
    if dialog is not None:
        shot(dialog, folder, "11-export-dialog")
        dialog.reject()


def active_round(window: MainWindow, folder: Path) -> None:
    """Label by hand with tag classes: pick a batch, label it as a user would, fit, repeat."""
    window.label_dock.raise_()
    panel = window.active_panel
    panel.use_folders(False)
    table = window.browser.data.table
    names = list(table.labels)
    for name in names:
        panel.add_class(name)
    panel.batch_box.size.setValue(30)
    for _ in range(3):
        assert panel.next_batch(), "the next batch did not start"
        wait_until(lambda: not panel.runner.is_busy, "active-learning round")
        picks = window.state.selected
        rows = table.row_of(picks)
        for index, name in enumerate(names):
            members = picks[table.label_code[rows] == table.labels.index(name)]
            if len(members):
                window.state.select(members)
                panel.label_class(index)
        panel.fit_probe()
        wait_until(lambda: not panel.runner.is_busy, "probe")
    shot(window, folder, "12-active-learning")
    shot(window.label_dock, folder, "13-label-panel")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/images"))
