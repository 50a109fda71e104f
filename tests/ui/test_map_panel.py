"""The map panel on a real embedded project: layout, colours, click, lasso, shared state."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from app.core.embeddings.neighbours import nearest_ids
from app.gui_model.state import AppState
from app.ui.map import MapPanel


@pytest.fixture
def panel(qtbot, embedded_project) -> Iterator[MapPanel]:
    project, _ = embedded_project
    state = AppState()
    widget = MapPanel(state)
    qtbot.addWidget(widget)
    widget.resize(640, 520)
    widget.show()
    qtbot.waitExposed(widget)
    widget.method_box.setCurrentText("PCA")
    widget.set_project(project.path)
    qtbot.waitUntil(lambda: not widget.runner.is_busy and len(widget.xy) == 12, timeout=20_000)
    yield widget
    widget.shutdown()


def pixel(panel: MapPanel, row: int) -> QPoint:
    x, y = panel.scatter.map_to_widget(panel.xy[row])[0]
    return QPoint(int(np.floor(x)), int(np.floor(y)))


def test_the_map_appears_coloured_by_label(panel: MapPanel, screenshots) -> None:
    assert panel.pages.currentWidget() is panel.scatter
    assert panel.state.colour_by == "label"
    assert panel.colour_box.currentData() == "label"
    assert "12 samples" in panel.caption.text() and "PCA" in panel.caption.text()
    panel.grab().save(str(screenshots / "map_panel.png"))


def test_a_click_selects_the_sample_and_highlights_its_neighbours(qtbot, panel: MapPanel) -> None:
    row = 5
    sample_id = int(panel.source.ids[row])
    with qtbot.waitSignal(panel.sample_clicked) as clicked:
        QTest.mouseClick(panel.scatter, Qt.MouseButton.LeftButton, pos=pixel(panel, row))
    assert clicked.args == [sample_id]
    assert panel.state.current == sample_id
    assert panel.state.selected.tolist() == [sample_id]
    vectors = np.load(panel.source.folder / "vectors.npy")
    expected, _ = nearest_ids(vectors, panel.source.ids, sample_id, panel.k_box.value())
    assert sorted(panel.state.highlighted.tolist()) == sorted(expected.tolist())
    assert sample_id not in panel.state.highlighted


def test_a_lasso_edits_the_shared_selection(qtbot, panel: MapPanel) -> None:
    corners = panel.scatter.map_to_widget(panel.xy)
    left, top = corners.min(axis=0) - 8
    right, bottom = corners.max(axis=0) + 8
    path = [QPoint(int(left), int(top)), QPoint(int(right), int(top))]
    path += [QPoint(int(right), int(bottom)), QPoint(int(left), int(bottom))]
    QTest.mousePress(panel.scatter, Qt.MouseButton.LeftButton, pos=path[0])
    for point in path[1:]:
        for step in range(1, 11):
            previous = path[path.index(point) - 1]
            QTest.mouseMove(panel.scatter, previous + (point - previous) * step / 10)
    QTest.mouseRelease(panel.scatter, Qt.MouseButton.LeftButton, pos=path[-1])
    assert panel.state.selected.tolist() == sorted(panel.source.ids.tolist())
    QTest.keyClick(panel.scatter, Qt.Key.Key_Escape)
    assert len(panel.state.selected) == 0


def test_colour_by_follows_the_state_and_the_combo(panel: MapPanel) -> None:
    panel.state.set_colour_by("folder")
    assert panel.colour_box.currentData() == "folder"
    index = panel.colour_box.findData("selection")
    panel.colour_box.activated.emit(index)
    assert panel.state.colour_by == "selection"
    panel.state.select(panel.source.ids[:3])
    assert panel.scatter.legend.isVisible()


def test_a_tag_made_after_the_map_is_shown_is_listed_when_chosen(
    panel: MapPanel, embedded_project
) -> None:
    project, _ = embedded_project
    assert panel.colour_box.findData("tag:keep") < 0
    tag_id = project.create_tag("keep")
    project.add_tag(tag_id, panel.source.ids[:2].tolist())
    panel.state.set_colour_by("tag:keep")  # as the tag panel's "colour the map" does
    assert panel.colour_box.currentData() == "tag:keep"
    assert panel.colour_box.currentText() == "Tag: keep"  # read again, not the bare key
    assert panel.scatter.legend.isVisible()


def test_the_state_selection_shows_on_the_map(panel: MapPanel) -> None:
    panel.state.select(panel.source.ids[[1, 4]])
    assert panel.scatter.selected_rows().tolist() == [1, 4]


def project_without_embeddings(folder: Path) -> Path:
    """An indexed two-image project in ``folder`` with no embedding set; its path."""
    from app.core.ingest.indexing import IndexOptions, index_job
    from app.core.jobs import CancelToken, run_job
    from app.core.store.project import Project
    from tests.factories import make_dataset

    root = make_dataset(folder, {"a": 2}, size=(16, 16))
    with Project.for_dataset(root) as project:
        run_job(index_job(project, IndexOptions(), CancelToken()))
        return project.path


def test_without_embeddings_it_offers_training_and_a_quick_look(qtbot, tmp_path) -> None:
    path = project_without_embeddings(tmp_path / "data")
    widget = MapPanel(AppState())
    qtbot.addWidget(widget)
    widget.show()
    started = []
    widget.runner.started.connect(started.append)
    widget.set_project(path)
    assert started == []  # nothing to lay out: said at once, without a job
    assert widget.pages.currentIndex() == 0
    assert "No embeddings yet" in widget.empty_text.text()
    assert widget.quick_button.isVisible() and widget.train_button.isVisible()
    with qtbot.waitSignal(widget.train_requested):
        widget.train_button.click()
    widget.shutdown()


def test_the_view_follows_umap_until_the_user_moves_it(qtbot, embedded_project) -> None:
    project, _ = embedded_project
    widget = MapPanel(AppState())
    qtbot.addWidget(widget)
    widget.resize(600, 500)
    widget.show()
    widget.set_project(project.path)
    qtbot.waitUntil(lambda: not widget.runner.is_busy and len(widget.xy) == 12, timeout=120_000)
    assert "UMAP" in widget.caption.text()
    pixels = widget.scatter.map_to_widget(widget.xy)
    size = widget.scatter.size()
    assert (pixels >= 0).all() and (pixels[:, 0] <= size.width()).all()
    assert (pixels[:, 1] <= size.height()).all()
    widget.shutdown()


def test_source_changed_fires_once_per_new_set_not_per_refresh(qtbot, panel: MapPanel) -> None:
    seen: list[bool] = []
    panel.source_changed.connect(lambda: seen.append(True))
    panel.refresh()
    qtbot.waitUntil(lambda: not panel.runner.is_busy and panel.source is not None, timeout=20_000)
    assert seen == []


def test_showing_a_project_opens_no_thumbnail_cache_until_a_card_needs_one(
    qtbot, embedded_project, tmp_path
) -> None:
    """The index process creates and writes the cache as a folder opens: the GUI thread waited
    on it when the map opened one at ``set_project``; now the first hover card opens it."""
    import shutil

    from app.core.store.project import THUMBS_NAME

    project, _ = embedded_project
    project.close()
    copy = tmp_path / "copy"
    shutil.copytree(project.path, copy, ignore=shutil.ignore_patterns(f"{THUMBS_NAME}*"))
    widget = MapPanel(AppState())
    qtbot.addWidget(widget)
    widget.show()
    widget.set_project(copy)
    assert not (copy / THUMBS_NAME).exists(), "showing the project touched no cache"
    qtbot.waitUntil(lambda: not widget.runner.is_busy and len(widget.xy) == 12, timeout=20_000)
    pixmap, name = widget._card(0)
    assert pixmap is None and name and not (copy / THUMBS_NAME).exists()
    shutil.copy(project.path / THUMBS_NAME, copy / THUMBS_NAME)  # the index has made it now
    pixmap, _ = widget._card(0)
    assert pixmap is not None and not pixmap.isNull()
    widget.shutdown()


def test_a_project_without_embeddings_never_shows_the_last_projects_map(
    qtbot, embedded_project, tmp_path
) -> None:
    """Opening a project without embeddings while the last one's map is being laid out: what
    that job still reports is not drawn over the new project's empty page."""
    from app.gui_model.map_sources import NO_EMBEDDINGS

    project, _ = embedded_project
    fresh_dir = project_without_embeddings(tmp_path / "fresh")
    widget = MapPanel(AppState())
    qtbot.addWidget(widget)
    widget.show()
    widget.method_box.setCurrentText("PCA")
    widget.set_project(project.path)  # its layout job starts ...
    assert widget.runner.is_busy
    widget.set_project(fresh_dir)  # ... and is abandoned at once
    qtbot.waitUntil(lambda: not widget.runner.is_busy, timeout=20_000)
    qtbot.wait(100)
    assert widget.pages.currentIndex() == 0 and len(widget.xy) == 0
    assert widget.empty_text.text() == NO_EMBEDDINGS
    widget.shutdown()
