"""Export a trained backbone as a state_dict, a TorchScript file or an ONNX model.

Formats:

- ``state_dict``: ``torch.save`` of ``{"format": "sieve-backbone", "backbone": name,
  "feature_dim": D, "image_size": S, "state_dict": ...}``. The state_dict has torchvision's
  keys without the classifier head, so Sieve reloads it with
  ``build_backbone(name, weights=path)`` or ``load_backbone_file(path)``, and torchvision with::

      import torch, torchvision
      payload = torch.load(path, map_location="cpu", weights_only=True)
      model = torchvision.models.resnet18()
      model.load_state_dict(payload["state_dict"], strict=False)  # only fc.* stays random
      model.fc = torch.nn.Identity()  # model(images) now gives the exported features

  (``resnet18_small`` also needs its 3x3 stem: ``model.conv1 = nn.Conv2d(3, 64, 3, 1, 1,
  bias=False)`` and ``model.maxpool = nn.Identity()`` before loading.)
- ``torchscript``: a trace of the backbone (images in, pooled features out), loadable with
  ``torch.jit.load`` and no Sieve code; Sieve's metadata rides along as the extra file
  ``sieve.json``.
- ``onnx``: one self-contained ``.onnx`` file, input ``images`` (N, 3, S, S) with a dynamic
  batch axis, output ``features`` (N, D).
"""

from __future__ import annotations

import copy
import importlib
import io
import json
import warnings
from pathlib import Path
from typing import Any

import torch

from app.core.errors import SieveError
from app.core.ssl.backbones import SIEVE_FORMAT, TORCHSCRIPT_META, Backbone, quiet_torchscript
from app.core.store.arrays import atomic_file

FORMATS = ("state_dict", "torchscript", "onnx")
ONNX_OPSET = 17
_ONNX_MISSING = "ONNX export needs the 'onnx' package: pip install onnx onnxscript"


def export_backbone(backbone: Backbone, path: str | Path, format: str, image_size: int) -> Path:
    """Write `backbone` to `path` in `format` (see the module docstring); returns the path.

    The caller's module is left untouched: traces are taken of a CPU copy in eval mode.
    """
    if format not in FORMATS:
        raise SieveError(f"Unknown export format {format!r}; choose one of: {', '.join(FORMATS)}.")
    if image_size < 1:
        raise SieveError(f"Export image size must be positive, not {image_size}.")
    if format == "onnx":
        _require_onnx()
    encode = {
        "state_dict": _state_dict_bytes,
        "torchscript": _torchscript_bytes,
        "onnx": _onnx_bytes,
    }
    source = backbone if format == "state_dict" else _frozen_copy(backbone)
    try:
        data = encode[format](source, image_size)
    except RuntimeError as exc:
        raise SieveError(f"Exporting {backbone.name} as {format} failed: {exc}") from exc
    path = Path(path)
    _write(path, data)
    return path


def _frozen_copy(backbone: Backbone) -> Backbone:
    """A CPU, eval-mode, gradient-free copy, so the caller's module keeps its mode and device."""
    clone = copy.deepcopy(backbone).cpu().eval()
    clone.requires_grad_(False)
    return clone


def _metadata(backbone: Backbone, image_size: int) -> dict[str, Any]:
    return {
        "format": SIEVE_FORMAT,
        "backbone": backbone.name,
        "feature_dim": backbone.feature_dim,
        "image_size": image_size,
    }


def _example(image_size: int) -> torch.Tensor:
    return torch.zeros(1, 3, image_size, image_size)


def _state_dict_bytes(backbone: Backbone, image_size: int) -> bytes:
    if isinstance(backbone.model, torch.jit.ScriptModule):
        raise SieveError(
            "This backbone was loaded from a TorchScript file; export it as torchscript or onnx."
        )
    state = {k: v.detach().cpu().contiguous() for k, v in backbone.model.state_dict().items()}
    buffer = io.BytesIO()
    torch.save({**_metadata(backbone, image_size), "state_dict": state}, buffer)
    return buffer.getvalue()


def _traced(backbone: Backbone, image_size: int) -> torch.jit.ScriptModule:
    with quiet_torchscript(), torch.no_grad():
        return torch.jit.trace(backbone, _example(image_size), check_trace=False)


def _torchscript_bytes(backbone: Backbone, image_size: int) -> bytes:
    buffer = io.BytesIO()
    extra = {TORCHSCRIPT_META: json.dumps(_metadata(backbone, image_size))}
    with quiet_torchscript():
        torch.jit.save(_traced(backbone, image_size), buffer, _extra_files=extra)
    return buffer.getvalue()


def _require_onnx() -> None:
    try:
        importlib.import_module("onnx")
    except ImportError as exc:
        raise SieveError(_ONNX_MISSING) from exc


def _onnx_bytes(backbone: Backbone, image_size: int) -> bytes:
    """Export a trace with torch's TorchScript-based exporter (fast, offline, one file).

    Tracing first lets backbones that wrap a TorchScript module export too.
    """
    buffer = io.BytesIO()
    traced = _traced(backbone, image_size)
    with quiet_torchscript(), torch.no_grad():
        warnings.filterwarnings("ignore", "no signature found", UserWarning)
        torch.onnx.export(
            traced,
            (_example(image_size),),
            buffer,
            input_names=["images"],
            output_names=["features"],
            dynamic_axes={"images": {0: "batch"}, "features": {0: "batch"}},
            opset_version=ONNX_OPSET,
            dynamo=False,
        )
    return buffer.getvalue()


def _write(path: Path, data: bytes) -> None:
    try:
        with atomic_file(path) as handle:
            handle.write(data)
    except OSError as exc:
        raise SieveError(f"Cannot write {path}: {exc.strerror or exc}") from exc
