"""`sieve import-annotations`, `sieve info --json`'s objects and `sieve export --format
coco|yolo|voc` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from app.cli.entry import main
from tests.annotation_files import SIZES, coco_dict, indexed_project, write_coco, write_voc


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    with indexed_project(tmp_path / "data") as project:
        return project.dataset_root


def _info(data: Path, capsys) -> dict:
    assert main(["info", str(data), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_import_then_info_lists_objects_and_sources(data, tmp_path, capsys) -> None:
    assert _info(data, capsys)["objects"] == 0
    labels = write_coco(tmp_path / "labels.json")
    assert main(["import-annotations", str(data), str(labels), "--format", "coco"]) == 0
    assert "imported 6 objects on 4 images as 'ground_truth'" in capsys.readouterr().out
    voc = write_voc(tmp_path / "voc")
    assert main(["import-annotations", str(data), str(voc), "--format", "voc", "--name", "v"]) == 0
    capsys.readouterr()
    info = _info(data, capsys)
    assert info["objects"] == 6
    assert info["object_labels"] == {"bird": 1, "cat": 3, "dog": 2}
    assert [
        (s["name"], s["kind"], s["format"], s["objects"]) for s in info["annotation_sources"]
    ] == [
        ("ground_truth", "ground_truth", "coco", 6),
        ("v", "ground_truth", "voc", 6),
    ]
    assert main(["info", str(data)]) == 0
    assert "objects  ground_truth: 6 (ground_truth, coco, 3 classes)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"images": [\n\n  {"id": 1,,}]}', "bad.json: line 3 column 12: broken json"),
        (None, "bad.json: annotations[1] (id 2): unknown category_id 42"),
    ],
)
def test_a_bad_file_is_one_line_and_changes_nothing(
    data, tmp_path, capsys, content, expected
) -> None:
    assert (
        main(
            [
                "import-annotations",
                str(data),
                str(write_coco(tmp_path / "ok.json")),
                "--format",
                "coco",
            ]
        )
        == 0
    )
    capsys.readouterr()
    before = _info(data, capsys)
    bad = tmp_path / "bad.json"
    if content is None:
        broken = coco_dict()
        broken["annotations"][1]["category_id"] = 42
        content = json.dumps(broken)
    bad.write_text(content)
    assert main(["import-annotations", str(data), str(bad), "--format", "coco"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("sieve: error: ") and error.count("\n") == 1
    assert expected in error
    assert _info(data, capsys) == before


def test_export_formats_with_a_tag_and_a_split(data, tmp_path, capsys) -> None:
    write_coco(tmp_path / "labels.json")
    assert (
        main(["import-annotations", str(data), str(tmp_path / "labels.json"), "--format", "coco"])
        == 0
    )
    names = tmp_path / "names.txt"
    names.write_text("".join(f"{name}\n" for name in SIZES))
    assert main(["tag", str(data), "all", "--samples", str(names)]) == 0
    for fmt in ("coco", "yolo", "voc"):
        out = tmp_path / f"out-{fmt}"
        args = ["export", str(data), "--tag", "all", "--format", fmt, "--out", str(out)]
        assert main([*args, "--val-fraction", "0.5"]) == 0
    capsys.readouterr()
    train = json.loads((tmp_path / "out-coco/annotations/instances_train.json").read_text())
    val = json.loads((tmp_path / "out-coco/annotations/instances_val.json").read_text())
    assert len(train["images"]) + len(val["images"]) == 4
    assert len(train["annotations"]) + len(val["annotations"]) == 6
    assert yaml.safe_load((tmp_path / "out-yolo/data.yaml").read_text())["names"] == {
        0: "dog",
        1: "cat",
        2: "bird",
    }
    labels = sorted((tmp_path / "out-yolo/labels").rglob("*.txt"))
    assert len(labels) == 4 and sum(len(p.read_text().splitlines()) for p in labels) == 6
    assert len(list((tmp_path / "out-voc/Annotations").rglob("*.xml"))) == 4
    inside = ["export", str(data), "--tag", "all", "--format", "yolo", "--out", str(data / "x")]
    assert main(inside) == 1
    assert "refused" in capsys.readouterr().err and not (data / "x").exists()


def test_annotation_options_need_an_annotation_format(data, tmp_path, capsys) -> None:
    args = ["export", str(data), "--tag", "x", "--format", "copy", "--out", str(tmp_path / "o")]
    assert main([*args, "--link"]) == 1
    assert "--link goes with --format coco, yolo or voc, not copy" in capsys.readouterr().err
