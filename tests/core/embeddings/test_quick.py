"""The quick look's model (cached ImageNet weights or random, never a download) and its pixels
from stored thumbnails."""

from __future__ import annotations

import io
import os
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from app.core.embeddings.embed import embed_job, load_embedder, quick_config
from app.core.embeddings.quick import (
    IMAGENET_SIZE,
    QUICK_SIZE,
    cached_imagenet_weights,
    load_quick_model,
    quick_model,
)
from app.core.embeddings.thumb_pixels import thumbnail_pixels
from app.core.errors import SieveError
from app.core.ingest.indexing import IndexOptions, index_job
from app.core.jobs import CancelToken, run_job
from app.core.store.project import Project, SampleRow
from tests.factories import make_dataset


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to connect fails the test: the quick look never downloads."""

    def refuse(*args, **kwargs):
        raise AssertionError("the quick look tried to use the network")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture
def empty_torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "torch_home"
    monkeypatch.setenv("TORCH_HOME", str(home))
    return home


@pytest.fixture
def cached_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, torch.Tensor]:
    """A torch cache holding (seeded, not real) resnet18 weights under torchvision's file name."""
    home = tmp_path / "torch_home"
    url = torchvision.models.get_model_weights("resnet18").DEFAULT.url
    target = home / "hub" / "checkpoints" / os.path.basename(url)
    target.parent.mkdir(parents=True)
    torch.manual_seed(7)
    state = torchvision.models.resnet18().state_dict()
    torch.save(state, target)
    monkeypatch.setenv("TORCH_HOME", str(home))
    return state


def test_offline_it_is_a_seeded_random_init_and_says_so(no_network, empty_torch_home) -> None:
    assert cached_imagenet_weights() is None
    first, again = load_quick_model(), load_quick_model()
    assert first.weights == "random" and first.input_size == QUICK_SIZE
    assert (
        first.note == "Quick look: ResNet-18, random weights (no ImageNet weights offline), 40 px"
    )
    for ours, theirs in zip(first.backbone.parameters(), again.backbone.parameters(), strict=True):
        assert torch.equal(ours, theirs)
    assert not (empty_torch_home / "hub").exists(), "nothing downloaded"


def test_cached_imagenet_weights_are_used(no_network, cached_weights) -> None:
    backbone, size, weights = quick_model("cpu")
    assert (size, weights) == (IMAGENET_SIZE, "imagenet")
    assert torch.equal(backbone.model.conv1.weight, cached_weights["conv1.weight"])
    assert not backbone.training


def test_an_unreadable_cached_file_falls_back_to_random(no_network, cached_weights) -> None:
    path = cached_imagenet_weights()
    assert path is not None
    path.write_bytes(b"not a checkpoint")
    model = load_quick_model()
    assert model.weights == "random"
    assert "the cached ImageNet weights could not be read" in model.note


def test_a_set_made_with_cached_weights_needs_them_to_be_rebuilt(
    no_network, cached_weights, tmp_path: Path
) -> None:
    root = make_dataset(tmp_path / "data", {"a": 3}, size=(40, 30))
    with Project.for_dataset(root, tmp_path / "project") as project:
        run_job(index_job(project, IndexOptions(), CancelToken()))
        found = run_job(embed_job(project, quick_config(device="cpu"), CancelToken()))
        assert found.config["weights"] == "imagenet" and found.config["quick"] is True
        assert found.config["source"] == "Quick look: ResNet-18, ImageNet weights, 64 px"
        backbone, size = load_embedder(project, found)
        assert size == IMAGENET_SIZE
        assert torch.equal(backbone.model.conv1.weight, cached_weights["conv1.weight"])
        path = cached_imagenet_weights()
        assert path is not None
        path.unlink()
        with pytest.raises(SieveError, match="imagenet weights that cannot be loaded now"):
            load_embedder(project, found)


def _row(width: int, height: int) -> SampleRow:
    return SampleRow(1, "x.png", "image", None, None, width, height, None, "ok", None)


def _jpeg(width: int, height: int) -> bytes:
    pixels = np.random.default_rng(0).integers(0, 255, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def test_a_thumbnail_stands_in_only_when_it_holds_enough_pixels() -> None:
    big = thumbnail_pixels(_jpeg(192, 144), _row(4000, 3000), 64)
    assert big is not None and big.shape == (64, 64, 3) and big.dtype == np.uint8
    assert thumbnail_pixels(_jpeg(48, 36), _row(4000, 3000), 64) is None, "too small"
    small = thumbnail_pixels(_jpeg(28, 28), _row(28, 28), 28)
    assert small is not None and small.shape == (28, 28, 3), "a small image's own size is enough"
    assert thumbnail_pixels(b"broken", _row(28, 28), 28) is None


def test_lanes_give_the_rows_of_one_forward_in_order(empty_torch_home) -> None:
    from app.core.embeddings.quick import Lanes

    backbone, size, _ = quick_model("cpu")
    pixels = torch.from_numpy(
        np.random.default_rng(1).integers(0, 255, (5, size, size, 3), dtype=np.uint8)
    )

    def forward(part: torch.Tensor) -> np.ndarray:
        x = part.permute(0, 3, 1, 2).float().div(255)
        with torch.inference_mode():
            return backbone(x).numpy()

    before = torch.get_num_threads()
    lanes = Lanes(2)
    try:
        together = lanes.run(forward, pixels)
    finally:
        lanes.close()
    assert torch.get_num_threads() == before, "the caller's thread count is left alone"
    np.testing.assert_allclose(together, forward(pixels), rtol=1e-4, atol=1e-4)


def test_a_stopped_quick_look_resumes_with_its_settings(empty_torch_home, tmp_path: Path) -> None:
    from app.core.errors import JobCancelled
    from app.core.store.embedding_sets import embedding_sets

    root = make_dataset(tmp_path / "data", {"a": 6}, size=(40, 30))
    with Project.for_dataset(root, tmp_path / "project") as project:
        run_job(index_job(project, IndexOptions(), CancelToken()))
        cancel = CancelToken()
        with pytest.raises(JobCancelled):
            for progress in embed_job(project, quick_config(device="cpu", batch_size=2), cancel):
                if progress.stage == "embedding" and progress.done == 2:
                    cancel.cancel()
        stopped = embedding_sets(project)[-1]
        assert stopped.status == "stopped" and stopped.config["quick"] is True
        found = run_job(embed_job(project, None, CancelToken(), resume_set=stopped.id))
        assert found.id == stopped.id and found.metrics["count"] == 6
        assert found.metrics["batches_kept"] == 1 and found.metrics["batches_computed"] == 2


def test_the_side_follows_the_weights_unless_one_is_asked_for(no_network, empty_torch_home) -> None:
    assert load_quick_model().input_size == QUICK_SIZE < IMAGENET_SIZE
    asked = load_quick_model(48)
    assert asked.input_size == 48 and asked.note.endswith(", 48 px")
    assert quick_config().image_size is None, "the side is chosen with the weights"
    assert quick_config(image_size=48).image_size == 48
