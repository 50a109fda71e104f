"""Quick look: a small, fast embedding that needs no training and no network.

A torchvision ResNet-18 at a small input side, with ImageNet weights when torchvision's cache
(``$TORCH_HOME/hub/checkpoints``) already holds them, else a seeded random init: this never
downloads. The quick look is a configuration of the ordinary embedding job (``EmbedConfig(quick=
True)``, see ``embed.quick_config``): same resumable batches, progress and cancel, reading the
project's stored thumbnails instead of the original files where they hold enough pixels.

Why these sides. Random init, Fashion-MNIST 4k test images, 10-NN accuracy, mean of 3 seeds,
2 cores (AMD EPYC, AVX2): raw pixels 0.787; ResNet-18 at 32 px 0.784 (1,340 images/s), 36 px
0.794 (500/s), 40 px 0.794 (444/s), 48 px 0.795 (386/s), 64 px 0.791 (257/s); an earlier machine
gave 112 px 0.78, 224 px 0.76 (34/s), MobileNetV3-small at 64 px 0.75. Random filters have no
scale to match: from 36 px on the neighbours stop improving while the cost grows with the square
of the side, so random weights run at :data:`QUICK_SIZE` (40 px, still 2 x 2 cells in ResNet's
last stage). ImageNet filters were learnt on objects a few times larger, so cached ImageNet
weights keep :data:`IMAGENET_SIZE` (64 px; not measured here: no weights offline). The embedding
job runs the backbone's last stage, on 3 x 3 and 2 x 2 maps at 40 px, as matrix products
(``small_maps.inference_trunk``: the same features, 1.25x the images/s).
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torchvision

from app.core.errors import SieveError
from app.core.ssl.backbones import BACKBONES, Backbone, build_backbone

log = logging.getLogger("sieve")

QUICK_BACKBONE = "resnet18"
QUICK_SIZE = 40
"""Input side with random weights (what runs offline)."""
IMAGENET_SIZE = 64
"""Input side with cached ImageNet weights."""
RANDOM_SEED = 0
IMAGENET = "imagenet"
RANDOM = "random"
_TITLES = {"resnet18": "ResNet-18"}


@dataclass(frozen=True)
class QuickModel:
    """The quick-look backbone (eval mode), its input side and which weights it holds."""

    backbone: Backbone
    input_size: int
    weights: str
    """``"imagenet"`` or ``"random"``."""
    note: str
    """One line for the user: what this is (see :func:`describe`)."""


def cached_imagenet_weights(name: str = QUICK_BACKBONE) -> Path | None:
    """torchvision's cached ImageNet weights file for backbone ``name``, if it is on disk."""
    spec = BACKBONES[name]
    if spec.torchvision_name is None:
        return None
    url = torchvision.models.get_model_weights(spec.torchvision_name).DEFAULT.url
    path = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)
    return path if path.is_file() and path.stat().st_size > 0 else None


def quick_model(
    device: torch.device | str = "cpu", image_size: int | None = None
) -> tuple[Backbone, int, str]:
    """``(backbone on device, eval mode; input side; "imagenet" or "random")``: the quick look's
    model, for images or object crops alike."""
    model = load_quick_model(image_size)
    backbone = model.backbone.to(device, memory_format=torch.channels_last).eval()
    return backbone, model.input_size, model.weights


def load_quick_model(
    image_size: int | None = None, name: str = QUICK_BACKBONE, imagenet: bool = True
) -> QuickModel:
    """The quick look's backbone on the CPU: cached ImageNet weights, else a seeded random init.

    Nothing is downloaded: without the cached file the weights are random, and the note says so.
    ``imagenet=False`` rebuilds a random-weights quick look (e.g. one stored earlier).
    ``image_size`` None: the side that suits the weights found (:func:`input_side`).
    """
    backbone: Backbone | None = None
    why = "no ImageNet weights offline" if imagenet else None
    if imagenet and cached_imagenet_weights(name) is not None:
        try:
            backbone = build_backbone(name, IMAGENET, image_size or input_side(IMAGENET))
        except (pickle.UnpicklingError, EOFError, ValueError, SieveError) as error:
            log.warning("the cached ImageNet weights of %s are unreadable: %s", name, error)
        if backbone is None or backbone.fell_back:
            why, backbone = "the cached ImageNet weights could not be read", None
    if backbone is not None:
        weights = IMAGENET
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_SEED)
            backbone = build_backbone(name, None, image_size or input_side(RANDOM))
        weights = RANDOM
    side = image_size or input_side(weights)
    note = describe(name, weights, side, None if weights == IMAGENET else why)
    return QuickModel(backbone.eval(), side, weights, note)


def input_side(weights: str) -> int:
    """The quick look's input side for ``weights`` ("imagenet" or "random")."""
    return IMAGENET_SIZE if weights == IMAGENET else QUICK_SIZE


def describe(name: str, weights: str, image_size: int, why: str | None = None) -> str:
    """'Quick look: ResNet-18, random weights (no ImageNet weights offline), 40 px'."""
    title = _TITLES.get(name, name)
    kind = "ImageNet weights" if weights == IMAGENET else "random weights"
    reason = f" ({why})" if why else ""
    return f"Quick look: {title}, {kind}{reason}, {image_size} px"


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """The quick look's autocast on ``device``: bf16 on a GPU, and on a CPU with native bf16
    (AMX or AVX512-BF16: 1.4x the images/s of fp32 at 64 px, vectors within cosine 0.99998);
    None (fp32) elsewhere, where emulated bf16 would be slower."""
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type != "cpu":
        return None
    checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    native = any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)
    return torch.bfloat16 if native else None


class Lanes:
    """A CPU batch as one chunk per lane, each lane a thread with one intra-op torch thread.

    On a busy machine OpenMP's barriers stall whenever one of its threads is descheduled: on
    2 cores at load 7, ResNet-18 at 64 px ran 310 images/s with two OpenMP threads and 500 to
    1,000 with two lanes. The calling thread's own torch thread count is left as it was.
    """

    def __init__(self, count: int) -> None:
        self.count = count
        self.pool = ThreadPoolExecutor(count, "sieve-quick-lane")

    def run(
        self, forward: Callable[[torch.Tensor], np.ndarray], pixels: torch.Tensor
    ) -> np.ndarray:
        """``forward`` over ``pixels`` split in ``count`` chunks, the rows in their order."""
        chunks = [chunk for chunk in torch.tensor_split(pixels, self.count) if len(chunk)]
        return np.concatenate(list(self.pool.map(lambda c: _one_thread(forward, c), chunks)))

    def close(self) -> None:
        self.pool.shutdown(wait=True)


def _one_thread(forward: Callable[[torch.Tensor], np.ndarray], chunk: torch.Tensor) -> np.ndarray:
    torch.set_num_threads(1)  # this lane's thread only
    return forward(chunk)


def cpu_lanes(device: torch.device) -> Lanes | None:
    """Lanes for a quick look on the CPU (one per torch thread), None where one is enough."""
    threads = torch.get_num_threads()
    return Lanes(threads) if device.type == "cpu" and threads > 1 else None
