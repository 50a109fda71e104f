"""Everything about a training config that can be checked before any work, so a rejected run
leaves the project as it was: no run row, no cache, no checkpoint folder.

``sieve train``, the Train tab's Start and :func:`app.core.ssl.trainer.train_job` all call these.
"""

from __future__ import annotations

from app.core.errors import SieveError
from app.core.ssl.augment import preset
from app.core.ssl.backbones import check_weights, resolve_backbone_name
from app.core.ssl.config import TrainConfig
from app.core.ssl.devices import resolve_device
from app.core.ssl.methods import METHODS
from app.core.ssl.methods.base import resolve_options
from app.core.store.project import Project

MIN_PER_PROCESS = 2
"""Images each process needs in a step (contrastive methods compare images with each other)."""


def check_config(config: TrainConfig) -> None:
    """Raise SieveError naming the first setting that cannot train."""
    config.validate()
    if config.method not in METHODS:
        raise SieveError(f"unknown method {config.method!r}: choose from {', '.join(METHODS)}")
    resolve_backbone_name(config.backbone, config.image_size)
    check_weights(config.weights)
    resolve_options(config.method, METHODS[config.method].options, config.options)
    check_augment(config.method, config.image_size, config.augment)
    resolve_device(config.device)


def check_augment(method: str, image_size: int, augment: dict[str, float]) -> None:
    """Raise SieveError when the augmentation overrides are unknown or out of range."""
    try:
        preset(METHODS[method].defaults.augment, image_size, **augment)
    except ValueError as error:
        raise SieveError(f"augmentation: {error}") from None


def check_dataset(project: Project, config: TrainConfig, processes: int = 1) -> None:
    """Refuse a project with too few usable images, or a batch too small for ``processes``."""
    need = MIN_PER_PROCESS * processes
    if config.batch_size < need:
        raise SieveError(
            f"batch size {config.batch_size} is too small for {processes} processes: "
            f"use at least {need} ({MIN_PER_PROCESS} per process)"
        )
    count = project.sample_count(status="ok")
    if count < need:
        raise SieveError(
            f"the project at {project.path} has {count} usable image(s); "
            f"training needs at least {need} images"
        )
