"""`TrainConfig`: the one definition of a training run.

The CLI flags (``sieve train --epochs ...``), the GUI form and the ``runs`` table row are all
generated from / stored as this dataclass. Each field's metadata carries its help text and, where
the values are a closed set, its choices; every number carries its :class:`Range`, which the
flag's argparse type, the form's spin box and :meth:`TrainConfig.validate` all read.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from app.core.errors import SieveError
from app.core.ranges import Range

OPTIMIZERS = ("auto", "sgd", "adamw", "lars")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


INT32_MAX = 2**31 - 1
POSITIVE = Range(0, low_open=True)
NON_NEGATIVE = Range(0)
COUNT = Range(1, integer=True)
STEPS = Range(0, integer=True)


def _field(
    default: Any,
    help: str,
    choices: tuple[str, ...] | None = None,
    range: Range | None = None,
) -> Any:
    metadata = {"help": help, "choices": choices, "range": range}
    if isinstance(default, dict):
        return field(default_factory=dict, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class TrainConfig:
    """Everything that defines a training run; ``None`` / "auto" means the method's default."""

    method: str = _field("simclr", "self-supervised method (see 'sieve methods')")
    backbone: str = _field("auto", "backbone name, or auto (resnet18_small up to 32 px)")
    weights: str = _field("none", "initial weights: none, imagenet, or a checkpoint file")
    image_size: int = _field(
        64, "training image side in pixels", range=Range(8, 4096, integer=True)
    )
    epochs: int = _field(10, "number of passes over the data", range=COUNT)
    batch_size: int = _field(
        128, "images per step, summed over all processes", range=Range(2, integer=True)
    )
    optimizer: str = _field("auto", "optimizer (auto: the method's)", OPTIMIZERS)
    lr: float | None = _field(
        None, "learning rate for batch 256, scaled by batch/256", range=POSITIVE
    )
    warmup_epochs: float | None = _field(
        None, "linear warm-up before the cosine decay", range=NON_NEGATIVE
    )
    weight_decay: float | None = _field(None, "weight decay", range=Range(0, 1))
    device: str = _field("auto", "auto = cuda > mps > cpu", DEVICES)
    precision: str = _field(
        "auto", "autocast precision on CUDA (auto: bf16 if supported)", PRECISIONS
    )
    seed: int = _field(
        0,
        "random seed (data order, augmentation, initialisation)",
        range=Range(0, INT32_MAX, integer=True),
    )
    workers: int = _field(
        0, "decoding threads (0: one per core, at most 8)", range=Range(0, 256, integer=True)
    )
    checkpoint_every: int = _field(
        100, "also checkpoint every N steps (0: epoch ends only)", range=STEPS
    )
    holdout: float = _field(
        0.1,
        "fraction of labelled samples held out for the kNN monitor",
        range=Range(0, 1, high_open=True),
    )
    knn_k: int = _field(200, "neighbours of the kNN monitor", range=COUNT)
    knn_temperature: float = _field(0.1, "temperature of the kNN monitor", range=POSITIVE)
    knn_every: int = _field(1, "run the kNN monitor every N epochs (0: never)", range=STEPS)
    objects: str = _field(
        "", "train on the object crops of this annotation source (auto: the ground truth)"
    )
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
        for spec in config_fields():
            limits = spec.metadata["range"]
            value = getattr(self, spec.name)
            if limits is not None and value is not None:
                limits.check(spec.name.replace("_", "-"), value)
            choices = spec.metadata["choices"]
            if choices and value not in choices:
                raise SieveError(f"{spec.name} must be one of: {', '.join(choices)}")
        for name in ("options", "augment"):
            for key, value in getattr(self, name).items():
                check_pair_value(name, key, value)


def config_fields() -> list[dataclasses.Field]:
    """The fields in declaration order (the CLI and the GUI form iterate these)."""
    return list(dataclasses.fields(TrainConfig))


def parse_pairs(items: Iterable[str], what: str) -> dict[str, float]:
    """``["a=1", "b=0.5"]`` as ``{"a": 1.0, "b": 0.5}`` (``-`` in keys read as ``_``)."""
    out: dict[str, float] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip().replace("-", "_")
        try:
            if not sep or not key:
                raise ValueError
            value = float(text)
        except ValueError:
            raise SieveError(f"{what} expects KEY=NUMBER, got {item.strip()!r}") from None
        check_pair_value(what, key, value)
        out[key] = value
    return out


def check_pair_value(what: str, key: str, value: float) -> None:
    """Refuse NaN and infinities in method options and augmentation overrides."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SieveError(f"{what} {key} must be a finite number, not {value}")
