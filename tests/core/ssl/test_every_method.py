"""Acceptance: every method trains two epochs on the demo dataset on CPU."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

from app.core.ingest.indexing import IndexOptions, index_job
from app.core.jobs import CancelToken, run_job
from app.core.paths import resources_dir
from app.core.ssl.config import TrainConfig
from app.core.ssl.methods import METHODS
from app.core.ssl.trainer import train_job
from app.core.store.project import Project


@pytest.fixture(scope="module")
def demo_project(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("demo") / "data"
    shutil.copytree(resources_dir() / "demo", root)
    project = Project.for_dataset(root)
    run_job(index_job(project, IndexOptions(), CancelToken()))
    yield project
    project.close()


@pytest.mark.parametrize("method", list(METHODS))
def test_method_trains_two_epochs_on_the_demo(demo_project: Project, method: str):
    config = TrainConfig(
        method=method,
        backbone="resnet18",
        image_size=16,
        epochs=2,
        batch_size=64,
        device="cpu",
        checkpoint_every=0,
        knn_every=2,
    )
    result = run_job(train_job(demo_project, config))

    losses = [entry["loss"] for entry in result.history]
    assert all(math.isfinite(loss) for loss in losses), losses
    assert losses[1] < losses[0], f"{method}: loss did not go down: {losses}"
    assert Path(result.checkpoint).exists()
    assert result.history[-1]["knn"] is not None
