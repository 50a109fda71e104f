"""Object embeddings on generated scenes: one row per object, one decode per image, the right
pixels, resume, live rows, and object sets kept apart from the active image set."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from app.core.data.images import load_rgb
from app.core.embeddings import crops as crops_module
from app.core.embeddings.crops import crop_bounds, cut_crop
from app.core.embeddings.embed import EmbedConfig, _forward, embed_job, load_embedder
from app.core.embeddings.objects import CropConfig, object_embed_job
from app.core.errors import JobCancelled, SieveError
from app.core.jobs import CancelToken, Progress, run_job
from app.core.store.embedding_sets import (
    active_embedding_set,
    active_object_set,
    get_embedding_set,
)
from app.core.store.objects import delete_source, object_arrays
from app.core.store.project import Project
from tests.factories import free_port
from tests.scenes import make_scene_project, store_scenes

CONFIG = EmbedConfig(backbone="resnet18", image_size=32, batch_size=4, device="cpu")
ALL_SIZES = CropConfig(min_size=0)


@pytest.fixture()
def scenes(tmp_path: Path):
    project, shapes = make_scene_project(tmp_path / "data", n_images=6, per_image=3)
    yield project, shapes
    project.close()


def embed_objects(project, crops=ALL_SIZES, config=CONFIG, **kwargs):
    progress: list[Progress] = []
    result = run_job(
        object_embed_job(project, config, crops, CancelToken(), **kwargs), progress.append
    )
    return result, progress


def test_an_object_set_has_one_row_per_object_with_object_ids(scenes):
    project, shapes = scenes
    objects = object_arrays(project, 1)
    embedding_set, progress = embed_objects(project)
    assert embedding_set.kind == "objects" and embedding_set.finished
    np.testing.assert_array_equal(embedding_set.ids(), np.sort(objects.ids))
    assert embedding_set.vectors().shape == (len(objects), 512)
    assert embedding_set.metrics["objects_too_small"] == 0
    assert any("crops/s" in p.message for p in progress)
    assert active_object_set(project).id == embedding_set.id
    assert active_embedding_set(project) is None  # an object set never becomes the image set
    entry = [e for e in project.embedding_runs() if e["id"] == embedding_set.id][0]
    assert entry["kind"] == "objects" and entry["active"]


def test_objects_under_min_size_are_left_out_and_counted(scenes):
    project, shapes = scenes
    widths = np.array([min(box[2], box[3]) for s in shapes for _, box in s])
    limit = float(np.median(widths))
    embedding_set, progress = embed_objects(project, CropConfig(min_size=limit))
    assert embedding_set.metrics["count"] == int((widths >= limit).sum())
    assert embedding_set.metrics["objects_too_small"] == int((widths < limit).sum())
    assert any("smaller than" in p.message for p in progress)


def test_each_image_is_decoded_once_however_many_objects_it_has(scenes, monkeypatch):
    project, shapes = scenes
    opened: list[str] = []

    def counting_load(path, draft_size=None):
        opened.append(Path(path).name)
        return load_rgb(path, draft_size)

    monkeypatch.setattr(crops_module, "load_rgb", counting_load)
    embed_objects(project, config=EmbedConfig(**{**CONFIG.__dict__, "batch_size": 2}))
    assert sorted(opened) == sorted(set(opened)) and len(opened) == len(shapes)


def test_a_row_is_its_padded_crop_through_the_backbone(scenes):
    project, shapes = scenes
    embedding_set, _ = embed_objects(project, CropConfig(padding=0.2, min_size=0))
    backbone, size = load_embedder(project, embedding_set)
    objects = object_arrays(project, 1)
    row = project.samples_by_id([int(objects.sample_ids[4])])[int(objects.sample_ids[4])]
    image = load_rgb(project.dataset_root / row.relpath)
    crop = cut_crop(image, objects.boxes[4].tolist(), 0.2, size)
    raw = _forward(backbone, torch.from_numpy(crop[None].copy()), size, torch.device("cpu"), None)
    expected = embedding_set.to_set_space(raw)[0]
    stored = embedding_set.vectors()[int(np.flatnonzero(embedding_set.ids() == objects.ids[4])[0])]
    np.testing.assert_allclose(stored, expected, atol=1e-4)


def test_crop_bounds_pad_and_clip_to_the_image():
    assert crop_bounds((10, 20, 10, 20), 0.1, 100, 100) == (9, 18, 21, 42)
    assert crop_bounds((0, 0, 10, 10), 0.5, 12, 12) == (0, 0, 12, 12)
    assert crop_bounds((200, 200, 10, 10), 0.1, 100, 100) is None


def test_a_stopped_object_job_resumes_with_its_finished_batches(scenes):
    project, _ = scenes
    cancel = CancelToken()
    job = object_embed_job(project, CONFIG, CropConfig(min_size=0), cancel)
    with pytest.raises(JobCancelled):
        for progress in job:
            if progress.message.startswith("embedded"):
                cancel.cancel()
    stopped = [s for s in project.embedding_runs() if s["kind"] == "objects"][-1]
    assert stopped["status"] == "stopped"
    resumed, progress = embed_objects(project, None, None, resume_set=stopped["id"])
    assert resumed.metrics["batches_kept"] >= 1
    fresh, _ = embed_objects(project)
    np.testing.assert_allclose(resumed.vectors(), fresh.vectors(), atol=1e-5)


def test_live_rows_follow_deleted_objects_and_images(scenes):
    project, shapes = scenes
    embedding_set, _ = embed_objects(project)
    first = project.samples()[0]
    (project.dataset_root / first.relpath).unlink()
    from app.core.ingest.indexing import IndexOptions, index_job

    run_job(index_job(project, IndexOptions(), CancelToken()))
    live = embedding_set.live(project)
    assert live.dropped == len(shapes[0]) and "objects dropped" in live.note
    objects = object_arrays(project, 1)
    assert set(live.ids.tolist()) == set(objects.ids[objects.sample_ids != first.id].tolist())
    delete_source(project, "ground_truth")
    with pytest.raises(SieveError, match="none of the .* objects"):
        get_embedding_set(project, embedding_set.id).live(project)


def test_image_embedding_keeps_its_active_set_beside_object_sets(scenes):
    project, _ = scenes
    images = run_job(embed_job(project, CONFIG, CancelToken()))
    objects, _ = embed_objects(project)
    assert active_embedding_set(project).id == images.id
    assert active_object_set(project).id == objects.id


def test_without_annotations_object_embedding_says_what_to_do(tmp_path):
    project, _ = make_scene_project(tmp_path / "data", n_images=2)
    delete_source(project, "ground_truth")
    with pytest.raises(SieveError, match="import-annotations"):
        embed_objects(project)
    store_scenes(project, [[], []])
    with pytest.raises(SieveError, match="no objects"):
        embed_objects(project)
    project.close()


def _torchrun_worker(rank: int, world: int, port: int, project_dir: str, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        with Project.open(project_dir) as project:
            result = run_job(object_embed_job(project, CONFIG, ALL_SIZES, CancelToken()))
            Path(out, f"rank-{rank}.json").write_text(json.dumps(result.id))
    finally:
        dist.destroy_process_group()


def test_torchrun_shards_object_batches_into_the_single_process_result(scenes, tmp_path):
    project, _ = scenes
    single, _ = embed_objects(project)
    mp.spawn(
        _torchrun_worker,
        args=(2, free_port(), str(project.path), str(tmp_path)),
        nprocs=2,
        join=True,
    )
    ids = [json.loads((tmp_path / f"rank-{r}.json").read_text()) for r in (0, 1)]
    assert ids == [single.id + 1, single.id + 1]
    sharded = get_embedding_set(project, single.id + 1)
    assert sharded.kind == "objects" and sharded.metrics["world"] == 2
    np.testing.assert_array_equal(sharded.ids(), single.ids())
    np.testing.assert_allclose(sharded.vectors(), single.vectors(), atol=1e-5)


def test_a_quick_look_embeds_objects_too(scenes):
    from app.core.embeddings.embed import quick_config

    project, _ = scenes
    embedding_set, _ = embed_objects(project, config=quick_config(device="cpu", batch_size=8))
    assert embedding_set.kind == "objects" and embedding_set.config["quick"]
    assert embedding_set.metrics["count"] == len(object_arrays(project, 1))


def test_crop_batches_keep_each_images_objects_together():
    from app.core.embeddings.crops import plan_crops
    from app.core.store.objects import ObjectArrays

    samples = np.array([1, 1, 1, 2, 3, 3, 4, 5, 5, 5], dtype=np.int64)
    boxes = np.full((10, 4), 20, dtype=np.float32)
    boxes[4, 2] = 3  # too small
    objects = ObjectArrays(
        np.arange(10, dtype=np.int64) + 100,
        samples,
        np.zeros(10, np.int32),
        ("a",),
        boxes,
        np.full(10, np.nan, np.float32),
    )
    plan = plan_crops(objects, {1, 2, 3, 5}, batch_size=2, min_size=8)
    assert [batch.sample_ids.tolist() for batch in plan.batches] == [[1, 1, 1], [2, 3], [5, 5, 5]]
    assert plan.too_small == 1 and plan.off_samples == 1 and plan.count == 8
    assert [item.id for item in plan.batches[1]] == [103, 105]


def test_a_quick_look_of_objects_takes_the_side_of_its_weights(
    scenes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.core.embeddings.embed import quick_config
    from app.core.embeddings.quick import QUICK_SIZE

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))  # no ImageNet weights
    project, _ = scenes
    embedding_set, _ = embed_objects(project, config=quick_config(device="cpu", batch_size=8))
    assert embedding_set.config["quick"] and embedding_set.config["weights"] == "random"
    assert embedding_set.config["image_size"] == QUICK_SIZE
    assert embedding_set.vectors().shape == (len(object_arrays(project, 1)), 512)
