"""Training on object crops: the crops stand in for images, with object classes as labels;
``sieve train --objects`` trains on them and its backbone embeds the objects."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from app.cli.entry import main
from app.core.data.images import load_rgb
from app.core.embeddings.crops import cut_crop
from app.core.jobs import CancelToken, run_job
from app.core.ssl.data import cache_side
from app.core.ssl.object_crops import train_crops_job
from app.core.store.objects import ground_truth, object_arrays
from tests.scenes import make_scene_project

TINY = [
    "--image-size",
    "16",
    "--batch-size",
    "8",
    "--device",
    "cpu",
    "--backbone",
    "resnet18_small",
]


def test_the_training_crops_are_the_objects_with_their_classes(tmp_path: Path):
    project, shapes = make_scene_project(tmp_path / "data", n_images=4, per_image=3)
    with project:
        images = run_job(train_crops_job(project, "auto", 16, CancelToken()))
        objects = object_arrays(project, ground_truth(project).id)
        side = cache_side(16)
        kept = np.isin(objects.ids, images.ids)
        assert images.pixels.shape == (int(kept.sum()), side, side, 3)
        assert images.label_names == list(objects.classes)
        np.testing.assert_array_equal(images.labels, objects.labels[kept])
        first = project.samples()[0]
        crop = cut_crop(load_rgb(project.dataset_root / first.relpath), objects.boxes[0], 0.1, side)
        np.testing.assert_array_equal(images.pixels[0], crop)


def test_sieve_train_objects_trains_on_crops_and_embeds_them(tmp_path: Path, capsys):
    project, _ = make_scene_project(tmp_path / "data", n_images=6, per_image=3)
    project.close()
    root = str(tmp_path / "data")
    args = ["train", root, "--objects", "--epochs", "1", "--checkpoint-every", "0", *TINY]
    assert main(args) == 0, capsys.readouterr().err
    assert "run 1 finished" in capsys.readouterr().out
    from app.core.store.project import Project

    with Project.open(root) as opened:
        (run,) = [r for r in opened.runs() if r["kind"] != "embed"]
        assert run["config"]["objects"] == "auto"
    assert main(["embed", root, "--objects", "--run", "1", "--device", "cpu"]) == 0
    capsys.readouterr()
    assert main(["info", root, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    (entry,) = [e for e in info["embeddings"] if e["kind"] == "objects"]
    assert entry["status"] == "finished" and "run 1" in entry["source"]
