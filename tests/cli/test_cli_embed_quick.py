"""``sieve embed PROJECT --quick``: a small backbone over the stored thumbnails, offline."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from app.cli.entry import main
from app.core.ingest.indexing import IndexOptions, index_job
from app.core.jobs import CancelToken, run_job
from app.core.store.embedding_sets import active_embedding_set
from app.core.store.project import THUMBS_NAME, Project
from tests.factories import make_dataset

COUNT = 8


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty torchvision cache: no ImageNet weights on this machine."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))


@pytest.fixture
def indexed(tmp_path: Path) -> tuple[Path, Path]:
    """``(dataset folder, project folder)``: 8 images of 80 x 60 (thumbnails keep that size)."""
    root = make_dataset(tmp_path / "data", {"a": COUNT // 2, "b": COUNT // 2}, size=(80, 60))
    project_dir = tmp_path / "project"
    with Project.for_dataset(root, project_dir) as project:
        run_job(index_job(project, IndexOptions(), CancelToken()))
        assert project.thumbs.count() == COUNT
    return root, project_dir


def _active(project_dir: Path) -> tuple[dict, dict, np.ndarray, np.ndarray]:
    with Project.open(project_dir) as project:
        found = active_embedding_set(project)
        assert found is not None
        ids = np.asarray(found.ids())
        samples = [row.id for row in project.samples(status="ok")]
        assert sorted(ids.tolist()) == sorted(samples)
        return found.config, found.metrics, ids, np.array(found.vectors())


def test_quick_embed_offline_uses_random_weights_and_says_so(offline, indexed, capsys) -> None:
    _, project_dir = indexed
    assert main(["embed", str(project_dir), "--quick", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "Quick look: ResNet-18, random weights (no ImageNet weights offline), 40 px" in out
    assert f"{COUNT:,} read from stored thumbnails" in out
    config, metrics, ids, vectors = _active(project_dir)
    assert config["quick"] is True and config["weights"] == "random"
    assert config["backbone"] == "resnet18" and config["image_size"] == 40
    assert len(ids) == COUNT and vectors.shape == (COUNT, 512)
    assert metrics["from_thumbnails"] == COUNT


def test_quick_embed_reads_thumbnails_when_the_originals_are_gone(
    offline, indexed, tmp_path
) -> None:
    root, project_dir = indexed
    assert main(["embed", str(project_dir), "--quick", "--device", "cpu"]) == 0
    _, first, ids, from_thumbs = _active(project_dir)
    shutil.move(root, tmp_path / "elsewhere")
    assert main(["embed", str(project_dir), "--quick", "--device", "cpu"]) == 0
    _, again, moved_ids, without_originals = _active(project_dir)
    assert again["from_thumbnails"] == COUNT and again["skipped"] == []
    np.testing.assert_array_equal(moved_ids, ids)
    np.testing.assert_allclose(without_originals, from_thumbs, atol=1e-6)

    shutil.move(tmp_path / "elsewhere", root)
    (project_dir / THUMBS_NAME).unlink()
    assert main(["embed", str(project_dir), "--quick", "--device", "cpu"]) == 0
    _, decoded, _, from_files = _active(project_dir)
    assert decoded["from_thumbnails"] == 0
    similarity = from_files @ from_thumbs.T
    assert np.diag(similarity).min() > 0.9, "a JPEG thumbnail embeds close to its original"
    assert (similarity.argmax(axis=1) == np.arange(COUNT)).all()


def test_quick_embed_refuses_a_run_or_a_backbone(indexed, capsys) -> None:
    _, project_dir = indexed
    assert main(["embed", str(project_dir), "--quick", "--backbone", "resnet50"]) != 0
    assert "--quick chooses its own backbone" in capsys.readouterr().err
    assert main(["embed", str(project_dir), "--quick", "--resume", "1"]) != 0
    assert "drop --quick" in capsys.readouterr().err
