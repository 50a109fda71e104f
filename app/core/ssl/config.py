"""`TrainConfig`: the one definition of a training run.

The CLI flags (``sieve train --epochs ...``), the GUI form and the ``runs`` table row are all
generated from / stored as this dataclass. Each field's metadata carries its help text and, where
the values are a closed set, its choices.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from app.core.errors import SieveError

OPTIMIZERS = ("auto", "sgd", "adamw", "lars")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def _field(default: Any, help: str, choices: tuple[str, ...] | None = None) -> Any:
    metadata = {"help": help, "choices": choices}
    if isinstance(default, dict):
        return field(default_factory=dict, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class TrainConfig:
    """Everything that defines a training run; ``None`` / "auto" means the method's default."""

    method: str = _field("simclr", "self-supervised method (see 'sieve methods')")
    backbone: str = _field("auto", "backbone name, or auto (resnet18_small up to 32 px)")
    weights: str = _field("none", "initial weights: none, imagenet, or a checkpoint file")
    image_size: int = _field(64, "training image side in pixels")
    epochs: int = _field(10, "number of passes over the data")
    batch_size: int = _field(128, "images per step, summed over all processes")
    optimizer: str = _field("auto", "optimizer (auto: the method's)", OPTIMIZERS)
    lr: float | None = _field(None, "learning rate for batch 256, scaled by batch/256")
    warmup_epochs: float | None = _field(None, "linear warm-up before the cosine decay")
    weight_decay: float | None = _field(None, "weight decay")
    device: str = _field("auto", "auto = cuda > mps > cpu", DEVICES)
    precision: str = _field(
        "auto", "autocast precision on CUDA (auto: bf16 if supported)", PRECISIONS
    )
    seed: int = _field(0, "random seed (data order, augmentation, initialisation)")
    workers: int = _field(0, "decoding threads (0: one per core, at most 8)")
    checkpoint_every: int = _field(100, "also checkpoint every N steps (0: epoch ends only)")
    holdout: float = _field(0.1, "fraction of labelled samples held out for the kNN monitor")
    knn_k: int = _field(200, "neighbours of the kNN monitor")
    knn_temperature: float = _field(0.1, "temperature of the kNN monitor")
    knn_every: int = _field(1, "run the kNN monitor every N epochs (0: never)")
    options: dict[str, float] = _field({}, "method hyperparameters, e.g. temperature=0.2")
    augment: dict[str, float] = _field({}, "augmentation overrides, e.g. blur_prob=0")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], check: bool = True) -> TrainConfig:
        """The config of ``data``, validated unless ``check`` is False (a stored run's config
        loads as it was recorded, even where today's ranges are stricter)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise SieveError(f"unknown training settings: {', '.join(unknown)}")
        config = cls(**data)
        if check:
            config.validate()
        return config

    def validate(self) -> None:
        """Refuse values that cannot train, with a message naming the setting."""
        for name in ("image_size", "epochs", "batch_size", "knn_k"):
            if getattr(self, name) < 1:
                raise SieveError(f"{name.replace('_', '-')} must be at least 1")
        if self.image_size < 8:
            raise SieveError("image-size must be at least 8 pixels")
        if not 0 <= self.holdout < 1:
            raise SieveError("holdout must be in [0, 1)")
        for name, choices in (
            ("optimizer", OPTIMIZERS),
            ("device", DEVICES),
            ("precision", PRECISIONS),
        ):
            if getattr(self, name) not in choices:
                raise SieveError(f"{name} must be one of: {', '.join(choices)}")
        if self.lr is not None and self.lr <= 0:
            raise SieveError("lr must be positive")
        if self.checkpoint_every < 0 or self.knn_every < 0 or self.workers < 0:
            raise SieveError("checkpoint-every, knn-every and workers cannot be negative")


def config_fields() -> list[dataclasses.Field]:
    """The fields in declaration order (the CLI and the GUI form iterate these)."""
    return list(dataclasses.fields(TrainConfig))
