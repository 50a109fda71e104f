"""Backbones for self-supervised training: a registry, builders and weight loading.

A `Backbone` wraps a torchvision-style trunk (`backbone.model`, classifier head removed) and
returns pooled, flattened features. Its trunk keeps torchvision's state_dict keys, so weights
move freely between Sieve, torchvision and the files written by `app.core.ssl.export`.
"""

from __future__ import annotations

import json
import logging
import pickle
import re
import socket
import warnings
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from urllib.error import URLError

import torch
import torchvision
from torch import Tensor, nn

from app.core.errors import SieveError

log = logging.getLogger("sieve")

SIEVE_FORMAT = "sieve-backbone"
TORCHSCRIPT_META = "sieve.json"
SMALL_IMAGE_MAX = 32
PROBE_SIZE = 32
DOWNLOAD_TIMEOUT_S = 20.0
_PREFIXES = ("module.", "backbone.", "model.", "_orig_mod.")


@contextmanager
def quiet_torchscript() -> Iterator[None]:
    """Silence torch's TorchScript deprecation and tracer warnings (Sieve uses it on purpose)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        yield


@dataclass(frozen=True)
class BackboneSpec:
    """One registered backbone: how to build its trunk and where its ImageNet weights live."""

    name: str
    summary: str
    builder: Callable[[], nn.Module]
    torchvision_name: str | None
    head_prefix: str


def _torchvision_trunk(tv_name: str, drop_head: Callable[[nn.Module], None]) -> nn.Module:
    model = torchvision.models.get_model(tv_name, weights=None)
    drop_head(model)
    return model


def _linear_width(head: nn.Module) -> int:
    """Input width of the first Linear layer of a classifier head: the trunk's feature width."""
    return next(m.in_features for m in head.modules() if isinstance(m, nn.Linear))


def _drop_fc(model: nn.Module) -> None:
    model.feature_dim = _linear_width(model.fc)
    model.fc = nn.Identity()


def _drop_classifier(model: nn.Module) -> None:
    model.feature_dim = _linear_width(model.classifier)
    model.classifier = nn.Identity()


def _drop_last_linear(model: nn.Module) -> None:
    model.feature_dim = _linear_width(model.classifier[-1])
    model.classifier[-1] = nn.Identity()


def _small_resnet18() -> nn.Module:
    """ResNet-18 for small images (CIFAR variant): 3x3 stride-1 stem, no max-pool."""
    model = _torchvision_trunk("resnet18", _drop_fc)
    model.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
    nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
    model.maxpool = nn.Identity()
    return model


def _spec(
    name: str, summary: str, drop_head: Callable[[nn.Module], None], head: str
) -> BackboneSpec:
    return BackboneSpec(name, summary, partial(_torchvision_trunk, name, drop_head), name, head)


BACKBONES: dict[str, BackboneSpec] = {
    spec.name: spec
    for spec in (
        _spec("resnet18", "ResNet-18, 512-d features; a solid default", _drop_fc, "fc."),
        _spec("resnet34", "ResNet-34, 512-d features", _drop_fc, "fc."),
        _spec("resnet50", "ResNet-50, 2048-d features; slower, stronger", _drop_fc, "fc."),
        _spec(
            "mobilenet_v3_small",
            "MobileNetV3 small; fastest, for weak hardware",
            _drop_classifier,
            "classifier.",
        ),
        _spec("mobilenet_v3_large", "MobileNetV3 large; fast", _drop_classifier, "classifier."),
        _spec(
            "efficientnet_b0",
            "EfficientNet-B0; accurate for its size",
            _drop_classifier,
            "classifier.",
        ),
        _spec(
            "convnext_tiny",
            "ConvNeXt-T, 768-d features; modern, heavy",
            _drop_last_linear,
            "classifier.2.",
        ),
        BackboneSpec(
            "resnet18_small",
            "ResNet-18 with a 3x3 stem and no max-pool, for images of 64 px and less",
            _small_resnet18,
            "resnet18",
            "fc.",
        ),
    )
}


def backbone_names() -> list[str]:
    """Registered backbone names, in registry order."""
    return list(BACKBONES)


def default_backbone(image_size: int) -> str:
    """The backbone "auto" stands for: the small-image ResNet-18 up to 32 px, else ResNet-18."""
    return "resnet18_small" if image_size <= SMALL_IMAGE_MAX else "resnet18"


def resolve_backbone_name(name: str, image_size: int) -> str:
    """Map "auto" to the default for `image_size`; check any other name against the registry."""
    if name == "auto":
        return default_backbone(image_size)
    if name not in BACKBONES:
        raise SieveError(f"Unknown backbone {name!r}; choose one of: auto, {', '.join(BACKBONES)}.")
    return name


class Backbone(nn.Module):
    """A trunk that maps (B, 3, H, W) images to (B, feature_dim) pooled, flattened features.

    The width is `feature_dim` if given, else the trunk's own `feature_dim` (set by the
    registry's builders), else measured with one dummy image of `probe_size` pixels.
    """

    def __init__(
        self,
        name: str,
        model: nn.Module,
        feature_dim: int | None = None,
        load_message: str | None = None,
        probe_size: int = PROBE_SIZE,
        fell_back: bool = False,
    ) -> None:
        super().__init__()
        self.name = name
        self.model = model
        self.load_message = load_message
        self.fell_back = fell_back
        self.feature_dim = (
            feature_dim
            or getattr(model, "feature_dim", None)
            or _probe_feature_dim(self, probe_size)
        )

    def forward(self, x: Tensor) -> Tensor:
        out = self.model(x)
        if out.ndim == 4:
            out = out.mean(dim=(2, 3))
        return out.flatten(1)


def _probe_feature_dim(backbone: Backbone, size: int) -> int:
    """Run one dummy image through the backbone (eval mode, no grad) and read the width."""
    was_training = backbone.training
    device = next((p.device for p in backbone.parameters()), torch.device("cpu"))
    backbone.eval()
    try:
        with torch.no_grad():
            out = backbone(torch.zeros(1, 3, size, size, device=device))
    except RuntimeError as exc:
        raise SieveError(
            f"Backbone {backbone.name!r} fails on a {size}x{size} image: {exc}"
        ) from exc
    finally:
        backbone.train(was_training)
    return int(out.shape[1])


def build_backbone(name: str, weights: str | Path | None = None, image_size: int = 224) -> Backbone:
    """Build a registered backbone ("auto" allowed) with the given starting weights.

    `weights`: None or "none" for random init, "imagenet" for torchvision's default weights
    (random init with `load_message` set when they cannot be downloaded), or a path to a
    state_dict / TorchScript file.
    """
    spec = BACKBONES[resolve_backbone_name(name, image_size)]
    choice = _weights_choice(weights)
    if choice is None:
        return Backbone(spec.name, spec.builder())
    if choice == "imagenet":
        return _with_imagenet(spec)
    return _with_checkpoint(spec, Path(choice), image_size)


def check_weights(weights: str | Path | None) -> None:
    """Refuse a weights file that is missing or empty, before any work (none / imagenet pass)."""
    choice = _weights_choice(weights)
    if choice is not None and choice != "imagenet":
        _existing_file(choice)


def _weights_choice(weights: str | Path | None) -> str | Path | None:
    if weights is None or isinstance(weights, Path):
        return weights
    lowered = weights.strip().lower()
    if lowered in ("", "none", "random"):
        return None
    return "imagenet" if lowered == "imagenet" else weights


def load_backbone_file(path: str | Path, image_size: int = 224) -> Backbone:
    """Load a Sieve state_dict export or any TorchScript file as a Backbone.

    TorchScript modules are used as they are; `image_size` is the dummy-forward size for
    their feature width when the file does not record its own.
    """
    path = _existing_file(path)
    if _is_torchscript(path):
        module, meta = _load_torchscript(path)
        name = str(meta.get("backbone", "torchscript"))
        size = int(meta.get("image_size", image_size))
        return Backbone(name, module, probe_size=size)
    payload = _load_weights_only(path)
    if not (isinstance(payload, Mapping) and payload.get("format") == SIEVE_FORMAT):
        raise SieveError(
            f"{path.name} is a plain state_dict that does not say which backbone it is for; "
            "choose the backbone and give this file as its weights."
        )
    spec = BACKBONES[resolve_backbone_name(str(payload.get("backbone")), image_size)]
    return _from_state_dict(spec, _state_dict_of(payload, path), path)


def _with_imagenet(spec: BackboneSpec) -> Backbone:
    if spec.torchvision_name is None:
        raise SieveError(f"Backbone {spec.name!r} has no ImageNet weights; use random init.")
    trunk = spec.builder()
    weights_enum = torchvision.models.get_model_weights(spec.torchvision_name).DEFAULT
    try:
        with _socket_timeout(DOWNLOAD_TIMEOUT_S):
            state = weights_enum.get_state_dict(progress=False, weights_only=True)
    except (URLError, OSError, RuntimeError) as exc:
        message = (
            f"ImageNet weights for {spec.name} could not be downloaded (offline?): {exc}. "
            "Using random initialisation instead."
        )
        log.warning(message)
        return Backbone(spec.name, trunk, load_message=message, fell_back=True)
    skipped = _load_into(trunk, state, spec, f"ImageNet weights ({spec.torchvision_name})", True)
    return Backbone(spec.name, trunk, load_message=_partial_message(spec, skipped))


def _partial_message(spec: BackboneSpec, skipped: list[str]) -> str | None:
    if not skipped:
        return None
    layers = sorted({key.rsplit(".", 1)[0] for key in skipped})
    return (
        f"ImageNet weights for {spec.name} come from {spec.torchvision_name}; "
        f"{', '.join(layers)} differs in shape and starts from random initialisation."
    )


@contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    """Bound each socket operation of a download so that a dead network cannot hang it."""
    previous = socket.getdefaulttimeout()
    if previous is None:
        socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def _with_checkpoint(spec: BackboneSpec, path: Path, image_size: int) -> Backbone:
    path = _existing_file(path)
    if _is_torchscript(path):
        return _from_torchscript(spec, path, image_size)
    payload = _load_weights_only(path)
    if isinstance(payload, Mapping) and payload.get("format") == SIEVE_FORMAT:
        saved_for = payload.get("backbone")
        if saved_for != spec.name:
            raise SieveError(f"{path.name} holds {saved_for} weights, not {spec.name} weights.")
    return _from_state_dict(spec, _state_dict_of(payload, path), path)


def _from_state_dict(spec: BackboneSpec, state: dict[str, Tensor], path: Path) -> Backbone:
    trunk = spec.builder()
    _load_into(trunk, state, spec, path.name, allow_shape_mismatch=False)
    return Backbone(spec.name, trunk)


def _from_torchscript(spec: BackboneSpec, path: Path, image_size: int) -> Backbone:
    """Copy a TorchScript file's weights into `spec`'s trunk; use the file as-is if they differ."""
    module, _ = _load_torchscript(path)
    trunk = spec.builder()
    try:
        _load_into(trunk, _strip_prefixes(module.state_dict()), spec, path.name, False)
    except SieveError as exc:
        message = f"{exc} The TorchScript module in {path.name} is used as it is."
        return Backbone(spec.name, module, load_message=message, probe_size=image_size)
    return Backbone(spec.name, trunk)


def _existing_file(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise SieveError(f"Weights file not found: {path}")
    if path.stat().st_size == 0:
        raise SieveError(f"Weights file {path} is empty.")
    return path


def _is_torchscript(path: Path) -> bool:
    """True for a TorchScript archive (a zip with compiled code), not a torch.save file."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    return any(n.endswith("/constants.pkl") or "/code/" in n for n in names)


def _load_torchscript(path: Path) -> tuple[nn.Module, dict[str, Any]]:
    """Load a TorchScript file on CPU, with the metadata Sieve's exporter stores beside it."""
    extra = {TORCHSCRIPT_META: ""}
    try:
        with quiet_torchscript():
            module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    except (RuntimeError, ValueError) as exc:
        raise SieveError(f"{path.name} is not a readable TorchScript file: {exc}") from exc
    try:
        meta = json.loads(extra[TORCHSCRIPT_META] or "{}")
    except ValueError:
        meta = {}
    return module, meta if isinstance(meta, dict) else {}


def _load_weights_only(path: Path) -> Any:
    """`torch.load` restricted to tensors and plain containers; anything else is refused."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        unsafe = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
        if unsafe:
            raise SieveError(
                f"{path.name} contains a Python object ({unsafe.group(1)}), not just weights; "
                "Sieve only loads weights-only state_dicts or TorchScript files, because "
                "unpickling arbitrary objects can run code."
            ) from exc
        raise SieveError(f"{path.name} is not a readable PyTorch weights file.") from exc
    except Exception as exc:
        raise SieveError(f"{path.name} is not a readable PyTorch weights file: {exc}") from exc


def _state_dict_of(payload: Any, path: Path) -> dict[str, Tensor]:
    """The tensors of a raw state_dict or of one nested under "state_dict" / "backbone"."""
    for key in ("state_dict", "backbone"):
        if isinstance(payload, Mapping) and isinstance(payload.get(key), Mapping):
            payload = payload[key]
            break
    if not isinstance(payload, Mapping) or not payload:
        raise SieveError(f"{path.name} does not hold a state_dict.")
    if not all(isinstance(k, str) and isinstance(v, Tensor) for k, v in payload.items()):
        raise SieveError(f"{path.name} holds entries that are not named tensors.")
    return _strip_prefixes(payload)


def _strip_prefixes(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Drop wrapper prefixes ("module.", "backbone.", "model.", ...) from every key."""
    return {_strip_key(key): value for key, value in state.items()}


def _strip_key(key: str) -> str:
    while key.startswith(_PREFIXES):
        key = key.split(".", 1)[1]
    return key


def _load_into(
    trunk: nn.Module,
    state: Mapping[str, Tensor],
    spec: BackboneSpec,
    source: str,
    allow_shape_mismatch: bool,
) -> list[str]:
    """Load `state` into `trunk` with key checks; returns keys skipped for their shape."""
    own = trunk.state_dict()
    state = {k: v for k, v in state.items() if k in own or not k.startswith(spec.head_prefix)}
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        raise SieveError(_key_error(spec.name, source, missing, unexpected))
    mismatched = [k for k in own if k in state and state[k].shape != own[k].shape]
    if mismatched and not allow_shape_mismatch:
        shapes = ", ".join(
            f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in mismatched[:3]
        )
        raise SieveError(f"{source} does not fit {spec.name}: shapes differ ({shapes}).")
    trunk.load_state_dict({k: v for k, v in state.items() if k not in mismatched}, strict=False)
    return mismatched


def _key_error(name: str, source: str, missing: list[str], unexpected: list[str]) -> str:
    parts = [f"{source} does not match {name}"]
    if missing:
        parts.append(f"{len(missing)} missing keys (e.g. {', '.join(missing[:3])})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected keys (e.g. {', '.join(unexpected[:3])})")
    return "; ".join(parts) + "."
