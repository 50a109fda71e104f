"""Exporting a subset with its objects as COCO, YOLO or Pascal VOC, images copied or linked.

Layouts under the target folder (``SPLIT``: ``train``, and ``val`` with a validation fraction):

- ``coco``: ``images/SPLIT/<name>`` and ``annotations/instances_SPLIT.json``; category ids are
  1, 2, ... in the source's class order (the same in every split), ``file_name`` is the
  sample's name under ``images/SPLIT/``; masks are written as COCO segmentations.
- ``yolo`` (Ultralytics): ``images/SPLIT/<name>``, ``labels/SPLIT/<name stem>.txt`` with
  ``class cx cy w h`` as fractions of the image (boxes only), and ``data.yaml``.
- ``voc``: ``JPEGImages/<name>``, ``Annotations/<name stem>.xml`` (integer pixel corners) and
  ``ImageSets/Main/SPLIT.txt`` listing the stems.

The images go through :func:`app.core.export.subset.export_subset_job` (copies or links, the
same guards, atomic and resumable), the label files through its ``plan_generated_files``: all
of them are checked before anything is written.
"""

from __future__ import annotations

import json
import posixpath
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from app.core.errors import SieveError
from app.core.export.subset import (
    ExportReport,
    export_subset_job,
    plan_generated_files,
    split_train_val,
    write_generated_files,
)
from app.core.jobs import CancelToken, Job, Progress
from app.core.store.objects import (
    AnnotationSource,
    ObjectRow,
    ground_truth,
    objects_of_samples,
    require_source,
)
from app.core.store.project import Project, SampleRow

ANNOTATION_FORMATS = ("coco", "yolo", "voc")


def export_annotations_job(
    project: Project,
    sample_ids: Sequence[int],
    fmt: str,
    out: Path,
    cancel: CancelToken,
    source_name: str | None = None,
    link: bool = False,
    overwrite: bool = False,
    val_fraction: float | None = None,
    seed: int = 0,
) -> Job[ExportReport]:
    """Export the samples ``sample_ids`` with the objects of ``source_name`` (default: the
    ground truth) as ``fmt`` under ``out``."""
    if fmt not in ANNOTATION_FORMATS:
        raise SieveError(f"unknown annotation format {fmt!r}: choose coco, yolo or voc")
    source = _source(project, source_name)
    rows, left_out = _rows(project, sample_ids)
    splits = _splits(len(rows), val_fraction, seed)
    objects = objects_of_samples(project, source.id, [row.id for row in rows])
    classes = _classes(source, objects)
    files: dict[str, bytes] = {}
    for split, positions in splits.items():
        subset = [rows[p] for p in positions]
        files.update(_label_files(fmt, split, subset, objects, classes))
    if fmt == "yolo":
        files["data.yaml"] = _data_yaml(list(splits), classes)
    planned = plan_generated_files(project, rows, out, files, overwrite)
    report = ExportReport(skipped=left_out)
    image_parts = (
        {"JPEGImages": np.arange(len(rows))}
        if fmt == "voc"
        else {f"images/{split}": positions for split, positions in splits.items()}
    )
    for folder, positions in image_parts.items():
        ids = [rows[p].id for p in positions]
        if not ids:
            continue
        images = yield from export_subset_job(
            project, ids, "symlink" if link else "copy", out / folder, cancel, overwrite=overwrite
        )
        report.written.update(images.written)
        report.skipped.extend(images.skipped)
    write_generated_files(planned)
    for split, positions in splits.items():
        labels = {"coco": f"annotations/instances_{split}.json", "yolo": f"labels/{split}"}
        report.written[str(out / labels.get(fmt, f"ImageSets/Main/{split}.txt"))] = len(positions)
    total = len(rows)
    yield Progress("export", total, total, f"exported {total:,} images with labels as {fmt}")
    return report


def _source(project: Project, name: str | None) -> AnnotationSource:
    if name is not None:
        return require_source(project, name)
    truth = ground_truth(project)
    if truth is None:
        raise SieveError(
            "the project has no annotations to export: import them with 'sieve "
            "import-annotations', or choose another export format"
        )
    return truth


def _rows(project: Project, sample_ids: Sequence[int]) -> tuple[list[SampleRow], list[str]]:
    """The rows to export, and why the others are left out (missing or broken files)."""
    by_id = project.samples_by_id([int(i) for i in sample_ids])
    unknown = [i for i in sample_ids if int(i) not in by_id]
    if unknown:
        raise SieveError(f"{len(unknown)} samples of the subset are not in the project")
    rows = [by_id[int(i)] for i in sample_ids]
    unsized = [
        row.name
        for row in rows
        if row.status == "pending" or (row.status == "ok" and row.width is None)
    ]
    if unsized:
        raise SieveError(
            f"{len(unsized)} images are not indexed yet (e.g. {unsized[0]}): run 'sieve index' "
            "first"
        )
    left_out = [
        f"{row.name}: its file was missing at the last index (skipped)"
        if row.status == "missing"
        else f"{row.name}: the image is broken (skipped)"
        for row in rows
        if row.status != "ok"
    ]
    return [row for row in rows if row.status == "ok"], left_out


def _splits(count: int, val_fraction: float | None, seed: int) -> dict[str, np.ndarray]:
    if val_fraction is None:
        return {"train": np.arange(count)}
    train, val = split_train_val(count, val_fraction, seed)
    return {"train": train, "val": val}


def _classes(source: AnnotationSource, objects: dict[int, list[ObjectRow]]) -> list[str]:
    """The source's classes in order, then any other label its objects carry (sorted)."""
    classes = list(source.classes)
    known = set(classes)
    extra = {o.label for found in objects.values() for o in found if o.label not in known}
    return classes + sorted(extra)


def _stem(name: str) -> str:
    return posixpath.splitext(name)[0]


def _label_files(
    fmt: str,
    split: str,
    rows: list[SampleRow],
    objects: dict[int, list[ObjectRow]],
    classes: list[str],
) -> dict[str, bytes]:
    if fmt == "coco":
        data = _coco(rows, objects, classes)
        return {f"annotations/instances_{split}.json": data}
    stems = [_stem(row.name) for row in rows]
    if fmt != "coco" and len(set(stems)) < len(stems):
        twice = next(stem for stem in stems if stems.count(stem) > 1)
        raise SieveError(
            f"two images of the subset are {twice} with different extensions: their {fmt} "
            "label files would have the same name; export them separately"
        )
    if fmt == "yolo":
        codes = {name: code for code, name in enumerate(classes)}
        return {
            f"labels/{split}/{_stem(row.name)}.txt": _yolo(row, objects.get(row.id, []), codes)
            for row in rows
        }
    files = {
        f"Annotations/{_stem(row.name)}.xml": _voc(row, objects.get(row.id, [])) for row in rows
    }
    files[f"ImageSets/Main/{split}.txt"] = "".join(f"{_stem(r.name)}\n" for r in rows).encode()
    return files


def _coco(rows: list[SampleRow], objects: dict[int, list[ObjectRow]], classes: list[str]) -> bytes:
    category = {name: code + 1 for code, name in enumerate(classes)}
    images, annotations = [], []
    for image_id, row in enumerate(rows, start=1):
        images.append(
            {"id": image_id, "file_name": row.name, "width": row.width, "height": row.height}
        )
        for obj in objects.get(row.id, []):
            entry = {
                "id": len(annotations) + 1,
                "image_id": image_id,
                "category_id": category[obj.label],
                "bbox": [_num(v) for v in obj.box],
                "area": _area(obj, row),
                "iscrowd": int(obj.iscrowd),
                "segmentation": _segmentation(obj),
            }
            if obj.score is not None:
                entry["score"] = obj.score
            annotations.append(entry)
    categories = [{"id": category[name], "name": name} for name in classes]
    data = {"images": images, "annotations": annotations, "categories": categories}
    return json.dumps(data, separators=(",", ":")).encode("utf-8")


def _segmentation(obj: ObjectRow) -> list | dict:
    if obj.mask is None:
        return []
    if "polygons" in obj.mask:
        return [[_num(v) for v in polygon] for polygon in obj.mask["polygons"]]
    return dict(obj.mask["rle"])


def _area(obj: ObjectRow, row: SampleRow) -> float:
    """The mask's area when there is one (pycocotools), else the box's."""
    if obj.mask is None:
        return _num(obj.w * obj.h)
    from pycocotools import mask as mask_utils

    if "polygons" in obj.mask:
        rles = mask_utils.frPyObjects(obj.mask["polygons"], row.height, row.width)
        return float(mask_utils.area(mask_utils.merge(rles)))
    rle = obj.mask["rle"]
    return float(mask_utils.area({"size": rle["size"], "counts": rle["counts"].encode("ascii")}))


def _num(value: float) -> float:
    """A coordinate rounded to 1/1000 pixel (an integer when it is one)."""
    value = round(float(value), 3)
    return int(value) if value.is_integer() else value


def _yolo(row: SampleRow, objects: list[ObjectRow], codes: dict[str, int]) -> bytes:
    width, height = float(row.width or 1), float(row.height or 1)
    lines = []
    for obj in objects:
        cx, cy = (obj.x + obj.w / 2) / width, (obj.y + obj.h / 2) / height
        w, h = obj.w / width, obj.h / height
        lines.append(f"{codes[obj.label]} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}\n")
    return "".join(lines).encode("utf-8")


def _data_yaml(splits: list[str], classes: list[str]) -> bytes:
    import yaml

    # No "path": Ultralytics then reads the folders beside this file.
    data = {
        "train": "images/train",
        "val": "images/val" if "val" in splits else "images/train",
        "names": dict(enumerate(classes)),
    }
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode("utf-8")


def _voc(row: SampleRow, objects: list[ObjectRow]) -> bytes:
    root = ElementTree.Element("annotation")
    ElementTree.SubElement(root, "folder").text = "JPEGImages"
    ElementTree.SubElement(root, "filename").text = posixpath.basename(row.name)
    size = ElementTree.SubElement(root, "size")
    ElementTree.SubElement(size, "width").text = str(row.width)
    ElementTree.SubElement(size, "height").text = str(row.height)
    ElementTree.SubElement(size, "depth").text = "3"
    ElementTree.SubElement(root, "segmented").text = "0"
    for obj in objects:
        element = ElementTree.SubElement(root, "object")
        ElementTree.SubElement(element, "name").text = obj.label
        ElementTree.SubElement(element, "pose").text = "Unspecified"
        ElementTree.SubElement(element, "truncated").text = "0"
        ElementTree.SubElement(element, "difficult").text = "1" if obj.iscrowd else "0"
        box = ElementTree.SubElement(element, "bndbox")
        corners = (obj.x, obj.y, obj.x + obj.w, obj.y + obj.h)
        for key, value in zip(("xmin", "ymin", "xmax", "ymax"), corners, strict=True):
            ElementTree.SubElement(box, key).text = str(round(value))
        if obj.score is not None:
            ElementTree.SubElement(element, "score").text = f"{obj.score:g}"
    ElementTree.indent(root)
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=False) + b"\n"
