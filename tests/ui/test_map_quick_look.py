"""The map panel's Quick look button: embeds offline, shows PCA at once, then UMAP, and says
which weights made the map."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from app.core.embeddings import maps
from app.core.ingest.indexing import IndexOptions, index_job
from app.core.jobs import CancelToken, run_job
from app.core.store.embedding_sets import active_embedding_set
from app.core.store.project import Project
from app.gui_model.state import AppState
from app.ui.map import MapPanel
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
    qtbot, project_dir: Path, screenshots: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
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
