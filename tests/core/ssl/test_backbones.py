"""Backbone registry, builders, ImageNet weights (offline and cached) and checkpoint loading."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from urllib.error import URLError

import pytest
import torch
import torchvision
from torch import nn

from app.core.errors import SieveError
from app.core.ssl import backbones
from app.core.ssl.backbones import (
    BACKBONES,
    Backbone,
    backbone_names,
    build_backbone,
    default_backbone,
    load_backbone_file,
    quiet_torchscript,
    resolve_backbone_name,
)

_UNPICKLED: list[str] = []


def _record_unpickling() -> str:
    _UNPICKLED.append("ran")
    return "boom"


class _Payload:
    """Unpickling this runs `_record_unpickling`: a stand-in for arbitrary code in a pickle."""

    def __reduce__(self) -> tuple:
        return (_record_unpickling, ())


def _images(batch: int = 2, size: int = 64, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(seed))


@pytest.fixture
def torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty torchvision cache: ImageNet weights must come from the network."""
    home = tmp_path / "torch_home"
    home.mkdir()
    monkeypatch.setenv("TORCH_HOME", str(home))
    return home


@pytest.fixture(scope="module")
def _cache_folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A torchvision cache holding a random resnet18 state_dict under the DEFAULT weights' name."""
    home = tmp_path_factory.mktemp("cached_torch_home")
    url = torchvision.models.get_model_weights("resnet18").DEFAULT.url
    target = home / "hub" / "checkpoints" / os.path.basename(url)
    target.parent.mkdir(parents=True)
    torch.manual_seed(123)
    state = torchvision.models.resnet18().state_dict()
    torch.save(state, target)
    return home, state


@pytest.fixture
def cached_resnet18(
    _cache_folder: tuple[Path, dict], monkeypatch: pytest.MonkeyPatch
) -> dict[str, torch.Tensor]:
    home, state = _cache_folder
    monkeypatch.setenv("TORCH_HOME", str(home))
    return state


@pytest.mark.parametrize("name", list(BACKBONES))
def test_every_backbone_builds_with_matching_feature_dim(name: str) -> None:
    backbone = build_backbone(name).eval()
    with torch.no_grad():
        first, second = backbone(_images()), backbone(_images())
    assert isinstance(backbone, Backbone) and backbone.name == name
    assert first.shape == (2, backbone.feature_dim)
    assert torch.equal(first, second)
    assert backbone.load_message is None


def test_registry_names() -> None:
    assert backbone_names() == [
        "resnet18",
        "resnet34",
        "resnet50",
        "mobilenet_v3_small",
        "mobilenet_v3_large",
        "efficientnet_b0",
        "convnext_tiny",
        "resnet18_small",
    ]
    assert all(spec.summary for spec in BACKBONES.values())


def test_resnet18_is_torchvision_resnet18_without_fc() -> None:
    ours = build_backbone("resnet18")
    reference = torchvision.models.resnet18().state_dict()
    expected = {k: v.shape for k, v in reference.items() if not k.startswith("fc.")}
    assert {k: v.shape for k, v in ours.model.state_dict().items()} == expected
    assert ours.feature_dim == 512
    assert isinstance(ours.model.maxpool, nn.MaxPool2d)


def test_resnet18_small_has_a_3x3_stem_and_no_max_pool() -> None:
    small = build_backbone("resnet18_small").model
    assert small.conv1.kernel_size == (3, 3) and small.conv1.stride == (1, 1)
    assert set(small.state_dict()) == set(build_backbone("resnet18").model.state_dict())
    with torch.no_grad():
        stem = small.maxpool(small.relu(small.bn1(small.conv1(_images(size=32)))))
    assert stem.shape == (2, 64, 32, 32)


def test_default_and_resolved_names() -> None:
    assert default_backbone(32) == "resnet18_small"
    assert default_backbone(64) == "resnet18"
    assert resolve_backbone_name("auto", 28) == "resnet18_small"
    assert resolve_backbone_name("auto", 224) == "resnet18"
    assert resolve_backbone_name("resnet18", 16) == "resnet18"
    assert build_backbone("auto", image_size=32).name == "resnet18_small"


def test_unknown_backbone_lists_the_valid_names() -> None:
    with pytest.raises(SieveError, match="resnet18_small") as info:
        resolve_backbone_name("vit_huge", 224)
    assert "vit_huge" in str(info.value) and "convnext_tiny" in str(info.value)


def _online() -> bool:
    try:
        socket.create_connection(("download.pytorch.org", 443), timeout=2).close()
    except OSError:
        return False
    return True


def test_imagenet_offline_falls_back_to_random_init(
    torch_home: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    if _online():
        monkeypatch.setattr(torch.hub, "urlopen", _refuse_download)
    start = time.monotonic()
    backbone = build_backbone("resnet18", weights="imagenet")
    assert time.monotonic() - start < 15
    assert backbone.feature_dim == 512
    assert backbone.load_message is not None
    assert "could not be downloaded" in backbone.load_message and backbone.fell_back
    assert "random initialisation" in backbone.load_message
    assert backbone.load_message in caplog.text


def _refuse_download(*args: object, **kwargs: object) -> None:
    raise URLError("simulated: no network")


def test_cached_imagenet_weights_load_without_network(cached_resnet18: dict) -> None:
    state = cached_resnet18
    loaded = build_backbone("resnet18", weights="ImageNet").model.state_dict()
    assert loaded.keys() == {k for k in state if not k.startswith("fc.")}
    assert all(torch.equal(loaded[k], state[k]) for k in loaded)


def test_small_resnet_takes_imagenet_weights_except_its_stem(cached_resnet18: dict) -> None:
    state = cached_resnet18
    backbone = build_backbone("resnet18_small", weights="imagenet")
    loaded = backbone.model.state_dict()
    assert torch.equal(loaded["layer1.0.conv1.weight"], state["layer1.0.conv1.weight"])
    assert loaded["conv1.weight"].shape == (64, 3, 3, 3)
    assert backbone.load_message is not None and "conv1" in backbone.load_message


def _trained(name: str = "resnet18_small") -> nn.Module:
    torch.manual_seed(7)
    return build_backbone(name).model


@pytest.mark.parametrize("wrap", ["module.", "model.backbone."])
def test_checkpoint_with_wrapper_prefixes_loads(tmp_path: Path, wrap: str) -> None:
    trunk = _trained()
    path = tmp_path / "ckpt.pt"
    state = {f"{wrap}{k}": v for k, v in trunk.state_dict().items()}
    torch.save({"state_dict": state, "epoch": 3}, path)
    loaded = build_backbone("resnet18_small", weights=str(path)).model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in trunk.state_dict().items())


def test_old_torchvision_checkpoint_under_backbone_key_loads(tmp_path: Path) -> None:
    """Classifier weights are ignored; files older than num_batches_tracked still load."""
    full = torchvision.models.mobilenet_v3_small().state_dict()
    old = {k: v for k, v in full.items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "mobilenet.pth"
    torch.save({"backbone": old}, path)
    loaded = build_backbone("mobilenet_v3_small", weights=path).model.state_dict()
    assert all(torch.equal(v, full[k]) for k, v in loaded.items())


def test_checkpoint_with_mismatched_keys_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "mobilenet.pt"
    torch.save(build_backbone("mobilenet_v3_small").model.state_dict(), path)
    with pytest.raises(SieveError, match="does not match resnet18") as info:
        build_backbone("resnet18", weights=path)
    message = str(info.value)
    assert "missing keys" in message and "conv1.weight" in message
    assert "unexpected keys" in message and "features.0.0.weight" in message


def test_checkpoint_with_other_shapes_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "small.pt"
    torch.save(build_backbone("resnet18_small").model.state_dict(), path)
    with pytest.raises(SieveError, match="conv1.weight"):
        build_backbone("resnet18", weights=path)


def test_pickle_with_python_objects_is_refused_without_unpickling(tmp_path: Path) -> None:
    path = tmp_path / "unsafe.pt"
    torch.save({"conv1.weight": torch.zeros(1), "extra": _Payload()}, path)
    _UNPICKLED.clear()
    with pytest.raises(SieveError, match="_record_unpickling"):
        build_backbone("resnet18", weights=path)
    with pytest.raises(SieveError, match="weights-only"):
        load_backbone_file(path)
    assert _UNPICKLED == []


def _save_trace(module: nn.Module, path: Path) -> None:
    with quiet_torchscript(), torch.no_grad():
        torch.jit.save(torch.jit.trace(module.eval(), _images(1, 32), check_trace=False), str(path))


def test_torchscript_file_loads_as_it_is(tmp_path: Path) -> None:
    trunk = torchvision.models.mobilenet_v3_small().eval()
    path = tmp_path / "traced.pt"
    _save_trace(trunk, path)
    loaded = load_backbone_file(path, image_size=32).eval()
    assert isinstance(loaded.model, torch.jit.ScriptModule)
    assert loaded.feature_dim == 1000 and loaded.name == "torchscript"
    with torch.no_grad():
        assert torch.allclose(loaded(_images(size=32)), trunk(_images(size=32)), atol=1e-5)


def test_torchscript_weights_go_into_the_named_backbone(tmp_path: Path) -> None:
    trunk = _trained("mobilenet_v3_small")
    path = tmp_path / "traced.pt"
    _save_trace(trunk, path)
    backbone = build_backbone("mobilenet_v3_small", weights=path)
    assert not isinstance(backbone.model, torch.jit.ScriptModule)
    assert backbone.load_message is None
    loaded = backbone.model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in trunk.state_dict().items())


def test_torchscript_of_another_architecture_is_used_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "mobilenet.pt"
    _save_trace(torchvision.models.mobilenet_v3_small(), path)
    backbone = build_backbone("resnet18", weights=path, image_size=32)
    assert isinstance(backbone.model, torch.jit.ScriptModule)
    assert backbone.load_message is not None and "used as it is" in backbone.load_message


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"PK\x03\x04broken zip"])
def test_corrupt_files_are_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.pt"
    path.write_bytes(content)
    with pytest.raises(SieveError, match="broken.pt"):
        build_backbone("resnet18", weights=path)
    with pytest.raises(SieveError, match="broken.pt"):
        load_backbone_file(path)


def test_truncated_checkpoint_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cut.pt"
    torch.save(build_backbone("mobilenet_v3_small").model.state_dict(), path)
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(SieveError, match="not a readable"):
        build_backbone("mobilenet_v3_small", weights=path)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SieveError, match="not found"):
        build_backbone("resnet18", weights=str(tmp_path / "nope.pt"))
    with pytest.raises(SieveError, match="not found"):
        load_backbone_file(tmp_path / "nope.pt")


def test_plain_state_dict_needs_a_backbone_name(tmp_path: Path) -> None:
    path = tmp_path / "plain.pt"
    torch.save(build_backbone("mobilenet_v3_small").model.state_dict(), path)
    with pytest.raises(SieveError, match="does not say which backbone"):
        load_backbone_file(path)


def test_none_weights_mean_random_init() -> None:
    assert build_backbone("mobilenet_v3_small", weights="None").load_message is None


def test_download_timeout_is_restored() -> None:
    before = socket.getdefaulttimeout()
    with backbones._socket_timeout(3.0):
        assert socket.getdefaulttimeout() == (3.0 if before is None else before)
    assert socket.getdefaulttimeout() == before
