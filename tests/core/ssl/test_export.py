"""Backbone export: each format reproduces the in-memory features; errors are user-facing."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

from app.core.errors import SieveError
from app.core.ssl.backbones import Backbone, build_backbone, load_backbone_file, quiet_torchscript
from app.core.ssl.export import export_backbone

SIZE = 32
ATOL = 1e-4


@pytest.fixture(scope="module")
def backbone() -> Backbone:
    """MobileNetV3 (BatchNorm, hardswish, squeeze-excitation) with trained-looking statistics.

    It stays in training mode: every export must leave it so.
    """
    torch.manual_seed(0)
    model = build_backbone("mobilenet_v3_small").train()
    with torch.no_grad():
        model(torch.randn(4, 3, SIZE, SIZE) * 2 + 0.5)
    return model


def _export(backbone: Backbone, path: Path, fmt: str) -> Path:
    """Export, checking that the caller's module keeps its mode, gradients and weights."""
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    written = export_backbone(backbone, path, fmt, SIZE)
    assert written == path and path.is_file()
    assert backbone.training and all(m.training for m in backbone.modules())
    assert all(p.requires_grad for p in backbone.parameters())
    assert all(torch.equal(before[k], v) for k, v in backbone.state_dict().items())
    return written


def _images(batch: int) -> torch.Tensor:
    return torch.randn(batch, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))


def _expected(backbone: Backbone, images: torch.Tensor) -> torch.Tensor:
    backbone.eval()
    try:
        with torch.no_grad():
            return backbone(images)
    finally:
        backbone.train()


def test_state_dict_export_reloads(backbone: Backbone, tmp_path: Path) -> None:
    path = _export(backbone, tmp_path / "backbone.pt", "state_dict")
    payload = torch.load(path, map_location="cpu", weights_only=True)
    assert payload["format"] == "sieve-backbone" and payload["backbone"] == backbone.name
    assert payload["feature_dim"] == backbone.feature_dim and payload["image_size"] == SIZE
    images = _images(2)
    for loaded in (load_backbone_file(path), build_backbone(backbone.name, weights=path)):
        assert loaded.name == backbone.name
        with torch.no_grad():
            assert torch.allclose(loaded.eval()(images), _expected(backbone, images), atol=ATOL)


def test_state_dict_export_is_refused_by_another_backbone(
    backbone: Backbone, tmp_path: Path
) -> None:
    path = _export(backbone, tmp_path / "backbone.pt", "state_dict")
    with pytest.raises(SieveError, match="holds mobilenet_v3_small weights, not resnet18"):
        build_backbone("resnet18", weights=path)


def test_state_dict_export_loads_into_torchvision(backbone: Backbone, tmp_path: Path) -> None:
    path = _export(backbone, tmp_path / "backbone.pt", "state_dict")
    model = torchvision.models.mobilenet_v3_small()
    state = torch.load(path, weights_only=True)["state_dict"]
    result = model.load_state_dict(state, strict=False)
    assert all(k.startswith("classifier.") for k in result.missing_keys)
    assert not result.unexpected_keys
    model.classifier = torch.nn.Identity()
    images = _images(2)
    with torch.no_grad():
        assert torch.allclose(model.eval()(images), _expected(backbone, images), atol=ATOL)


def test_torchscript_export_matches(backbone: Backbone, tmp_path: Path) -> None:
    path = _export(backbone, tmp_path / "backbone.torchscript", "torchscript")
    images = _images(3)
    with quiet_torchscript(), torch.no_grad():
        scripted = torch.jit.load(str(path)).eval()
        assert torch.allclose(scripted(images), _expected(backbone, images), atol=ATOL)
    loaded = load_backbone_file(path)
    assert loaded.name == backbone.name and loaded.feature_dim == backbone.feature_dim
    with pytest.raises(SieveError, match="export it as torchscript or onnx"):
        export_backbone(loaded, tmp_path / "again.pt", "state_dict", SIZE)


def test_onnx_export_matches_with_a_dynamic_batch(backbone: Backbone, tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    path = _export(backbone, tmp_path / "backbone.onnx", "onnx")
    assert [p.name for p in tmp_path.iterdir()] == ["backbone.onnx"]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["images"]
    assert [o.name for o in session.get_outputs()] == ["features"]
    images = _images(3)
    (features,) = session.run(["features"], {"images": images.numpy()})
    np.testing.assert_allclose(features, _expected(backbone, images).numpy(), atol=ATOL)


def test_torchscript_backbone_exports_to_onnx(backbone: Backbone, tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    loaded = load_backbone_file(_export(backbone, tmp_path / "ts.pt", "torchscript"))
    path = export_backbone(loaded, tmp_path / "ts.onnx", "onnx", SIZE)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    images = _images(2)
    (features,) = session.run(None, {"images": images.numpy()})
    np.testing.assert_allclose(features, _expected(backbone, images).numpy(), atol=ATOL)


def test_missing_onnx_package_is_reported(
    backbone: Backbone, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(SieveError, match="pip install onnx onnxscript"):
        export_backbone(backbone, tmp_path / "backbone.onnx", "onnx", SIZE)
    assert list(tmp_path.iterdir()) == []


def test_unwritable_folder_is_reported(backbone: Backbone, tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(SieveError, match="Cannot write"):
        export_backbone(backbone, blocker / "backbone.pt", "state_dict", SIZE)


def test_unknown_format_is_reported(backbone: Backbone, tmp_path: Path) -> None:
    with pytest.raises(SieveError, match="state_dict, torchscript, onnx"):
        export_backbone(backbone, tmp_path / "backbone.h5", "keras", SIZE)
