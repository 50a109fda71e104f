"""Boxes and masks over the detail image: one box item per object, class colours on screen,
per-source toggles, the legend, masks (polygon and RLE) and boxes that follow the zoom."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QGraphicsPixmapItem, QGraphicsPolygonItem

from app.core.ingest.indexing import index_job
from app.core.jobs import run_job
from app.core.store.objects import NewObject, replace_source
from app.core.store.project import Project
from app.gui_model.class_colours import class_rgb
from app.gui_model.state import AppState
from app.ui.detail.objects_overlay import ObjectsOverlay
from app.ui.detail.widget import DetailView
from tests.factories import write_image

SIZE = (320, 240)
GREY = (128, 128, 128)
TRUTH = [
    NewObject(0, "cat", 20, 20, 100, 80),
    NewObject(0, "dog", 150, 40, 120, 150, mask={"polygons": [[160, 60, 260, 60, 210, 180]]}),
    NewObject(0, "cat", 40, 140, 60, 60),
]
PREDICTED = [
    NewObject(0, "cat", 24, 18, 96, 84, score=0.91),
    NewObject(0, "bird", 200, 10, 40, 20, score=0.35),
]


def rle_square(height: int, width: int, top: int, left: int, side: int) -> dict:
    """An uncompressed COCO RLE of a square: run lengths in column-major order, zeros first."""
    mask = np.zeros((height, width), np.uint8)
    mask[top : top + side, left : left + side] = 1
    flat = mask.flatten(order="F")
    edges = np.flatnonzero(np.diff(flat)) + 1
    counts = np.diff(np.r_[0, edges, flat.size]).tolist()
    if flat[0]:
        counts.insert(0, 0)
    return {"rle": {"size": [height, width], "counts": counts}}


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    """Two grey 320 x 240 images: the first with 3 ground-truth objects and 2 predictions."""
    root = tmp_path / "data"
    for name in ("a.png", "b.png"):
        write_image(root / name, Image.new("RGB", SIZE, GREY))
    with Project.for_dataset(root) as project:
        run_job(index_job(project))
        first = project.samples()[0].id
        truth = [NewObject(first, *_fields(o)) for o in TRUTH]
        truth.append(
            NewObject(first, "car", 250, 200, 40, 30, mask=rle_square(240, 320, 200, 250, 30))
        )
        predicted = [NewObject(first, *_fields(o)) for o in PREDICTED]
        replace_source(project, "ground_truth", "ground_truth", "coco", truth)
        replace_source(project, "model", "predictions", "coco", predicted)
        return project.path


def _fields(obj: NewObject) -> tuple:
    return (obj.label, obj.x, obj.y, obj.w, obj.h, obj.score, obj.iscrowd, obj.mask)


@pytest.fixture
def view(qtbot, project_dir: Path) -> Iterator[DetailView]:
    view = DetailView(AppState())
    qtbot.addWidget(view)
    view.resize(1100, 700)
    view.show()
    qtbot.waitExposed(view)
    view.set_project(project_dir)
    yield view
    view.shutdown()


def show_first(qtbot, view: DetailView) -> ObjectsOverlay:
    with Project.open(view.project.path) as project:
        first = project.samples()[0].id
    view.state.set_current(first)
    overlay = view.objects
    qtbot.waitUntil(
        lambda: overlay.data is not None and overlay.data.sample_id == first, timeout=10_000
    )
    return overlay


def screen(view: DetailView) -> np.ndarray:
    """The image view's viewport as an h x w x 3 array (a copy)."""
    image = view.image_view.viewport().grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    pixels = np.frombuffer(image.constBits(), np.uint8, image.sizeInBytes()).copy()
    rows = pixels.reshape(image.height(), image.bytesPerLine())[:, : 3 * image.width()]
    return rows.reshape(image.height(), image.width(), 3)


def pixels_of(view: DetailView, colour: tuple[int, int, int], tolerance: int = 12) -> int:
    return int((np.abs(screen(view).astype(int) - colour).max(axis=2) <= tolerance).sum())


def test_one_box_item_per_object_in_its_class_colour(qtbot, view: DetailView) -> None:
    overlay = show_first(qtbot, view)
    assert len(overlay.box_items("ground_truth")) == 4
    assert len(overlay.box_items("model")) == 2
    assert len(overlay.visible_box_items()) == 6
    cat = overlay.box_items("ground_truth")[0]
    assert cat.data(0) == "cat" and cat.pen().color().getRgb()[:3] == class_rgb("cat")
    assert sorted(i.toolTip() for i in overlay.box_items("model")) == ["bird 0.35", "cat 0.91"]
    assert pixels_of(view, class_rgb("cat")) > 200  # the outlines are on screen
    assert pixels_of(view, class_rgb("dog")) > 100


def test_a_source_toggle_hides_its_boxes_and_the_legend_follows(qtbot, view: DetailView) -> None:
    overlay = show_first(qtbot, view)
    assert overlay.panel.legend_classes() == ["bird", "car", "cat", "dog"]
    bird_before = pixels_of(view, class_rgb("bird"))
    assert bird_before > 20
    overlay.panel.checkboxes["model"].setChecked(False)
    assert len(overlay.visible_box_items()) == 4
    assert all(not item.isVisibleTo(None) for item in overlay.box_items("model"))
    assert overlay.panel.legend_classes() == ["car", "cat", "dog"]
    qtbot.waitUntil(lambda: pixels_of(view, class_rgb("bird")) < bird_before / 4)
    view.state.set_current(None)  # the choice is kept for the next sample
    overlay = show_first(qtbot, view)
    assert not overlay.panel.checkboxes["model"].isChecked()
    assert len(overlay.visible_box_items()) == 4
    overlay.panel.checkboxes["ground_truth"].setChecked(False)
    overlay.panel.checkboxes["model"].setChecked(True)
    assert len(overlay.visible_box_items()) == 2
    assert overlay.panel.legend_classes() == ["bird", "cat"]


def test_b_hides_and_shows_every_object(qtbot, view: DetailView) -> None:
    overlay = show_first(qtbot, view)
    view.image_view.setFocus()
    qtbot.waitUntil(view.image_view.hasFocus)
    qtbot.keyClick(view.image_view, Qt.Key.Key_B)
    assert overlay.visible_box_items() == []
    assert pixels_of(view, class_rgb("cat")) < 20
    qtbot.keyClick(view.image_view, Qt.Key.Key_B)
    assert len(overlay.visible_box_items()) == 6


def test_masks_are_drawn_translucent(qtbot, view: DetailView) -> None:
    overlay = show_first(qtbot, view)
    group = overlay.groups["ground_truth"]
    polygons = [i for i in group.childItems() if isinstance(i, QGraphicsPolygonItem)]
    rle = [i for i in group.childItems() if isinstance(i, QGraphicsPixmapItem)]
    assert len(polygons) == 1 and len(rle) == 1
    mask = rle[0].pixmap().toImage()
    assert mask.size().width() == SIZE[0] and mask.pixelColor(265, 215).alpha() > 0
    assert mask.pixelColor(10, 10).alpha() == 0
    # inside the dog's triangle the grey is tinted towards the dog's colour, not covered
    centre = view.image_view.mapFromScene(210, 100)
    r, g, b = screen(view)[centre.y(), centre.x()].tolist()
    assert (r, g, b) != GREY and max(abs(c - 128) for c in (r, g, b)) < 100


def test_boxes_follow_the_zoom(qtbot, view: DetailView) -> None:
    overlay = show_first(qtbot, view)
    box = overlay.box_items("ground_truth")[0]
    width = view.image_view.mapFromScene(box.sceneBoundingRect()).boundingRect().width()
    view.image_view.zoom_by(2.0)
    zoomed = view.image_view.mapFromScene(box.sceneBoundingRect()).boundingRect().width()
    assert zoomed == pytest.approx(2 * width, rel=0.05)


def test_a_sample_without_objects_says_so(qtbot, view: DetailView) -> None:
    with Project.open(view.project.path) as project:
        second = project.samples()[1].id
    view.state.set_current(second)
    qtbot.waitUntil(lambda: view.objects.data is not None and view.objects.data.sample_id == second)
    assert view.objects.box_items() == []
    assert not view.objects.panel.empty.isHidden()
    assert view.objects.panel.legend_classes() == []


def test_rle_masks_of_a_source_share_one_layer() -> None:
    from app.core.store.objects import ObjectRow
    from app.ui.detail.objects_overlay import mask_layer

    def row(object_id: int, label: str, mask: dict) -> ObjectRow:
        return ObjectRow(object_id, 1, 1, label, 0, 0, 1, 1, None, False, mask)

    cat = row(1, "cat", rle_square(40, 60, 0, 0, 10))
    dog = row(2, "dog", rle_square(40, 60, 20, 30, 10))
    odd = row(3, "cat", rle_square(20, 20, 0, 0, 5))  # another size: left out
    broken = row(4, "cat", {"rle": {"size": [40, 60]}})  # no counts: left out
    from pycocotools import mask as coco_mask

    square = np.zeros((40, 60), np.uint8, order="F")
    square[0:10, 45:55] = 1
    encoded = coco_mask.encode(square)  # compressed counts, stored in JSON as a string
    bird = row(5, "bird", {"rle": {"size": [40, 60], "counts": encoded["counts"].decode()}})
    layer = mask_layer([cat, dog, odd, broken, bird])
    assert layer is not None and (layer.width(), layer.height()) == (60, 40)
    assert layer.pixelColor(50, 5).getRgb()[:3] == class_rgb("bird")
    assert layer.pixelColor(5, 5).getRgb()[:3] == class_rgb("cat")
    assert layer.pixelColor(35, 25).getRgb()[:3] == class_rgb("dog")
    assert layer.pixelColor(20, 35).alpha() == 0
    assert mask_layer([broken]) is None


def test_a_project_without_annotations_shows_no_panel(qtbot, tmp_path: Path) -> None:
    root = tmp_path / "plain"
    write_image(root / "a.png", Image.new("RGB", SIZE, GREY))
    with Project.for_dataset(root) as project:
        run_job(index_job(project))
        sample = project.samples()[0].id
        project_dir = project.path
    view = DetailView(AppState())
    qtbot.addWidget(view)
    view.show()
    view.set_project(project_dir)
    view.state.set_current(sample)
    qtbot.waitUntil(lambda: view.objects.data is not None, timeout=10_000)
    assert view.objects.data.sources == [] and view.objects.box_items() == []
    assert view.objects.panel.isHidden()
    view.shutdown()
