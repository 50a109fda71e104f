"""The trainer on a small slice of the demo dataset: runs, monitors, checkpoints, resumes."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from app.core.errors import JobCancelled, SieveError
from app.core.ingest.indexing import IndexOptions, index_job
from app.core.jobs import CancelToken, run_job
from app.core.paths import resources_dir
from app.core.ssl import trainer as trainer_module
from app.core.ssl.checkpoint import load_checkpoint
from app.core.ssl.config import TrainConfig
from app.core.ssl.data import cache_side, train_images_job
from app.core.ssl.runs import get_run, newest_finished_run
from app.core.ssl.trained import trained_backbone
from app.core.ssl.trainer import train_job
from app.core.store.project import Project
from tests.core.ssl.test_prefetch import FailingPixels

CLASSES = 3
PER_CLASS = 16


def make_demo_slice(root: Path, classes: int = CLASSES, per_class: int = PER_CLASS) -> Project:
    """A labelled project of the first ``per_class`` demo images of ``classes`` classes."""
    demo = resources_dir() / "demo"
    for folder in sorted(p for p in demo.iterdir() if p.is_dir())[:classes]:
        (root / folder.name).mkdir(parents=True)
        for image in sorted(folder.iterdir())[:per_class]:
            shutil.copy(image, root / folder.name / image.name)
    project = Project.for_dataset(root)
    run_job(index_job(project, IndexOptions(), CancelToken()))
    return project


@pytest.fixture()
def project(tmp_path: Path):
    project = make_demo_slice(tmp_path / "data")
    yield project
    project.close()


def tiny(**changes) -> TrainConfig:
    base = dict(
        method="simclr",
        backbone="resnet18",
        image_size=16,
        epochs=2,
        batch_size=16,
        checkpoint_every=2,
        holdout=0.25,
        device="cpu",
    )
    return TrainConfig(**{**base, **changes})


def train(project: Project, config: TrainConfig | None = None, **kwargs):
    progress = []
    result = run_job(train_job(project, config, **kwargs), progress.append)
    return result, progress


def test_training_records_history_checkpoint_and_run(project):
    result, progress = train(project, tiny())

    assert result.status == "finished" and result.epochs_done == 2
    assert result.checkpoint.exists()
    epochs = [p.partial for p in progress if isinstance(p.partial, dict)]
    steps = [e for e in epochs if e["kind"] == "step"]
    assert steps and all(np.isfinite(e["loss"]) and e["lr"] > 0 for e in steps)
    history = result.history
    assert [h["epoch"] for h in history] == [1, 2]
    assert all(0 <= h["knn"] <= 1 and h["std_relative"] > 0.1 for h in history)
    listing = project.summary()["runs"]
    assert listing == [
        {
            "id": 1,
            "method": "simclr",
            "backbone": "resnet18",
            "status": "finished",
            "epochs_done": 2,
        }
    ]
    record = newest_finished_run(project)
    assert record.config.lr is not None and record.config.optimizer == "sgd"


def test_batch_larger_than_dataset_is_lowered_with_a_note(project):
    result, _ = train(project, tiny(batch_size=512, epochs=1, holdout=0))
    assert any("batch size lowered from 512" in m for m in result.messages)


def _cancel_at(step: int, cancel: CancelToken):
    def on_progress(progress):
        if progress.stage == "training" and progress.done == step:
            cancel.cancel()

    return on_progress


def test_stop_then_resume_continues_exactly(project):
    config = tiny(epochs=3, checkpoint_every=0)
    straight, _ = train(project, config)
    reference = load_checkpoint(straight.checkpoint)

    cancel = CancelToken()
    with pytest.raises(JobCancelled):
        run_job(train_job(project, config, cancel), _cancel_at(3, cancel))
    stopped = get_run(project, 2)
    assert stopped.status == "stopped"
    assert load_checkpoint(stopped.checkpoint)["position"]["global_step"] == 3

    resumed, progress = train(project, resume=2)
    assert any("resumed run 2 at epoch 2, step 1" in m for m in resumed.messages)
    assert resumed.status == "finished" and resumed.epochs_done == 3
    final = load_checkpoint(resumed.checkpoint)
    for key, value in reference["model"].items():
        assert torch.equal(value, final["model"][key]), key
    assert [h["loss"] for h in final["history"]] == [h["loss"] for h in reference["history"]]


def test_a_cache_read_error_fails_the_run_with_its_message(project, monkeypatch):
    real = trainer_module.train_images_job

    def failing_images(*args, **kwargs):
        images = yield from real(*args, **kwargs)
        images.pixels = FailingPixels(images.pixels, fail_at=2)
        return images

    monkeypatch.setattr(trainer_module, "train_images_job", failing_images)
    with pytest.raises(SieveError, match="reading the training cache failed: .*Input/output"):
        train(project, tiny())
    run = get_run(project, 1)
    assert run.status == "failed"
    assert "Input/output error" in run.metrics["error"]


def test_resume_refuses_finished_runs_and_mixed_arguments(project):
    train(project, tiny(epochs=1))
    with pytest.raises(SieveError, match="already finished"):
        train(project, resume=1)
    with pytest.raises(SieveError, match="no training run 7"):
        train(project, resume=7)
    with pytest.raises(SieveError, match="either a training config or a run"):
        train(project, tiny(), resume=1)


def test_bad_settings_are_refused_before_any_work(project):
    with pytest.raises(SieveError, match="unknown method"):
        train(project, tiny(method="simclrr"))
    with pytest.raises(SieveError, match="epochs must be an integer >= 1, not 0"):
        train(project, tiny(epochs=0))
    with pytest.raises(SieveError, match="lr must be a finite number > 0, not nan"):
        train(project, tiny(lr=float("nan")))
    with pytest.raises(SieveError, match="(?i)unknown backbone"):
        train(project, tiny(backbone="resnet19"))
    assert project.summary()["runs"] == []


def test_a_run_that_cannot_start_leaves_no_record(project, tmp_path):
    missing = tmp_path / "no-such-weights.pt"
    with pytest.raises(SieveError, match="not found: .*no-such-weights.pt"):
        train(project, tiny(weights=str(missing)))
    assert not (project.path / "cache").exists()
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a weights file")
    with pytest.raises(SieveError, match="broken.pt is not a readable PyTorch weights file"):
        train(project, tiny(weights=str(broken)))
    assert project.training_runs() == [] and not project.checkpoints_dir.exists()


def test_trained_backbone_matches_the_checkpoint(project):
    result, _ = train(project, tiny(epochs=1))
    backbone, record = trained_backbone(project)
    weights = load_checkpoint(result.checkpoint)["model"]
    assert record.id == result.run_id
    for key, value in backbone.state_dict().items():
        assert torch.equal(value, weights["backbone." + key])


def test_training_cache_is_reused_and_rebuilt_when_files_change(project):
    cancel = CancelToken()
    first = run_job(train_images_job(project, 16, cancel))
    assert first.pixels.shape == (CLASSES * PER_CLASS, cache_side(16), cache_side(16), 3)
    assert first.labelled and sorted(set(first.labels.tolist())) == [0, 1, 2]
    again = run_job(train_images_job(project, 16, cancel))
    assert again.pixels.filename == first.pixels.filename
    np.testing.assert_array_equal(again.ids, first.ids)

    small = run_job(train_images_job(project, 32, cancel))
    assert small.pixels.shape[1:] == (28, 28, 3), "28 px images are cached at their own size"

    victim = project.dataset_root / project.samples()[0].relpath
    victim.write_bytes(b"not an image any more")
    rebuilt = run_job(train_images_job(project, 16, cancel))
    assert len(rebuilt) == len(first) - 1
    assert any(victim.name in message for message in rebuilt.skipped)
