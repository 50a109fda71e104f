"""A rough CPU training-time estimate and lighter settings when it is too long (Qt-free).

The estimate counts floating-point work: the backbone's GFLOPs at 224 px scaled by each view's
area, times three for the backward pass, over every image of every epoch, at an assumed CPU
throughput per thread. It is meant to tell minutes from days, not to be exact.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from app.core.ssl.augment import preset
from app.core.ssl.backbones import resolve_backbone_name
from app.core.ssl.config import TrainConfig
from app.core.ssl.methods import METHODS

GFLOPS_224 = {
    "resnet18": 1.82,
    "resnet34": 3.67,
    "resnet50": 4.11,
    "mobilenet_v3_small": 0.06,
    "mobilenet_v3_large": 0.22,
    "efficientnet_b0": 0.39,
    "convnext_tiny": 4.46,
    "resnet18_small": 0.56 * (224 / 32) ** 2,
}
"""Forward GFLOPs per image at 224 px (resnet18_small: 0.56 at 32 px, its CIFAR size)."""
UNKNOWN_GFLOPS = 4.0
CPU_GFLOPS_PER_THREAD = 8.0
HEAVY_SECONDS = 15 * 60
"""A CPU run estimated to take longer than this is called heavy."""


def image_gflops(config: TrainConfig) -> float:
    """Training work per image and epoch: forward and backward over every augmented view."""
    name = resolve_backbone_name(config.backbone, config.image_size)
    base = GFLOPS_224.get(name, UNKNOWN_GFLOPS)
    views = preset(METHODS[config.method].defaults.augment, config.image_size).views
    return 3.0 * base * sum((view.size / 224) ** 2 for view in views)


def cpu_seconds(config: TrainConfig, images: int, threads: int | None = None) -> float:
    """Roughly how long ``config`` trains on ``images`` images on this CPU."""
    threads = threads or torch.get_num_threads()
    work = config.epochs * images * image_gflops(config)
    return work / (CPU_GFLOPS_PER_THREAD * max(1, threads))


def _lighter_backbone(config: TrainConfig, candidate: str, image_size: int) -> str:
    """``candidate`` unless the configured backbone is already cheaper at ``image_size``."""
    current = resolve_backbone_name(config.backbone, image_size)
    cheaper = GFLOPS_224.get(current, UNKNOWN_GFLOPS) <= GFLOPS_224[candidate]
    return config.backbone if cheaper else candidate


def faster_config(config: TrainConfig, images: int) -> TrainConfig:
    """The first of a ladder of lighter settings that fits the heavy limit, else the lightest."""
    size64, size32 = min(config.image_size, 64), min(config.image_size, 32)
    ladder = [
        replace(config, image_size=size64, backbone=_lighter_backbone(config, "resnet18", size64)),
        replace(
            config,
            image_size=size64,
            backbone=_lighter_backbone(config, "resnet18", size64),
            epochs=min(config.epochs, 20),
        ),
        replace(
            config,
            image_size=size32,
            backbone=_lighter_backbone(config, "mobilenet_v3_small", size32),
            epochs=min(config.epochs, 20),
        ),
    ]
    for candidate in ladder:
        if cpu_seconds(candidate, images) <= HEAVY_SECONDS:
            return candidate
    return replace(ladder[-1], epochs=min(config.epochs, 5))


def rough_duration(seconds: float) -> str:
    """An estimate in words: "about 5 min", "about 3 h", "about 2 days"."""
    minutes = seconds / 60
    if minutes < 1.5:
        return "about a minute"
    if minutes < 90:
        return f"about {minutes:.0f} min"
    hours = minutes / 60
    if hours < 48:
        return f"about {hours:.0f} h"
    return f"about {hours / 24:.0f} days"
