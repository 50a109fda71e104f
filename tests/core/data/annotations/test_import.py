"""Importing COCO, YOLO and VOC labels: what is stored, how files match samples, and what is
refused (with the file and line, the project left as it was)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from app.core.data.annotations.importing import import_annotations_job
from app.core.errors import SieveError
from app.core.jobs import run_job
from app.core.store import objects as store
from app.core.store.project import Project
from tests.annotation_files import (
    CATEGORY_IDS,
    SIZES,
    assert_same_boxes,
    boxes_of,
    coco_dict,
    indexed_project,
    stored_boxes,
    voc_xml,
    write_coco,
    write_voc,
    write_yolo,
)
from tests.factories import gradient, write_image


@pytest.fixture()
def project(tmp_path: Path):
    with indexed_project(tmp_path / "data") as project:
        yield project


def _import(project: Project, source: Path, fmt: str, **options):
    return run_job(import_annotations_job(project, source, fmt, **options))


def _refused(project: Project, source: Path, fmt: str, *expected: str) -> str:
    """Import, expect a one-line error naming ``expected``, and nothing stored."""
    before = store.annotation_summary(project)
    with pytest.raises(SieveError) as caught:
        _import(project, source, fmt, name="attempt")
    message = str(caught.value)
    assert "\n" not in message and "nothing imported" in message
    for text in expected:
        assert text in message
    assert store.annotation_summary(project) == before
    return message


def test_coco_boxes_are_stored_in_class_order(project, tmp_path) -> None:
    report = _import(project, write_coco(tmp_path / "labels.json"), "coco")
    assert (report.images, report.objects) == (4, 6)
    truth = store.ground_truth(project)
    assert truth.format == "coco" and truth.kind == "ground_truth"
    assert truth.classes == ("dog", "cat", "bird")  # category id order: 3, 7, 11
    assert_same_boxes(stored_boxes(project), boxes_of())
    summary = store.annotation_summary(project)
    assert summary["objects"] == 6
    assert summary["object_labels"] == {"bird": 1, "cat": 3, "dog": 2}


def test_coco_polygons_rle_masks_and_crowd_are_stored(project, tmp_path) -> None:
    data = coco_dict()
    polygon = [[2.0, 3.0, 22.0, 3.0, 22.0, 13.0]]
    data["annotations"][0]["segmentation"] = polygon
    width, height = SIZES["images/train/b.png"]
    bitmap = np.zeros((height, width), np.uint8, order="F")
    bitmap[12:18, 10:18] = 1
    compressed = mask_utils.encode(bitmap)
    uncompressed_counts = _uncompressed_counts(bitmap)
    data["annotations"][3]["segmentation"] = {
        "size": [height, width],
        "counts": uncompressed_counts,
    }
    data["annotations"][3]["iscrowd"] = 1
    data["annotations"][4]["segmentation"] = {
        "size": [height, width],
        "counts": compressed["counts"].decode(),
    }
    del data["annotations"][4]["bbox"]  # taken from the mask
    _import(project, write_coco(tmp_path / "masks.json", data), "coco")
    rows = {r.name: r.id for r in project.samples()}
    on_a = store.objects_of(project, rows["images/train/a.png"])
    assert on_a[0].mask == {"polygons": polygon} and on_a[1].mask is None
    on_b = store.objects_of(project, rows["images/train/b.png"])
    crowd = [o for o in on_b if o.iscrowd]
    assert len(crowd) == 1 and crowd[0].mask["rle"]["counts"] == compressed["counts"].decode()
    from_mask = on_b[2]
    assert from_mask.box == (10.0, 12.0, 8.0, 6.0)
    assert from_mask.mask["rle"]["size"] == [height, width]


def _uncompressed_counts(bitmap: np.ndarray) -> list[int]:
    flat = bitmap.flatten(order="F")
    counts, value, run = [], 0, 0
    for pixel in flat:
        if pixel != value:
            counts.append(run)
            value, run = pixel, 0
        run += 1
    counts.append(run)
    return [int(c) for c in counts]


def test_yolo_ultralytics_layout_is_scaled_to_pixels(project, tmp_path) -> None:
    folder = write_yolo(tmp_path / "yolo", "names:\n  0: cat\n  1: dog\n  2: bird\n")
    report = _import(project, folder, "yolo", name="yolo truth")
    assert report.objects == 6
    assert store.source(project, "yolo truth").classes == ("cat", "dog", "bird")
    assert_same_boxes(stored_boxes(project, "yolo truth"), boxes_of(), tolerance=0.001)


def test_yolo_labels_folder_with_classes_txt_mirrors_the_images(tmp_path) -> None:
    """Dataset root = the images folder; labels beside it with classes.txt one level up."""
    root = tmp_path / "set"
    with indexed_project(root / "pictures") as project:
        write_yolo(root / "tmp")
        labels = root / "labels"
        (root / "tmp" / "labels").rename(labels)
        (root / "classes.txt").write_text("cat\ndog\nbird\n")
        _import(project, labels, "yolo")
        expected = {f"images/{n.removeprefix('images/')}": b for n, b in boxes_of().items()}
        assert_same_boxes(stored_boxes(project), expected, tolerance=0.001)


def test_voc_folder(project, tmp_path) -> None:
    report = _import(project, write_voc(tmp_path / "voc"), "voc")
    assert report.objects == 6 and store.ground_truth(project).classes == ("bird", "cat", "dog")
    assert_same_boxes(stored_boxes(project), boxes_of())


def test_files_match_by_relative_path_then_by_name(project, tmp_path) -> None:
    names = {
        "images/train/a.png": "a.png",  # by name alone
        "images/val/sub/d.png": "val/sub/d.png",  # by the end of the path
        "images/val/c.jpg": str(project.dataset_root / "images/val/c.jpg"),  # absolute inside
    }
    _import(project, write_coco(tmp_path / "l.json", coco_dict(names)), "coco")
    assert_same_boxes(stored_boxes(project), boxes_of())


def test_a_name_several_samples_end_with_is_not_guessed(project, tmp_path) -> None:
    write_image(project.dataset_root / "elsewhere/a.png", gradient(64, 48, 9))
    from app.core.ingest.indexing import index_job

    run_job(index_job(project))
    path = write_coco(tmp_path / "l.json", coco_dict({"images/train/a.png": "a.png"}))
    _refused(
        project,
        path,
        "coco",
        "l.json: images[0] (a.png)",
        "several samples' paths end with 'a.png'",
    )


def test_several_sources_side_by_side_and_a_reimport_replaces(project, tmp_path) -> None:
    _import(project, write_coco(tmp_path / "l.json"), "coco")
    _import(project, write_voc(tmp_path / "voc"), "voc", name="voc copy")
    assert [s.name for s in store.sources(project)] == ["ground_truth", "voc copy"]
    data = coco_dict()
    data["annotations"] = data["annotations"][:2]
    _import(project, write_coco(tmp_path / "fewer.json", data), "coco")
    summary = store.annotation_summary(project)
    assert summary["objects"] == 2
    counts = {s["name"]: s["objects"] for s in summary["annotation_sources"]}
    assert counts == {"voc copy": 6, "ground_truth": 2}


def test_predictions_with_scores_from_coco_results_and_yolo(project, tmp_path) -> None:
    reference = write_coco(tmp_path / "gt.json")
    results = [
        {"image_id": 100, "category_id": CATEGORY_IDS["cat"], "bbox": [2, 3, 20, 10], "score": 0.9},
        {
            "image_id": 102,
            "category_id": CATEGORY_IDS["dog"],
            "bbox": [5, 6, 24, 30],
            "score": 0.25,
        },
    ]
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    _import(project, path, "coco", name="model", kind="predictions", reference=reference)
    source = store.source(project, "model")
    assert source.kind == "predictions"
    columns = store.object_arrays(project, source.id)
    assert sorted(columns.scores.tolist()) == pytest.approx([0.25, 0.9])
    folder = write_yolo(tmp_path / "yolo")
    label = folder / "labels/train/a.txt"
    label.write_text("0 0.5 0.5 0.25 0.5 0.75\n")
    _import(project, folder, "yolo", name="yolo model", kind="predictions")
    yolo = store.object_arrays(project, store.source(project, "yolo model").id)
    assert np.nanmax(yolo.scores) == pytest.approx(0.75)
    assert np.isnan(yolo.scores).sum() == 4


def test_a_results_list_needs_its_dataset_json(project, tmp_path) -> None:
    path = tmp_path / "results.json"
    path.write_text("[]")
    with pytest.raises(SieveError, match="results list"):
        _import(project, path, "coco")


def test_broken_json_names_its_line(project, tmp_path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"images": [\n  {"id": 1,}\n]}')
    before = store.annotation_summary(project)
    with pytest.raises(SieveError, match=r"broken.json: line 2 column 12: broken json"):
        _import(project, path, "coco")
    assert store.annotation_summary(project) == before


def test_bad_coco_entries_are_all_listed_and_nothing_is_stored(project, tmp_path) -> None:
    _import(project, write_coco(tmp_path / "good.json"), "coco")
    data = copy.deepcopy(coco_dict())
    data["annotations"][0]["category_id"] = 99
    data["annotations"][1]["bbox"] = [40, 30, 60, 10]  # beyond the 64 px wide image
    data["annotations"][2]["bbox"] = [1, 1, -3, 4]
    data["images"].append({"id": 5, "file_name": "images/train/nothere.png"})
    message = _refused(
        project,
        write_coco(tmp_path / "bad.json", data),
        "coco",
        "4 problems",
        "bad.json: annotations[0] (id 1): unknown category_id 99",
        "bad.json: annotations[1]",
        "outside the image (64 x 48)",
        "annotations[2] (id 3): bbox [1, 1, -3, 4] has a negative size",
        "no sample of the project is the image 'images/train/nothere.png'",
    )
    assert message.startswith("4 problems in ")
    assert store.annotation_summary(project)["objects"] == 6


def test_a_box_slightly_outside_is_clipped(project, tmp_path) -> None:
    data = coco_dict()
    data["annotations"][1]["bbox"] = [30, 20, 34.4, 28.3]  # 0.4 px beyond 64 x 48
    _import(project, write_coco(tmp_path / "l.json", data), "coco")
    rows = {r.name: r.id for r in project.samples()}
    boxes = [o.box for o in store.objects_of(project, rows["images/train/a.png"])]
    assert boxes[1] == pytest.approx((30, 20, 34, 28))


def test_a_size_other_than_the_image_is_refused(project, tmp_path) -> None:
    data = coco_dict()
    data["images"][0]["width"] = 640
    _refused(
        project, write_coco(tmp_path / "l.json", data), "coco", "size 640 x 48, but it is 64 x 48"
    )


def test_bad_yolo_lines_name_file_and_line(project, tmp_path) -> None:
    folder = write_yolo(tmp_path / "yolo")
    (folder / "labels/train/a.txt").write_text("0 0.5 0.5 0.1 0.1\n\n7 0.5 0.5 0.1 0.1\n")
    (folder / "labels/train/b.txt").write_text("1 0.5 0.5 0.1\n0 0.9 0.5 0.4 0.1\n0 .5 .5 -.1 .1\n")
    _refused(
        project,
        folder,
        "yolo",
        "4 problems",
        "labels/train/a.txt:3: unknown class id 7",
        "labels/train/b.txt:1: 4 values",
        "labels/train/b.txt:2: box outside the image",
        "labels/train/b.txt:3: negative size",
    )


def test_yolo_without_class_names_is_refused(project, tmp_path) -> None:
    folder = write_yolo(tmp_path / "yolo")
    (folder / "data.yaml").unlink()
    with pytest.raises(SieveError, match="no class names"):
        _import(project, folder, "yolo")
    assert store.sources(project) == []


def test_bad_voc_files_name_file_and_element(project, tmp_path) -> None:
    folder = write_voc(tmp_path / "voc")
    (folder / "train/a.xml").write_text(
        "<annotation>\n<filename>a.png</filename>\n<object><name>x</nam>"
    )
    bad = voc_xml("images/train/b.png", [("cat", (10, 10, 5, 5))], None).replace(
        "<xmax>15</xmax>", "<xmax>5</xmax>"
    )
    (folder / "train/b.xml").write_text(bad)
    _refused(
        project,
        folder,
        "voc",
        "train/a.xml:3: broken xml",
        "train/b.xml: <object> 1: cat: <bndbox> has a negative size",
    )


def test_an_image_not_indexed_or_broken_is_refused(project, tmp_path) -> None:
    (project.dataset_root / "images/train/z.png").write_bytes(b"not a png")
    from app.core.ingest.indexing import index_job

    run_job(index_job(project))
    data = coco_dict()
    data["images"].append({"id": 1, "file_name": "images/train/z.png"})
    _refused(
        project,
        write_coco(tmp_path / "l.json", data),
        "coco",
        "the image images/train/z.png is broken",
    )


def test_a_cancelled_import_stores_nothing(project, tmp_path) -> None:
    from app.core.errors import JobCancelled
    from app.core.jobs import CancelToken

    cancel = CancelToken()
    job = import_annotations_job(project, write_coco(tmp_path / "l.json"), "coco", cancel=cancel)
    next(job)
    cancel.cancel()
    with pytest.raises(JobCancelled):
        for _ in job:
            pass
    assert store.sources(project) == []


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('{"images": [], "annotations": [\n {"id": 1},\n {"id": 2,]\n}', "line 3 column 11"),
        ('{"annotations": [\n {"id": 1}\n {"id": 2}]}', "line 3 column 2"),
        ('{"images": []}\n{"more": 1}', "line 2 column 1"),
        ('[{"image_id": 1}', "line 1 column 17"),
    ],
)
def test_broken_json_anywhere_names_its_line(project, tmp_path, text, where) -> None:
    path = tmp_path / "broken.json"
    path.write_text(text)
    with pytest.raises(SieveError, match=f"broken.json: {where}: broken json"):
        _import(project, path, "coco", reference=write_coco(tmp_path / "gt.json"))
    assert store.sources(project) == []


def test_coco_in_its_usual_order_with_a_byte_order_mark(project, tmp_path) -> None:
    """Official COCO files list the categories after the annotations."""
    data = coco_dict()
    ordered = {key: data[key] for key in ("images", "annotations", "categories")}
    path = tmp_path / "ordered.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(ordered, indent=2).encode())
    _import(project, path, "coco")
    assert_same_boxes(stored_boxes(project), boxes_of())


def test_an_image_listed_but_not_indexed_yet_is_refused(project, tmp_path) -> None:
    with project.db:
        project.db.execute("UPDATE files SET pending = 1 WHERE relpath = 'images/val/c.jpg'")
    path = write_coco(tmp_path / "l.json")
    _refused(project, path, "coco", "images/val/c.jpg is not indexed yet", "run 'sieve index'")
