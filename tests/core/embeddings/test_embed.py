"""Embedding a tiny project: vectors, broken files, resume, trained runs, torchrun shards."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from PIL import Image

from app.core.embeddings.embed import EmbedConfig, embed_image_file, embed_job, load_embedder
from app.core.errors import JobCancelled, SieveError
from app.core.ingest.indexing import IndexOptions, index_job
from app.core.jobs import CancelToken, Progress, run_job
from app.core.ssl.augment import IMAGENET_MEAN, IMAGENET_STD
from app.core.ssl.backbones import build_backbone
from app.core.ssl.config import TrainConfig
from app.core.ssl.data import train_images_job
from app.core.ssl.trained import trained_backbone
from app.core.ssl.trainer import train_job
from app.core.store.embedding_sets import EmbeddingSet, get_embedding_set
from app.core.store.project import Project
from tests.factories import free_port, gradient, make_dataset, write_clip, write_image

CONFIG = EmbedConfig(backbone="resnet18", image_size=32, batch_size=4, device="cpu")
BATCHES = 4  # 15 samples in batches of 4


def make_project(root: Path) -> Project:
    """10 images, a copy of the first one and a 4-frame clip: 15 samples."""
    make_dataset(root, {"a": 5, "b": 5})
    write_image(root / "z" / "twin.png", gradient(seed=0))
    write_clip(root / "clips" / "walk.mp4", frames=4)
    project = Project.for_dataset(root)
    run_job(index_job(project, IndexOptions(), CancelToken()))
    return project


@pytest.fixture()
def project(tmp_path: Path):
    project = make_project(tmp_path / "data")
    yield project
    project.close()


def embed(
    project: Project, config: EmbedConfig | None = CONFIG, **kwargs
) -> tuple[EmbeddingSet, list[Progress]]:
    progress: list[Progress] = []
    result = run_job(embed_job(project, config, CancelToken(), **kwargs), progress.append)
    return result, progress


def vector_of(embedding_set: EmbeddingSet, sample_id: int) -> np.ndarray:
    row = int(np.flatnonzero(embedding_set.ids() == sample_id)[0])
    return np.asarray(embedding_set.vectors()[row])


def sample_id(project: Project, relpath: str) -> int:
    return next(row.id for row in project.samples() if row.relpath == relpath)


def apply_by_hand(backbone: torch.nn.Module, path: Path, side: int, size: int) -> np.ndarray:
    """Training's evaluation transform written out: squash to ``side``, resize, normalise."""
    image = Image.open(path).convert("RGB")
    square = image.resize((side, side), Image.Resampling.BILINEAR, reducing_gap=3.0)
    x = torch.from_numpy(np.asarray(square).copy()).permute(2, 0, 1)[None].float() / 255
    if side != size:
        x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", antialias=True)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        return torch.nn.functional.normalize(backbone((x - mean) / std), dim=1)[0].numpy()


def test_every_sample_gets_one_unit_float32_vector(project):
    embedding_set, progress = embed(project)

    samples = project.samples(status="ok")
    assert len(samples) == 15 and sum(row.kind == "frame" for row in samples) == 4
    vectors = embedding_set.vectors()
    assert vectors.dtype == np.float32 and vectors.shape == (15, 512)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedding_set.ids().tolist() == sorted(row.id for row in samples)
    assert embedding_set.finished and embedding_set.metrics["skipped"] == []
    assert "quick look" in embedding_set.config["source"]
    assert not (embedding_set.folder / "partial").exists()
    assert [p.done for p in progress if p.stage == "embedding"] == [0, 4, 8, 12, 15]
    assert "images/s" in progress[-1].message
    assert len({tuple(np.round(v, 4)) for v in vectors}) == 14  # only the twin repeats


def test_the_same_image_twice_gets_the_same_vector(project):
    embedding_set, _ = embed(project)

    first = vector_of(embedding_set, sample_id(project, "a/000.png"))
    twin = vector_of(embedding_set, sample_id(project, "z/twin.png"))
    np.testing.assert_allclose(first, twin, atol=1e-5)


def test_a_broken_image_is_skipped_and_listed(project):
    broken = sample_id(project, "b/002.png")
    (project.dataset_root / "b" / "002.png").write_bytes(b"not a png any more")

    embedding_set, _ = embed(project)

    assert broken not in embedding_set.ids().tolist()
    assert len(embedding_set.ids()) == 14
    [message] = embedding_set.metrics["skipped"]
    assert message.startswith("b/002.png: ")


def test_stop_then_resume_keeps_finished_batches(project):
    uninterrupted, _ = embed(project)
    cancel = CancelToken()
    stopped_after = []

    def stop_after_two(progress: Progress) -> None:
        if progress.done:
            stopped_after.append(progress.done)
        if len(stopped_after) == 2:
            cancel.cancel()

    with pytest.raises(JobCancelled):
        run_job(embed_job(project, CONFIG, cancel), stop_after_two)
    stopped = get_embedding_set(project, uninterrupted.id + 1)
    assert stopped.status == "stopped"
    assert sorted(p.name for p in (stopped.folder / "partial").glob("*.npz")) == [
        "batch-0.npz",
        "batch-1.npz",
    ]
    with pytest.raises(SieveError, match="other settings"):
        embed(project, replace(CONFIG, image_size=16), resume_set=stopped.id)

    resumed, progress = embed(project, None, resume_set=stopped.id)

    assert resumed.id == stopped.id and resumed.finished
    assert resumed.metrics["batches_kept"] == 2 and resumed.metrics["batches_computed"] == 2
    assert [p.done for p in progress if p.stage == "embedding"] == [8, 12, 15]
    np.testing.assert_array_equal(resumed.ids(), uninterrupted.ids())
    np.testing.assert_allclose(resumed.vectors(), uninterrupted.vectors(), atol=1e-5)
    with pytest.raises(SieveError, match="finished already"):
        embed(project, None, resume_set=stopped.id)


def test_a_fresh_training_cache_is_used_instead_of_the_files(project):
    from_files, _ = embed(project)
    images = run_job(train_images_job(project, 32, CancelToken()))
    from_cache, _ = embed(project)
    np.testing.assert_allclose(from_cache.vectors(), from_files.vectors(), atol=1e-5)

    pixels_path = project.path / "cache" / "train-32.npy"
    np.save(pixels_path, np.zeros_like(np.asarray(images.pixels)))
    blank, _ = embed(project)
    np.testing.assert_allclose(blank.vectors(), blank.vectors()[:1].repeat(15, 0), atol=1e-5)


def test_a_trained_run_embeds_as_its_backbone_applied_by_hand(project):
    train = TrainConfig(
        method="simclr",
        backbone="resnet18",
        image_size=16,
        epochs=1,
        batch_size=8,
        device="cpu",
        holdout=0,
        knn_every=0,
    )
    run_job(train_job(project, train, CancelToken()))

    embedding_set, _ = embed(project, EmbedConfig(batch_size=4, device="cpu"))

    assert embedding_set.config["source"] == "run 1 (simclr, resnet18, 16 px)"
    assert embedding_set.config["run"] == 1 and embedding_set.config["image_size"] == 16
    backbone, _ = trained_backbone(project, 1)
    path = project.dataset_root / "b" / "003.png"
    by_hand = apply_by_hand(backbone, path, side=16, size=16)
    stored = vector_of(embedding_set, sample_id(project, "b/003.png"))
    np.testing.assert_allclose(stored, embedding_set.to_set_space(by_hand)[0], atol=1e-4)
    rebuilt, size = load_embedder(project, embedding_set)
    assert size == 16
    from_file = embedding_set.to_set_space(embed_image_file(rebuilt, size, path))[0]
    np.testing.assert_allclose(from_file, stored, atol=1e-4)


def test_small_images_are_upsampled_as_the_training_monitor_does(tmp_path):
    torch.manual_seed(0)
    backbone = build_backbone("resnet18", None, 32).eval()
    path = write_image(tmp_path / "small.png", gradient(20, 12))

    vector = embed_image_file(backbone, 32, path, side=16)

    by_hand = apply_by_hand(backbone, path, side=16, size=32)
    assert vector.dtype == np.float32 and vector.shape == (512,)
    np.testing.assert_allclose(vector, by_hand, atol=1e-5)
    own_size = apply_by_hand(backbone, path, side=20, size=32)  # never upsampled by PIL
    np.testing.assert_allclose(embed_image_file(backbone, 32, path), own_size, atol=1e-5)


def test_imagenet_offline_says_it_embeds_with_random_init(project, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_torch_home"))
    closed = f"http://127.0.0.1:{free_port()}"
    for name in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY"):
        monkeypatch.setenv(name, closed)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)

    fallback, progress = embed(project, replace(CONFIG, weights="imagenet"))

    assert any("random init" in p.message for p in progress)
    assert fallback.config["weights"] == "none" and "quick look" in fallback.config["source"]
    random_init, _ = embed(project)
    np.testing.assert_allclose(fallback.vectors(), random_init.vectors(), atol=1e-6)


def _torchrun_worker(rank: int, world: int, port: int, project_dir: str, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        with Project.open(project_dir) as project:
            progress: list[Progress] = []
            result = run_job(embed_job(project, CONFIG, CancelToken()), progress.append)
            batches = sum(1 for p in progress if p.done and p.message.startswith("embedded"))
            Path(out, f"rank-{rank}.json").write_text(json.dumps([result.id, batches]))
    finally:
        dist.destroy_process_group()


def test_torchrun_shards_merge_into_the_single_process_result(project, tmp_path):
    single, _ = embed(project)

    mp.spawn(
        _torchrun_worker,
        args=(2, free_port(), str(project.path), str(tmp_path)),
        nprocs=2,
        join=True,
    )

    reports = [json.loads((tmp_path / f"rank-{r}.json").read_text()) for r in (0, 1)]
    assert reports == [[single.id + 1, 2], [single.id + 1, 2]]
    sharded = get_embedding_set(project, single.id + 1)
    assert sharded.finished and sharded.metrics["world"] == 2
    assert sharded.metrics["batches_computed"] == BATCHES
    np.testing.assert_array_equal(sharded.ids(), single.ids())
    np.testing.assert_allclose(sharded.vectors(), single.vectors(), atol=1e-5)
