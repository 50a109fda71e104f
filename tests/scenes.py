"""Generated detection scenes: images with coloured shapes at known boxes, stored as objects."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from app.core.ingest.indexing import IndexOptions, index_job
from app.core.jobs import CancelToken, run_job
from app.core.store.objects import NewObject, replace_source
from app.core.store.project import Project

COLOURS = {
    "red": (220, 30, 30),
    "green": (30, 200, 40),
    "blue": (30, 60, 220),
    "yellow": (230, 220, 30),
    "cyan": (30, 210, 220),
    "magenta": (210, 40, 200),
    "orange": (240, 140, 20),
    "white": (245, 245, 245),
}
CLASSES = tuple(COLOURS)


def scene_objects(
    n_images: int, per_image: int, classes: tuple[str, ...], seed: int, size: tuple[int, int]
) -> list[list[tuple[str, tuple[int, int, int, int]]]]:
    """Per image: ``(class, (x, y, w, h))`` of each shape; classes drawn with falling odds."""
    rng = np.random.default_rng(seed)
    odds = 1.0 / np.arange(1, len(classes) + 1)
    odds /= odds.sum()
    width, height = size
    scenes = []
    for _ in range(n_images):
        shapes = []
        for _ in range(per_image):
            label = classes[int(rng.choice(len(classes), p=odds))]
            w, h = (int(v) for v in rng.integers(10, min(width, height) // 2, 2))
            x, y = int(rng.integers(0, width - w)), int(rng.integers(0, height - h))
            shapes.append((label, (x, y, w, h)))
        scenes.append(shapes)
    return scenes


def draw_scene(shapes, size: tuple[int, int], seed: int) -> Image.Image:
    """A dark noisy background with each class's colour filled in its box (ellipse or box)."""
    rng = np.random.default_rng(seed)
    background = rng.integers(0, 60, (size[1], size[0], 3), dtype=np.uint8)
    image = Image.fromarray(background)
    draw = ImageDraw.Draw(image)
    for index, (label, (x, y, w, h)) in enumerate(shapes):
        shape = draw.ellipse if index % 2 else draw.rectangle
        shape((x, y, x + w - 1, y + h - 1), fill=COLOURS[label])
    return image


def make_scene_project(
    root: Path,
    n_images: int = 8,
    per_image: int = 3,
    classes: tuple[str, ...] = CLASSES[:4],
    size: tuple[int, int] = (96, 72),
    seed: int = 0,
    source: str = "ground_truth",
) -> tuple[Project, list[list[tuple[str, tuple[int, int, int, int]]]]]:
    """A project of ``n_images`` scenes with their shapes stored as ground-truth objects."""
    scenes = scene_objects(n_images, per_image, classes, seed, size)
    for index, shapes in enumerate(scenes):
        path = root / f"scene-{index:04d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        draw_scene(shapes, size, seed * 10_000 + index).save(path)
    project = Project.for_dataset(root)
    run_job(index_job(project, IndexOptions(), CancelToken()))
    store_scenes(project, scenes, source)
    return project, scenes


def store_scenes(project: Project, scenes, source: str = "ground_truth", kind="ground_truth"):
    """Store ``scenes`` (in sample order) as the annotation source ``source``; its id."""
    rows = project.samples()
    objects = [
        NewObject(row.id, label, *box)
        for row, shapes in zip(rows, scenes, strict=True)
        for label, box in shapes
    ]
    classes = sorted({label for shapes in scenes for label, _ in shapes})
    return replace_source(project, source, kind, "coco", objects, classes=classes)
