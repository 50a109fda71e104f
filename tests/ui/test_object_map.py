"""The object map on generated scenes: the map panel switches to objects, a click opens the
object's image with its box outlined, a lasso selects the images holding the objects, colours
by class and score, and the hover card shows the object's crop."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from app.core.store.embedding_sets import create_embedding_set, finish_embedding_set
from app.core.store.objects import ground_truth, object_arrays, objects_by_id
from app.core.store.project import Project
from app.gui_model.object_map import ObjectFocus
from app.gui_model.state import AppState
from app.ui.detail.widget import DetailView
from app.ui.map import MapPanel
from app.ui.map.object_focus import install_object_focus
from tests.scenes import make_scene_project


@pytest.fixture
def scene_dir(tmp_path: Path) -> Path:
    """6 scenes of 3 shapes (4 classes) with an object set of class-clustered vectors."""
    project, _ = make_scene_project(tmp_path / "data", n_images=6, per_image=3)
    with project:
        source = ground_truth(project)
        objects = object_arrays(project, source.id)
        rng = np.random.default_rng(0)
        centres = rng.standard_normal((len(objects.classes), 8)) * 3
        vectors = centres[objects.labels] + rng.standard_normal((len(objects), 8))
        config = {"kind": "objects", "objects_source_id": source.id, "objects_source": source.name}
        embedding_set = create_embedding_set(project, {**config, "source": "clustered vectors"})
        finish_embedding_set(project, embedding_set, objects.ids, vectors.astype(np.float32))
        return project.path


@pytest.fixture
def panel(qtbot, scene_dir: Path) -> Iterator[MapPanel]:
    widget = MapPanel(AppState())
    qtbot.addWidget(widget)
    widget.resize(640, 560)
    widget.show()
    qtbot.waitExposed(widget)
    widget.method_box.setCurrentText("PCA")
    widget.set_project(scene_dir)
    widget.objects.set_mode("objects")
    object_map = widget.objects.map
    qtbot.waitUntil(
        lambda: object_map.source is not None and len(object_map.xy) == 18, timeout=20_000
    )
    yield widget
    widget.shutdown()


def pixel(panel: MapPanel, row: int) -> QPoint:
    x, y = panel.objects.map.scatter.map_to_widget(panel.objects.map.xy[row])[0]
    return QPoint(int(np.floor(x)), int(np.floor(y)))


def test_the_panel_switches_to_object_points_coloured_by_class(panel: MapPanel, screenshots):
    object_map = panel.objects.map
    assert object_map.isVisible() and not panel.pages.isVisible()
    assert "18 objects of ground_truth" in object_map.caption.text()
    assert object_map.colour_key == "class"
    panel.grab().save(str(screenshots / "object_map.png"))
    panel.objects.set_mode("images")
    assert panel.pages.isVisible() and not object_map.isVisible()


def test_a_click_opens_the_objects_image_with_its_box_outlined(qtbot, panel: MapPanel, scene_dir):
    object_map = panel.objects.map
    detail = DetailView(panel.state)
    qtbot.addWidget(detail)
    detail.resize(700, 500)
    detail.show()
    detail.set_project(scene_dir)
    outline = install_object_focus(detail, panel.state)
    row = 7
    target = pixel(panel, row)
    picked = object_map.scatter.pick(target.x(), target.y())
    with qtbot.waitSignal(panel.sample_clicked) as clicked:
        QTest.mouseClick(object_map.scatter, Qt.MouseButton.LeftButton, pos=target)
    object_id = int(object_map.source.ids[picked])
    with Project.open(scene_dir) as project:
        stored = objects_by_id(project, [object_id])[object_id]
    focus = panel.state.focused_object
    assert isinstance(focus, ObjectFocus) and focus.object_id == object_id
    assert clicked.args == [stored.sample_id] and panel.state.current == stored.sample_id
    assert panel.state.selected.tolist() == [stored.sample_id]
    assert focus.box == pytest.approx(stored.box)
    source = object_map.source
    vectors = source.vectors
    order = np.argsort(-(vectors @ vectors[picked]), kind="stable")
    nearest = [int(r) for r in order if r != picked][: panel.k_box.value()]
    assert sorted(object_map.scatter._scene.highlight.tolist()) == sorted(nearest)
    qtbot.waitUntil(lambda: outline.rect() is not None, timeout=10_000)
    scale = detail.image_view.pixmap().width() / focus.image_size[0]
    rect = outline.rect()
    assert (rect.x(), rect.y(), rect.width(), rect.height()) == pytest.approx(
        tuple(v * scale for v in stored.box)
    )
    detail.shutdown()


def test_a_lasso_selects_the_images_that_hold_the_objects(panel: MapPanel, scene_dir):
    object_map = panel.objects.map
    xy = object_map.scatter.map_to_widget(object_map.xy)
    middle = np.median(xy[:, 0])
    left = np.flatnonzero(xy[:, 0] < middle)
    top, bottom = xy[:, 1].min() - 8, xy[:, 1].max() + 8
    polygon = np.array([[0, top], [middle, top], [middle, bottom], [0, bottom]], dtype=np.float64)
    rows = object_map.scatter.rows_in_polygon(polygon)
    assert sorted(rows.tolist()) == sorted(left.tolist())
    object_map.scatter.lasso_selected.emit(rows, "replace")
    expected = np.unique(object_map.source.sample_ids[left])
    assert panel.state.selected.tolist() == expected.tolist()


def test_colour_by_score_without_scores_says_so_and_keeps_classes(panel: MapPanel):
    object_map = panel.objects.map
    object_map.set_colour_key("score")
    assert "have no scores" in object_map.caption.text()
    object_map.set_colour_key("folder")
    assert object_map.colour_key == "folder"


def test_the_hover_card_shows_the_objects_crop(panel: MapPanel):
    object_map = panel.objects.map
    pixmap, text = object_map._card(3)
    source = object_map.source
    assert pixmap is not None and max(pixmap.width(), pixmap.height()) == 112
    assert source.classes[int(source.labels[3])] in text and f"object {source.ids[3]}" in text


def test_find_label_errors_scores_the_objects_and_colours_by_it(qtbot, panel: MapPanel):
    from app.core.embeddings.object_scores import stored_disagreement
    from app.core.store.embedding_sets import active_object_set

    object_map = panel.objects.map
    QTest.mouseClick(object_map.errors_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: object_map.source.disagreement is not None and not object_map.runner.is_busy,
        timeout=20_000,
    )
    assert object_map.colour_key == "label_disagreement"
    with Project.open(object_map._project_dir) as project:
        stored, k = stored_disagreement(active_object_set(project))
    np.testing.assert_allclose(object_map.source.disagreement, stored)
    assert k == 10 and np.isfinite(stored).all()


def test_find_label_errors_while_a_layout_still_runs_waits_for_it(qtbot, panel: MapPanel):
    object_map = panel.objects.map
    object_map.refresh()  # a layout runs ...
    assert object_map.runner.is_busy
    QTest.mouseClick(object_map.errors_button, Qt.MouseButton.LeftButton)  # ... not an error
    qtbot.waitUntil(
        lambda: (
            object_map.source is not None
            and object_map.source.disagreement is not None
            and not object_map.runner.is_busy
        ),
        timeout=20_000,
    )
    assert object_map.colour_key == "label_disagreement"
