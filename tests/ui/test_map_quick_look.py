"""The map panel's Quick look button: embeds offline, shows PCA at once, then UMAP, and says
which weights made the map."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from app.core.embeddings import maps
from app.core.ingest.indexing import IndexOptions, index_job
from app.core.jobs import CancelToken, run_job
from app.core.store.embedding_sets import active_embedding_set
from app.core.store.project import Project
from app.gui_model import look_process
from app.gui_model.state import AppState
from app.ui.map import MapPanel, look_ahead
from tests.factories import make_dataset

COUNT = 12  # UMAP needs at least 10 points


@pytest.fixture
def project_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))  # no ImageNet weights
    root = make_dataset(tmp_path / "data", {"a": COUNT // 2, "b": COUNT // 2}, size=(80, 60))
    with Project.for_dataset(root, tmp_path / "project") as project:
        run_job(index_job(project, IndexOptions(), CancelToken()))
        return project.path


def test_quick_look_maps_with_pca_first_and_names_the_weights(
    qtbot, project_dir: Path, screenshots: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """In this process (the quick-look process cannot start here), so UMAP can be held."""
    monkeypatch.setattr(look_process, "look_command", lambda *a: [str(tmp_path / "no-program")])
    pca_shown = threading.Event()
    build_graph = maps.neighbour_graph

    def graph_once_pca_is_shown(*args, **kwargs):
        pca_shown.wait(timeout=30)  # the runner coalesces reports: hold UMAP until PCA is drawn
        return build_graph(*args, **kwargs)

    monkeypatch.setattr(maps, "neighbour_graph", graph_once_pca_is_shown)
    panel = MapPanel(AppState())
    qtbot.addWidget(panel)
    panel.resize(640, 520)
    panel.show()
    panel.set_project(project_dir)
    qtbot.waitUntil(lambda: not panel.runner.is_busy, timeout=10_000)
    assert panel.quick_button.isVisible() and not panel.weights_label.isVisible()
    methods: list[str] = []

    def record(progress) -> None:
        if isinstance(progress.partial, dict):
            methods.append(progress.partial["method"])
            if progress.partial["method"] == "pca" and " PCA · " in panel.caption.text():
                pca_shown.set()

    panel.runner.progress.connect(record)
    panel.quick_button.click()
    qtbot.waitUntil(
        lambda: (
            not panel.runner.is_busy and len(panel.xy) == COUNT and "UMAP" in panel.caption.text()
        ),
        timeout=120_000,
    )
    assert pca_shown.is_set() and methods[0] == "pca" and methods[-1] == "umap"
    assert "epoch" not in panel.caption.text(), "the finished UMAP replaces the last frame"
    assert panel.pages.currentWidget() is panel.scatter
    assert panel.weights_label.isVisible()
    assert panel.weights_label.text() == (
        "Quick look: ResNet-18, random weights (no ImageNet weights offline), 40 px"
    )
    with Project.open(project_dir) as project:
        found = active_embedding_set(project)
        assert found is not None and found.config["quick"] and found.config["weights"] == "random"
        assert found.metrics["from_thumbnails"] == COUNT
    panel.grab().save(str(screenshots / "map_quick_look.png"))
    panel.shutdown()


def test_the_panel_starts_its_quick_look_process_ahead_and_the_click_uses_it(
    qtbot, project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(look_ahead, "PREWARM_DELAY_MS", 50)
    hidden = MapPanel(AppState())
    qtbot.addWidget(hidden)
    hidden.set_project(project_dir)
    state = AppState()
    state.set_indexing("indexing: listing files", listing=True)
    panel = MapPanel(state)
    qtbot.addWidget(panel)
    panel.resize(640, 520)
    panel.show()
    panel.set_project(project_dir)
    qtbot.wait(300)
    assert not panel.look.running, "nothing takes a core from an index that lists files"
    for left in range(100, 0, -1):  # listed: it loads below the index, whose reasons change
        state.set_indexing(f"indexing: {left} of 120 files left")
        qtbot.wait(20)
        if panel.look.running:
            break
    assert panel.look.running, "started while the index still reported"
    assert not panel.quick_button.isEnabled() and not hidden.look.running
    state.set_indexing(None)
    qtbot.waitUntil(lambda: panel.look.warm, timeout=120_000)
    pid = panel.look.pid
    methods: list[str] = []
    pids: set[int | None] = set()
    look = panel.look.look

    def recorded(*args):  # the reports as the child sent them, before the runner merges any
        job = look(*args)
        while True:
            pids.add(panel.look.pid)
            try:
                progress = next(job)
            except StopIteration as stop:
                return stop.value
            if isinstance(progress.partial, dict):
                methods.append(progress.partial["method"])
            yield progress

    monkeypatch.setattr(panel.look, "look", recorded)
    panel.quick_button.click()
    qtbot.waitUntil(
        lambda: (
            not panel.runner.is_busy and len(panel.xy) == COUNT and "UMAP" in panel.caption.text()
        ),
        timeout=120_000,
    )
    assert methods[0] == "pca" and pids == {pid}, "the look ran in the child started ahead"
    assert panel.weights_label.text().startswith("Quick look: ResNet-18, random weights")
    assert not panel.look.running, "with its map made, the panel lets its process go"
    panel.shutdown()


CLICK_SCRIPT = """
import sys, time
from pathlib import Path
from PySide6.QtWidgets import QApplication
from app.gui_model.state import AppState
from app.ui.map import MapPanel

qt = QApplication([])
panel = MapPanel(AppState())
panel.resize(640, 520)
panel.show()
panel.set_project(Path(sys.argv[1]))
while panel.runner.is_busy or not panel.quick_button.isVisible():
    qt.processEvents()
started = time.perf_counter()
panel.quick_button.click()
click_s = time.perf_counter() - started
deadline = time.monotonic() + 240
while (panel.runner.is_busy or "UMAP" not in panel.caption.text()) and time.monotonic() < deadline:
    qt.processEvents()
    time.sleep(0.01)
loaded = [name for name in ("torch", "torchvision", "umap", "numba") if name in sys.modules]
print(f"{click_s:.3f}", len(panel.xy), panel.caption.text(), "loaded:", *loaded)
panel.shutdown()
"""


def test_a_click_loads_neither_torch_nor_umap_in_the_windows_process(project_dir: Path) -> None:
    """A fresh window: the click returns at once and torch and UMAP load in the child only."""
    done = subprocess.run(
        [sys.executable, "-c", CLICK_SCRIPT, str(project_dir)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert done.returncode == 0, done.stderr
    click_s, points, *caption = done.stdout.split()
    assert int(points) == COUNT and "UMAP" in caption, done.stdout
    assert caption[caption.index("loaded:") + 1 :] == [], done.stdout
    assert float(click_s) < 1.0, "the click returns before anything loads"


def test_a_project_with_a_map_lets_the_quick_look_process_go(
    qtbot, project_dir: Path, embedded_project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(look_ahead, "PREWARM_DELAY_MS", 50)
    panel = MapPanel(AppState())
    qtbot.addWidget(panel)
    panel.show()
    panel.set_project(project_dir)
    qtbot.waitUntil(lambda: panel.look.running, timeout=10_000)
    mapped, _ = embedded_project
    panel.set_project(mapped.path)
    qtbot.waitUntil(lambda: panel.pages.currentWidget() is panel.scatter, timeout=30_000)
    assert not panel.look.running, "a shown map offers no quick look: its process goes"
    panel.shutdown()
