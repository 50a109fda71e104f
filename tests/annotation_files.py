"""A small generated detection dataset with its labels written as COCO, YOLO and VOC files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from app.core.ingest.indexing import IndexOptions, index_job
from app.core.jobs import CancelToken, run_job
from app.core.store.project import Project
from tests.factories import gradient, write_image

CLASSES = ("cat", "dog", "bird")
SIZES = {
    "images/train/a.png": (64, 48),
    "images/train/b.png": (80, 60),
    "images/val/c.jpg": (50, 40),
    "images/val/sub/d.png": (32, 32),
}
# Integer pixel boxes (x, y, w, h): every format holds them exactly.
TRUTH: dict[str, list[tuple[str, tuple[int, int, int, int]]]] = {
    "images/train/a.png": [("cat", (2, 3, 20, 10)), ("dog", (30, 20, 34, 28))],
    "images/train/b.png": [
        ("bird", (0, 0, 80, 60)),
        ("cat", (10, 12, 8, 6)),
        ("cat", (40, 4, 6, 50)),
    ],
    "images/val/c.jpg": [("dog", (5, 6, 24, 30))],
    "images/val/sub/d.png": [],
}
CATEGORY_IDS = {"cat": 7, "dog": 3, "bird": 11}  # not 1..K: ids are mapped, not assumed


def make_images(root: Path) -> Path:
    """Write the dataset's images under ``root``."""
    for seed, (name, (width, height)) in enumerate(SIZES.items()):
        write_image(root / name, gradient(width, height, seed))
    return root


def indexed_project(root: Path) -> Project:
    """An open, indexed project of the generated images."""
    make_images(root)
    project = Project.for_dataset(root)
    run_job(index_job(project, IndexOptions(), CancelToken()))
    return project


def boxes_of(truth: dict = TRUTH) -> dict[str, list[tuple[str, tuple[float, ...]]]]:
    """``{name: sorted [(label, box)]}`` for comparing sets of objects."""
    return {
        name: sorted((label, tuple(map(float, box))) for label, box in found)
        for name, found in truth.items()
    }


def coco_dict(names: dict[str, str] | None = None) -> dict:
    """The truth as a COCO dataset (``names``: file_name to write for a sample name)."""
    names = names or {}
    images, annotations = [], []
    for image_id, (name, (width, height)) in enumerate(SIZES.items(), start=100):
        images.append(
            {"id": image_id, "file_name": names.get(name, name), "width": width, "height": height}
        )
        for label, box in TRUTH[name]:
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": CATEGORY_IDS[label],
                    "bbox": list(box),
                    "area": box[2] * box[3],
                    "iscrowd": 0,
                }
            )
    categories = [{"id": i, "name": n} for n, i in CATEGORY_IDS.items()]
    return {"images": images, "annotations": annotations, "categories": categories}


def write_coco(path: Path, data: dict | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data if data is not None else coco_dict(), indent=1))
    return path


def yolo_line(label: str, box: tuple[int, int, int, int], size: tuple[int, int]) -> str:
    (x, y, w, h), (width, height) = box, size
    cx, cy = (x + w / 2) / width, (y + h / 2) / height
    return f"{CLASSES.index(label)} {cx:.6f} {cy:.6f} {w / width:.6f} {h / height:.6f}"


def write_yolo(folder: Path, names_yaml: str | None = None) -> Path:
    """The truth as an Ultralytics folder: data.yaml + labels/<split>/<stem>.txt."""
    for name, found in TRUTH.items():
        target = folder / ("labels/" + name.removeprefix("images/")).rsplit(".", 1)[0]
        target = target.with_suffix(".txt")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(
            "".join(yolo_line(label, box, SIZES[name]) + "\n" for label, box in found)
        )
    names_yaml = names_yaml or "names: [cat, dog, bird]\n"
    (folder / "data.yaml").write_text("train: images/train\nval: images/val\n" + names_yaml)
    return folder


def voc_xml(name: str, found: list, size: tuple[int, int] | None) -> str:
    objects = "".join(
        f"<object><name>{label}</name><bndbox><xmin>{x}</xmin><ymin>{y}</ymin>"
        f"<xmax>{x + w}</xmax><ymax>{y + h}</ymax></bndbox></object>\n"
        for label, (x, y, w, h) in found
    )
    dims = (
        f"<size><width>{size[0]}</width><height>{size[1]}</height><depth>3</depth></size>"
        if size
        else ""
    )
    return f"<annotation>\n<filename>{Path(name).name}</filename>\n{dims}\n{objects}</annotation>\n"


def write_voc(folder: Path) -> Path:
    """The truth as VOC xml files mirroring the images' folders."""
    for name, found in TRUTH.items():
        target = (folder / name.removeprefix("images/")).with_suffix(".xml")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(voc_xml(name, found, SIZES[name]))
    return folder


def stored_boxes(project: Project, source_name: str = "ground_truth") -> dict[str, list]:
    """The objects of a source as ``{sample name: sorted [(label, box)]}``."""
    from app.core.store.objects import objects_of, require_source

    source = require_source(project, source_name)
    return {
        row.name: sorted(
            (o.label, tuple(float(np.round(v, 3)) for v in o.box))
            for o in objects_of(project, row.id, [source.id])
        )
        for row in project.samples()
    }


def assert_same_boxes(found: dict, expected: dict, tolerance: float = 0.01) -> None:
    """Equal names, labels and boxes (within ``tolerance`` pixels)."""
    assert sorted(found) == sorted(expected)
    for name in expected:
        got, want = sorted(found[name]), sorted(expected[name])
        assert [label for label, _ in got] == [label for label, _ in want], name
        for (_, a), (_, b) in zip(got, want, strict=True):
            assert np.allclose(a, b, atol=tolerance), (name, a, b)
