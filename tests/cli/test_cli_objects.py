"""Object commands on generated scenes: embed --objects, neighbors --object, duplicates
--objects, object-label-errors, rare-objects, select --objects and the export of its images."""

from __future__ import annotations

import json
import shutil

import pytest

from app.cli.entry import main
from app.core.ingest.indexing import IndexOptions, index_job
from app.core.jobs import CancelToken, run_job
from app.core.store.objects import ground_truth, object_arrays
from app.core.store.project import Project
from tests.scenes import CLASSES, make_scene_project, store_scenes

QUICK = ["--backbone", "resnet18", "--image-size", "32", "--device", "cpu", "--batch-size", "32"]


@pytest.fixture(scope="module")
def scenes_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """30 scenes of 4 shapes over 8 classes plus an exact copy of the first scene, embedded."""
    root = tmp_path_factory.mktemp("scenes") / "data"
    project, shapes = make_scene_project(root, n_images=30, per_image=4, classes=CLASSES)
    shutil.copy(root / "scene-0000.png", root / "copy.png")
    run_job(index_job(project, IndexOptions(), CancelToken()))
    store_scenes(project, [shapes[0], *shapes])  # copy.png sorts first
    project.close()
    assert main(["embed", str(root), "--objects", "--min-size", "0", *QUICK]) == 0
    return str(root)


def truth(project: Project):
    return object_arrays(project, ground_truth(project).id)


def run_json(capsys, *args: str) -> dict:
    capsys.readouterr()
    assert main(list(args)) == 0
    return json.loads(capsys.readouterr().out)


def test_embed_objects_makes_an_object_set_listed_with_its_kind(scenes_dir, capsys):
    info = run_json(capsys, "info", scenes_dir, "--json")
    (entry,) = info["embeddings"]
    assert entry["kind"] == "objects" and entry["count"] == 124 and entry["active"]
    listing = run_json(capsys, "embeddings", scenes_dir, "--json")
    assert listing["active"] is None and listing["active_objects"] == entry["id"]
    assert listing["sets"][0]["kind"] == "objects"


def test_neighbors_of_an_object_lists_objects_with_class_image_and_disagreement(scenes_dir, capsys):
    with Project.open(scenes_dir) as project:
        objects = truth(project)
        query = int(objects.ids[10])
    found = run_json(capsys, "neighbors", scenes_dir, "--object", str(query), "-k", "5", "--json")
    assert found["query"]["object"] == query
    assert len(found["neighbors"]) == 5 and query not in [n["object"] for n in found["neighbors"]]
    differ = sum(n["class"] != found["query"]["class"] for n in found["neighbors"])
    assert found["label_disagreement"] == pytest.approx(differ / 5)
    with Project.open(scenes_dir) as project:
        by_id = {int(i): int(c) for i, c in zip(objects.ids, objects.labels, strict=True)}
        for entry in found["neighbors"]:
            assert entry["class"] == objects.classes[by_id[entry["object"]]]
    capsys.readouterr()
    assert main(["neighbors", scenes_dir, "--object", "99999"]) == 1
    assert "not in object set" in capsys.readouterr().err


def test_duplicates_objects_groups_the_copied_scenes_objects(scenes_dir, capsys):
    found = run_json(
        capsys, "duplicates", scenes_dir, "--objects", "--threshold", "0.999", "--json"
    )
    pairs = {
        (group["keep"]["image"], copy["image"], group["keep"]["box"] == copy["box"])
        for group in found["groups"]
        for copy in group["duplicates"]
    }
    assert ("copy.png", "scene-0000.png", True) in pairs
    assert len(found["groups"]) >= 4


def test_object_label_errors_and_rare_objects_store_their_scores(scenes_dir, capsys):
    errors = run_json(capsys, "object-label-errors", scenes_dir, "-k", "5", "--min", "0", "--json")
    assert errors["k"] == 5 and errors["objects"]
    values = [entry["label_disagreement"] for entry in errors["objects"]]
    assert values == sorted(values, reverse=True) and all(0 <= v <= 1 for v in values)
    rare = run_json(capsys, "rare-objects", scenes_dir, "--json")
    assert rare["images"] == 31 and rare["top"][0]["rare_objects"] > rare["top"][-1]["rare_objects"]


def test_select_objects_balances_classes_and_exports_their_images(scenes_dir, capsys, tmp_path):
    picked = run_json(
        capsys,
        "select",
        scenes_dir,
        "--objects",
        "--n",
        "16",
        "--balance",
        "label:uniform",
        "--name",
        "boxes",
        "--json",
    )
    assert picked["kind"] == "objects" and picked["count"] == 16
    assert sorted(picked["labels"]) == sorted(CLASSES)
    assert all(count == 2 for count in picked["labels"].values())
    listing = run_json(capsys, "selections", scenes_dir, "--json")
    entry = [e for e in listing if e["name"] == "boxes"][0]
    assert entry["kind"] == "objects" and entry["labels"] == picked["labels"]
    capsys.readouterr()
    assert main(["selections", scenes_dir]) == 0
    assert f"boxes\t{len(picked['samples'])} images (16 objects)" in capsys.readouterr().out
    out = tmp_path / "images.txt"
    main(["export", scenes_dir, "--selection", "boxes", "--format", "txt", "--out", str(out)])
    assert out.read_text().split() == picked["samples"]
    with Project.open(scenes_dir) as project:
        objects = truth(project)
        rows = project.samples_by_id(objects.sample_ids.tolist())
        on = {
            int(i): rows[int(s)].name for i, s in zip(objects.ids, objects.sample_ids, strict=True)
        }
    assert set(picked["samples"]) == {on[i] for i in picked["objects"]}


def test_object_flags_refuse_what_does_not_fit(scenes_dir, capsys, tmp_path):
    capsys.readouterr()
    assert main(["embed", scenes_dir, "--source", "ground_truth", *QUICK]) == 1
    assert "--objects" in capsys.readouterr().err
    assert main(["embed", scenes_dir, "--objects", "--source", "nothing", *QUICK]) == 1
    assert "no annotation source named 'nothing'" in capsys.readouterr().err
    other = make_scene_project(tmp_path / "other", n_images=2)[0]
    other.close()
    assert main(["select", str(tmp_path / "other"), "--objects", "--n", "2", "--name", "x"]) == 1
    assert "sieve embed --objects" in capsys.readouterr().err


def test_a_stopped_object_set_resumes_only_as_objects(tmp_path, capsys):
    from app.core.embeddings.embed import EmbedConfig
    from app.core.embeddings.objects import CropConfig, object_embed_job
    from app.core.errors import JobCancelled

    project, _ = make_scene_project(tmp_path / "data", n_images=3)
    cancel = CancelToken()
    config = EmbedConfig(backbone="resnet18", image_size=32, batch_size=2, device="cpu")
    try:
        for progress in object_embed_job(project, config, CropConfig(min_size=0), cancel):
            if progress.message.startswith("embedded"):
                cancel.cancel()
    except JobCancelled:
        pass
    project.close()
    root = str(tmp_path / "data")
    capsys.readouterr()
    assert main(["embed", root, "--resume", "1"]) == 1
    assert "is a set of objects: resume it with --objects" in capsys.readouterr().err
    assert main(["embed", root, "--objects", "--resume", "1"]) == 0
    assert "object set 1" in capsys.readouterr().out
