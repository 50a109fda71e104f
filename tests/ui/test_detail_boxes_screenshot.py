"""The user guide's detail-view screenshot (docs/images/detail-boxes.png): a drawn street scene
with ground truth (an RLE mask, a polygon mask, boxes) and dashed predictions with scores.

    SIEVE_SCREENSHOTS=docs/images QT_QPA_PLATFORM=offscreen \\
        .venv/bin/python -m pytest -q tests/ui/test_detail_boxes_screenshot.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from app.core.ingest.indexing import index_job
from app.core.jobs import run_job
from app.core.store.objects import NewObject, replace_source
from app.core.store.project import Project
from app.gui_model.state import AppState
from app.ui.detail.widget import DetailView

W, H = 640, 420
CAR = [(260, 250, 470, 330), (285, 305, 335, 355), (400, 305, 450, 355)]
CAR_ROOF = [(300, 250), (330, 205), (420, 205), (450, 250)]
PERSON = [531, 150, 561, 150, 564, 180, 564, 270, 560, 330, 532, 330, 528, 270, 528, 180]


def street() -> Image.Image:
    """Sky, road, a house, a red car, a person, a dog and the sun."""
    ramp = np.linspace(0, 1, H)[:, None, None]
    pixels = np.array([135, 180, 230]) * (1 - ramp) + np.array([210, 225, 240]) * ramp
    pixels = np.broadcast_to(pixels, (H, W, 3)).copy()
    pixels[260:] = (95, 100, 105)
    pixels[250:262] = (170, 170, 165)
    image = Image.fromarray(pixels.astype(np.uint8))
    draw = ImageDraw.Draw(image)
    draw.rectangle((40, 120, 200, 252), fill=(190, 150, 120))
    draw.polygon([(30, 122), (120, 60), (210, 122)], fill=(150, 70, 60))
    draw.rectangle((100, 190, 135, 252), fill=(90, 60, 40))
    draw.rounded_rectangle(CAR[0], 18, fill=(200, 40, 40))
    draw.polygon(CAR_ROOF, fill=(170, 30, 30))
    for wheel in CAR[1:]:
        draw.ellipse(wheel, fill=(30, 30, 30))
    draw.ellipse((531, 150, 561, 180), fill=(230, 190, 160))
    draw.rectangle((528, 180, 564, 270), fill=(40, 80, 160))
    draw.rectangle((532, 270, 560, 330), fill=(50, 50, 60))
    draw.ellipse((560, 300, 620, 335), fill=(150, 110, 60))
    draw.ellipse((603, 285, 628, 310), fill=(150, 110, 60))
    draw.ellipse((500, 40, 560, 100), fill=(250, 230, 120))
    return image.filter(ImageFilter.GaussianBlur(0.6))


def car_rle() -> dict:
    """The car's mask as an uncompressed COCO RLE."""
    mask = Image.new("L", (W, H), 0)
    draw = ImageDraw.Draw(mask)
    draw.rounded_rectangle(CAR[0], 18, fill=1)
    draw.polygon(CAR_ROOF, fill=1)
    for wheel in CAR[1:]:
        draw.ellipse(wheel, fill=1)
    flat = np.asarray(mask).flatten(order="F")
    edges = np.flatnonzero(np.diff(flat)) + 1
    counts = np.diff(np.r_[0, edges, flat.size]).tolist()
    return {"rle": {"size": [H, W], "counts": ([0] if flat[0] else []) + counts}}


def test_detail_view_with_boxes_and_masks(qtbot, tmp_path: Path, screenshots: Path) -> None:
    root = tmp_path / "city"
    (root / "street").mkdir(parents=True)
    street().save(root / "street" / "frame_0001.jpg", quality=92)
    with Project.for_dataset(root) as project:
        run_job(index_job(project))
        sid = project.samples()[0].id
        truth = [
            NewObject(sid, "car", 258, 203, 214, 154, mask=car_rle()),
            NewObject(sid, "person", 526, 148, 40, 184, mask={"polygons": [PERSON]}),
            NewObject(sid, "dog", 558, 283, 72, 54),
            NewObject(sid, "house", 28, 58, 184, 196),
        ]
        predicted = [
            NewObject(sid, "car", 262, 200, 206, 150, score=0.94),
            NewObject(sid, "person", 522, 152, 46, 172, score=0.81),
            NewObject(sid, "dog", 548, 288, 86, 48, score=0.47),
        ]
        classes = ["car", "person", "dog", "house"]
        replace_source(project, "ground_truth", "ground_truth", "coco", truth, classes=classes)
        replace_source(project, "detector", "predictions", "coco", predicted, classes=classes[:3])
        project_dir = project.path
    view = DetailView(AppState())
    qtbot.addWidget(view)
    view.resize(1200, 720)
    view.show()
    qtbot.waitExposed(view)
    view.set_project(project_dir)
    view.set_order(np.array([sid]))
    view.state.set_current(sid)
    overlay = view.objects
    qtbot.waitUntil(lambda: overlay.data is not None, timeout=10_000)
    assert len(overlay.box_items("ground_truth")) == 4 and len(overlay.box_items("detector")) == 3
    assert overlay.panel.legend_classes() == ["car", "dog", "house", "person"]
    qtbot.wait(50)
    view.grab().save(str(screenshots / "detail-boxes.png"))
    view.shutdown()
