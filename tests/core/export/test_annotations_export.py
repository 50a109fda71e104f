"""Exports as COCO, YOLO and VOC read back equal (boxes within rounding) with pycocotools and
globox, keep category ids across splits, and write nowhere they must not."""

from __future__ import annotations

import json
from pathlib import Path

import globox
import numpy as np
import pytest
import yaml
from pycocotools.coco import COCO

from app.core.data.annotations.importing import import_annotations_job
from app.core.errors import SieveError
from app.core.export.annotations import export_annotations_job
from app.core.jobs import CancelToken, run_job
from app.core.store.project import Project
from tests.annotation_files import (
    SIZES,
    assert_same_boxes,
    boxes_of,
    coco_dict,
    indexed_project,
    stored_boxes,
    write_coco,
    write_voc,
    write_yolo,
)


@pytest.fixture()
def project(tmp_path: Path):
    with indexed_project(tmp_path / "data") as project:
        yield project


def _ids(project: Project, names=None) -> list[int]:
    return [row.id for row in project.samples() if names is None or row.name in names]


def _export(project: Project, fmt: str, out: Path, ids=None, **options):
    ids = _ids(project) if ids is None else ids
    return run_job(export_annotations_job(project, ids, fmt, out, CancelToken(), **options))


def _globox_boxes(annotations: globox.AnnotationSet, prefix: str = "") -> dict:
    found = {}
    for annotation in annotations:
        found[prefix + annotation.image_id] = [
            (box.label, (box.xmin, box.ymin, box.width, box.height)) for box in annotation.boxes
        ]
    return found


def _pycoco_boxes(path: Path) -> dict:
    coco = COCO(str(path))
    names = {category["id"]: category["name"] for category in coco.loadCats(coco.getCatIds())}
    found = {}
    for image in coco.loadImgs(coco.getImgIds()):
        annotations = coco.loadAnns(coco.getAnnIds(imgIds=[image["id"]]))
        found[image["file_name"]] = [
            (names[a["category_id"]], tuple(a["bbox"])) for a in annotations
        ]
    return found


def test_coco_round_trip_with_splits_masks_and_consistent_categories(project, tmp_path) -> None:
    data = coco_dict()
    polygon = [[2.0, 3.0, 22.0, 3.0, 22.0, 13.0]]
    data["annotations"][0]["segmentation"] = polygon
    data["annotations"][1]["iscrowd"] = 1
    run_job(import_annotations_job(project, write_coco(tmp_path / "l.json", data), "coco"))
    out = tmp_path / "out"
    _export(project, "coco", out, val_fraction=0.5, seed=3)
    found: dict = {}
    categories = []
    for split in ("train", "val"):
        path = out / f"annotations/instances_{split}.json"
        written = json.loads(path.read_text())
        categories.append(written["categories"])
        for image in written["images"]:
            assert (out / "images" / split / image["file_name"]).is_file()
        found.update(_pycoco_boxes(path))
        via_globox = _globox_boxes(globox.AnnotationSet.from_coco(path))
        assert_same_boxes(via_globox, _pycoco_boxes(path))
    assert (
        categories[0]
        == categories[1]
        == [
            {"id": 1, "name": "dog"},
            {"id": 2, "name": "cat"},
            {"id": 3, "name": "bird"},
        ]
    )
    assert_same_boxes(found, boxes_of())
    train = json.loads((out / "annotations/instances_train.json").read_text())
    val = json.loads((out / "annotations/instances_val.json").read_text())
    annotations = {
        (image["file_name"], a["id"]): a
        for written in (train, val)
        for image in written["images"]
        for a in written["annotations"]
        if a["image_id"] == image["id"]
    }
    on_a = sorted(
        (a for (name, _), a in annotations.items() if name == "images/train/a.png"),
        key=lambda a: a["bbox"],
    )
    assert on_a[0]["segmentation"] == polygon and on_a[0]["area"] > 0
    assert on_a[1]["iscrowd"] == 1


def test_coco_export_of_rle_masks_reads_back_with_pycocotools(project, tmp_path) -> None:
    from pycocotools import mask as mask_utils

    width, height = SIZES["images/train/b.png"]
    bitmap = np.zeros((height, width), np.uint8, order="F")
    bitmap[12:18, 10:18] = 1
    data = coco_dict()
    rle = mask_utils.encode(bitmap)
    data["annotations"][3]["segmentation"] = {
        "size": [height, width],
        "counts": rle["counts"].decode(),
    }
    run_job(import_annotations_job(project, write_coco(tmp_path / "l.json", data), "coco"))
    _export(project, "coco", tmp_path / "out")
    coco = COCO(str(tmp_path / "out/annotations/instances_train.json"))
    masked = [a for a in coco.loadAnns(coco.getAnnIds()) if a["segmentation"]]
    assert len(masked) == 1
    assert (coco.annToMask(masked[0]) == bitmap).all() and masked[0]["area"] == 48


def test_yolo_round_trip_in_the_ultralytics_layout(project, tmp_path) -> None:
    run_job(import_annotations_job(project, write_yolo(tmp_path / "yolo"), "yolo"))
    pngs = [name for name in SIZES if name.endswith(".png")]  # globox reads one extension
    out = tmp_path / "out"
    _export(project, "yolo", out, ids=_ids(project, pngs), val_fraction=0.34, seed=1)
    config = yaml.safe_load((out / "data.yaml").read_text())
    assert config == {
        "train": "images/train",
        "val": "images/val",
        "names": {0: "cat", 1: "dog", 2: "bird"},
    }
    found: dict = {}
    for split in ("train", "val"):
        read = globox.AnnotationSet.from_yolo_v5(
            out / "labels" / split,
            image_folder=out / "images" / split,
            image_extension=".png",
            recursive=True,
        )
        read = read.map_labels({str(code): name for code, name in config["names"].items()})
        found.update(_globox_boxes(read, prefix=""))
        coco_path = tmp_path / f"{split}.json"
        read.save_coco(coco_path, auto_ids=True)
        assert_same_boxes(_pycoco_boxes(coco_path), _globox_boxes(read), tolerance=0.01)
    expected = {Path(name).name: boxes for name, boxes in boxes_of().items() if name in pngs}
    assert_same_boxes({Path(k).name: v for k, v in found.items()}, expected, tolerance=0.01)


def test_voc_round_trip(project, tmp_path) -> None:
    run_job(import_annotations_job(project, write_voc(tmp_path / "voc"), "voc"))
    out = tmp_path / "out"
    _export(project, "voc", out, val_fraction=0.5)
    read = globox.AnnotationSet.from_pascal_voc(out / "Annotations", recursive=True)
    found = _globox_boxes(read)
    assert_same_boxes(found, {Path(k).name: v for k, v in boxes_of().items()})
    listed = (out / "ImageSets/Main/train.txt").read_text().split() + (
        out / "ImageSets/Main/val.txt"
    ).read_text().split()
    assert sorted(listed) == sorted(name.rsplit(".", 1)[0] for name in SIZES)
    assert all((out / "JPEGImages" / name).is_file() for name in SIZES)
    coco_path = tmp_path / "voc.json"
    read.save_coco(coco_path, auto_ids=True)
    assert_same_boxes(_pycoco_boxes(coco_path), found)


def test_sieve_reads_its_own_exports_back(project, tmp_path) -> None:
    run_job(import_annotations_job(project, write_coco(tmp_path / "l.json"), "coco"))
    for fmt, source in (("yolo", "out-yolo"), ("voc", "out-voc/Annotations")):
        _export(project, fmt, tmp_path / f"out-{fmt}", link=True)
        run_job(import_annotations_job(project, tmp_path / source, fmt, name=fmt))
        assert_same_boxes(stored_boxes(project, fmt), boxes_of(), tolerance=0.001)
    assert (tmp_path / "out-yolo/images/train/images/val/c.jpg").is_symlink()


def test_a_chosen_source_is_exported(project, tmp_path) -> None:
    run_job(import_annotations_job(project, write_coco(tmp_path / "l.json"), "coco"))
    data = coco_dict()
    data["annotations"] = data["annotations"][:1]
    run_job(
        import_annotations_job(project, write_coco(tmp_path / "one.json", data), "coco", name="one")
    )
    _export(project, "coco", tmp_path / "out", source_name="one")
    written = json.loads((tmp_path / "out/annotations/instances_train.json").read_text())
    assert len(written["annotations"]) == 1 and len(written["images"]) == 4
    with pytest.raises(SieveError, match="no annotation source named 'nope'"):
        _export(project, "coco", tmp_path / "out2", source_name="nope")


def test_an_export_without_annotations_or_into_the_dataset_is_refused(project, tmp_path) -> None:
    with pytest.raises(SieveError, match="no annotations to export"):
        _export(project, "yolo", tmp_path / "out")
    run_job(import_annotations_job(project, write_coco(tmp_path / "l.json"), "coco"))
    inside = project.dataset_root / "exported"
    with pytest.raises(SieveError, match="refused: .* the dataset folder"):
        _export(project, "yolo", inside)
    assert not inside.exists()


def test_a_second_export_needs_overwrite_unless_labels_are_the_same(project, tmp_path) -> None:
    run_job(import_annotations_job(project, write_coco(tmp_path / "l.json"), "coco"))
    out = tmp_path / "out"
    _export(project, "voc", out)
    _export(project, "voc", out)  # the same files: done already
    data = coco_dict()
    data["annotations"] = data["annotations"][:2]
    run_job(import_annotations_job(project, write_coco(tmp_path / "two.json", data), "coco"))
    before = (out / "Annotations/images/train/b.xml").read_bytes()
    with pytest.raises(SieveError, match="exists: choose another folder or pass --overwrite"):
        _export(project, "voc", out)
    assert (out / "Annotations/images/train/b.xml").read_bytes() == before
    _export(project, "voc", out, overwrite=True)
    assert b"<object>" not in (out / "Annotations/images/train/b.xml").read_bytes()


def test_broken_images_are_left_out_and_said_so(project, tmp_path) -> None:
    from app.core.ingest.indexing import index_job

    run_job(import_annotations_job(project, write_coco(tmp_path / "l.json"), "coco"))
    (project.dataset_root / "images/zz.png").write_bytes(b"not a png")
    run_job(index_job(project))
    report = _export(project, "coco", tmp_path / "out")
    assert report.skipped == ["images/zz.png: the image is broken (skipped)"]
    written = json.loads((tmp_path / "out/annotations/instances_train.json").read_text())
    assert len(written["images"]) == 4
    assert report.written[str(tmp_path / "out/annotations/instances_train.json")] == 4


def test_an_image_not_indexed_yet_stops_the_export(project, tmp_path) -> None:
    run_job(import_annotations_job(project, write_coco(tmp_path / "l.json"), "coco"))
    with project.db:
        project.db.execute("UPDATE files SET pending = 1 WHERE relpath = 'images/val/c.jpg'")
    with pytest.raises(SieveError, match="1 images are not indexed yet"):
        _export(project, "yolo", tmp_path / "out")
    assert not (tmp_path / "out").exists()
