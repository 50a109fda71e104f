"""Checks a form's TrainConfig before a run starts, so bad settings reach no worker (Qt-free)."""

from __future__ import annotations

from app.core.errors import SieveError
from app.core.ssl.augment import preset
from app.core.ssl.backbones import resolve_backbone_name
from app.core.ssl.config import TrainConfig
from app.core.ssl.devices import resolve_device
from app.core.ssl.methods import METHODS
from app.core.ssl.methods.base import resolve_options


def check_config(config: TrainConfig) -> None:
    """Raise SieveError naming the first setting that cannot train."""
    config.validate()
    if config.method not in METHODS:
        raise SieveError(f"unknown method {config.method!r}: choose from {', '.join(METHODS)}")
    resolve_backbone_name(config.backbone, config.image_size)
    resolve_options(config.method, METHODS[config.method].options, config.options)
    check_augment(config.method, config.image_size, config.augment)
    resolve_device(config.device)
    if config.batch_size < 2:
        raise SieveError("batch size must be at least 2 (contrastive methods compare images)")


def check_augment(method: str, image_size: int, augment: dict[str, float]) -> None:
    """Raise SieveError when the augmentation overrides are unknown or out of range."""
    try:
        preset(METHODS[method].defaults.augment, image_size, **augment)
    except ValueError as error:
        raise SieveError(f"augmentation: {error}") from None


def parse_pairs(text: str, what: str) -> dict[str, float]:
    """``"a=1, b=0.5"`` (commas or new lines) as ``{"a": 1.0, "b": 0.5}``, as the CLI reads it."""
    out: dict[str, float] = {}
    for item in text.replace("\n", ",").split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        try:
            if not sep or not key:
                raise ValueError
            out[key] = float(value)
        except ValueError:
            raise SieveError(f"{what}: expected KEY=NUMBER, got {item!r}") from None
    return out


def format_pairs(values: dict[str, float]) -> str:
    """The inverse of :func:`parse_pairs`."""
    return ", ".join(f"{key}={value:.12g}" for key, value in values.items())
