"""Self-supervised augmentations applied to whole batches as tensor ops.

`BatchAugment` turns a uint8 batch (B, 3, H, W) into one normalised float32 batch per view,
with lightly's parameter names, defaults and op order: random resized crop, horizontal flip,
vertical flip, rotation (all three as one per-sample affine resampling), colour jitter (random
op order per batch), random grayscale, Gaussian blur, solarisation, normalisation. Every random
number comes from the `torch.Generator` handed in, so runs are reproducible and resumable.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import PIL.Image
import torch
import torch.nn.functional as F
from torch import Tensor

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)
GRAY_WEIGHTS: tuple[float, float, float] = (0.2989, 0.587, 0.114)

PRESETS: tuple[str, ...] = (
    "simclr",
    "moco",
    "simsiam",
    "byol",
    "barlowtwins",
    "dino",
    "vicreg",
    "swav",
    "nnclr",
)
SMALL_IMAGE_MAX = 64
SMALL_IMAGE_CJ_STRENGTH = 0.5
CROP_TRIES = 10
# Uniforms per sample and view: crop tries and position, flips, rotation (apply, angle),
# colour jitter (apply, 4 factors), grayscale, blur (apply, sigma), solarise.
DRAWS_PER_SAMPLE = (2 * CROP_TRIES + 2) + 2 + 2 + 5 + 1 + 2 + 1
BRIGHTNESS, CONTRAST, SATURATION, HUE = range(4)

_PROBABILITIES = (
    "hflip_prob",
    "vflip_prob",
    "rotation_prob",
    "cj_prob",
    "grayscale_prob",
    "blur_prob",
    "solarize_prob",
)
_NON_NEGATIVE = ("cj_strength", "cj_bright", "cj_contrast", "cj_sat", "cj_hue")


@dataclass(frozen=True)
class ViewConfig:
    """One augmented view, with lightly's parameter names and semantics.

    `rotation_prob` rotates by 90 degrees counter-clockwise (lightly's `rr_prob`); with
    `rotation_degrees` > 0 it rotates by a uniform angle in [-deg, deg] instead, filling the
    corners with black. `solarize_before_blur` swaps the last two ops, as lightly's VICReg does.
    """

    size: int
    crop_min_scale: float = 0.08
    crop_max_scale: float = 1.0
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    hflip_prob: float = 0.5
    vflip_prob: float = 0.0
    rotation_prob: float = 0.0
    rotation_degrees: float = 0.0
    cj_prob: float = 0.8
    cj_strength: float = 1.0
    cj_bright: float = 0.8
    cj_contrast: float = 0.8
    cj_sat: float = 0.8
    cj_hue: float = 0.2
    grayscale_prob: float = 0.2
    blur_prob: float = 0.5
    blur_sigma: tuple[float, float] = (0.1, 2.0)
    solarize_prob: float = 0.0
    solarize_threshold: float = 0.5
    normalize: bool = True
    solarize_before_blur: bool = False

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            object.__setattr__(self, field.name, _coerce(field.name, getattr(self, field.name)))
        _check_ranges(self)

    @property
    def jitter(self) -> tuple[float, float, float, float]:
        """Brightness, contrast, saturation and hue jitter, each times `cj_strength`."""
        parts = (self.cj_bright, self.cj_contrast, self.cj_sat, self.cj_hue)
        b, c, s, h = (self.cj_strength * p for p in parts)
        return b, c, s, h


@functools.cache
def _field_kinds() -> dict[str, Any]:
    """The declared type of every ViewConfig field."""
    return typing.get_type_hints(ViewConfig)


def _coerce(name: str, value: Any) -> Any:
    """Convert `value` to the type of field `name`, or raise ValueError."""
    kind = _field_kinds()[name]
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false, got {value!r}")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"{name} must be an integer, got {value!r}")
        return int(value)
    if kind is float:
        return _to_float(name, value)
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise ValueError(f"{name} must be a pair of numbers, got {value!r}")
    return (_to_float(name, value[0]), _to_float(name, value[1]))


def _to_float(name: str, value: Any) -> float:
    """A finite float from an int or float, or ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(value)


def _check_ranges(view: ViewConfig) -> None:
    """Raise ValueError for values lightly/torchvision would reject or that make no sense."""
    problems = []
    if view.size < 1:
        problems.append(f"size must be >= 1, got {view.size}")
    if not 0 < view.crop_min_scale <= view.crop_max_scale <= 1:
        problems.append("crop scale must satisfy 0 < crop_min_scale <= crop_max_scale <= 1")
    if not 0 < view.crop_ratio[0] <= view.crop_ratio[1]:
        problems.append(f"crop_ratio must be 0 < min <= max, got {view.crop_ratio}")
    problems += [f"{n} must be in [0, 1]" for n in _PROBABILITIES if not 0 <= getattr(view, n) <= 1]
    problems += [f"{n} must be >= 0" for n in _NON_NEGATIVE if getattr(view, n) < 0]
    if view.jitter[HUE] > 0.5:
        problems.append("cj_strength * cj_hue must be <= 0.5")
    if not 0 <= view.rotation_degrees <= 180:
        problems.append("rotation_degrees must be in [0, 180]")
    if not 0 < view.blur_sigma[0] <= view.blur_sigma[1]:
        problems.append(f"blur_sigma must be 0 < min <= max, got {view.blur_sigma}")
    if not 0 <= view.solarize_threshold <= 1:
        problems.append("solarize_threshold must be in [0, 1]")
    if problems:
        raise ValueError("Invalid view: " + "; ".join(problems))


@dataclass(frozen=True)
class AugmentConfig:
    """The views produced for every sample, in order."""

    views: tuple[ViewConfig, ...]

    def __post_init__(self) -> None:
        views = tuple(self.views)
        if not views or not all(isinstance(v, ViewConfig) for v in views):
            raise ValueError("AugmentConfig needs at least one ViewConfig")
        object.__setattr__(self, "views", views)

    def to_dict(self) -> dict:
        """A JSON-serialisable dict that `from_dict` turns back into this config."""
        return {"views": [_view_to_dict(v) for v in self.views]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AugmentConfig:
        """Parse `to_dict`'s output; raise ValueError on unknown keys or bad values."""
        if not isinstance(d, Mapping) or set(d) != {"views"}:
            raise ValueError("An augmentation config is a mapping with the single key 'views'")
        views = d["views"]
        if isinstance(views, (str, bytes, Mapping)) or not isinstance(views, (list, tuple)):
            raise ValueError("'views' must be a list of view mappings")
        return cls(views=tuple(_view_from_dict(v) for v in views))


def _view_to_dict(view: ViewConfig) -> dict[str, Any]:
    """A view's fields, pairs as lists."""
    out = dataclasses.asdict(view)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


def _view_from_dict(d: Any) -> ViewConfig:
    """A ViewConfig from a mapping of field names; unknown keys are an error."""
    if not isinstance(d, Mapping):
        raise ValueError(f"Each view must be a mapping, got {type(d).__name__}")
    _check_keys(d)
    if "size" not in d:
        raise ValueError("Each view needs a 'size'")
    return ViewConfig(**d)


def _check_keys(keys: Mapping[str, Any]) -> None:
    """Raise ValueError naming the valid keys when any key is not a ViewConfig field."""
    valid = [f.name for f in dataclasses.fields(ViewConfig)]
    unknown = sorted(str(k) for k in keys if k not in valid)
    if unknown:
        raise ValueError(f"Unknown view option(s) {unknown}; valid options: {valid}")


def preset(
    method: str, image_size: int, small_images: bool | None = None, **overrides: Any
) -> AugmentConfig:
    """lightly's default augmentations for `method` at `image_size`.

    `small_images` (default: image_size <= 64) follows lightly's CIFAR examples: no blur and
    colour-jitter strength 0.5. `overrides` are ViewConfig fields set on every view.
    """
    _check_keys(overrides)
    if method not in PRESETS:
        raise ValueError(f"Unknown augmentation preset {method!r}; choose one of {PRESETS}")
    if small_images is None:
        small_images = image_size <= SMALL_IMAGE_MAX
    views = _PRESET_VIEWS[method](image_size)
    if small_images:
        small = {"blur_prob": 0.0, "cj_strength": SMALL_IMAGE_CJ_STRENGTH}
        views = [dataclasses.replace(v, **small) for v in views]
    return AugmentConfig(views=tuple(dataclasses.replace(v, **overrides) for v in views))


def _local_size(image_size: int) -> int:
    """Side of DINO/SwAV's low-resolution crops: 96 px at 224, at least 8 px."""
    return max(8, round(image_size * 96 / 224))


def _simclr(size: int) -> list[ViewConfig]:
    """SimCLR (and NNCLR): two views with ViewConfig's defaults."""
    return [ViewConfig(size=size)] * 2


def _moco(size: int) -> list[ViewConfig]:
    """MoCo v2 (and SimSiam): crops from 20 % up, weaker colour jitter."""
    view = ViewConfig(
        size=size, crop_min_scale=0.2, cj_bright=0.4, cj_contrast=0.4, cj_sat=0.4, cj_hue=0.1
    )
    return [view] * 2


def _byol(size: int) -> list[ViewConfig]:
    """BYOL (and Barlow Twins): asymmetric blur and solarisation."""
    common = {"size": size, "cj_bright": 0.4, "cj_contrast": 0.4, "cj_sat": 0.2, "cj_hue": 0.1}
    return [
        ViewConfig(**common, blur_prob=1.0, solarize_prob=0.0),
        ViewConfig(**common, blur_prob=0.1, solarize_prob=0.2),
    ]


def _vicreg(size: int) -> list[ViewConfig]:
    """VICReg: half-strength colour jitter, solarisation before blur."""
    view = ViewConfig(
        size=size, cj_strength=0.5, cj_sat=0.4, solarize_prob=0.1, solarize_before_blur=True
    )
    return [view] * 2


def _dino(size: int) -> list[ViewConfig]:
    """DINO: two global views (blur 1.0 / 0.1, solarise the second) and six local ones."""
    common = {"cj_strength": 0.5, "cj_sat": 0.4}
    glob = ViewConfig(size=size, crop_min_scale=0.4, **common, blur_prob=1.0)
    local = ViewConfig(
        size=_local_size(size), crop_min_scale=0.05, crop_max_scale=0.4, **common, blur_prob=0.5
    )
    second = dataclasses.replace(glob, blur_prob=0.1, solarize_prob=0.2)
    return [glob, second] + [local] * 6


def _swav(size: int) -> list[ViewConfig]:
    """SwAV: two high-resolution and six low-resolution views."""
    high = ViewConfig(size=size, crop_min_scale=0.14)
    low = ViewConfig(size=_local_size(size), crop_min_scale=0.05, crop_max_scale=0.14)
    return [high] * 2 + [low] * 6


_PRESET_VIEWS = {
    "simclr": _simclr,
    "moco": _moco,
    "simsiam": _moco,
    "byol": _byol,
    "barlowtwins": _byol,
    "dino": _dino,
    "vicreg": _vicreg,
    "swav": _swav,
    "nnclr": _simclr,
}


class BatchAugment:
    """Applies an AugmentConfig to a uint8 batch; all randomness from the generator."""

    def __init__(self, config: AugmentConfig) -> None:
        self.config = config

    def __call__(self, images: Tensor, generator: torch.Generator) -> list[Tensor]:
        """One float32 batch (B, 3, size, size) per view, in config order.

        `images` is uint8 (or float in [0, 1]) on the generator's device.
        """
        _check_batch(images, generator)
        x = images.float().div_(255) if images.dtype == torch.uint8 else images.float()
        orders = _jitter_orders(len(self.config.views), generator)
        return [
            _augment_view(x, view, _Draws(generator, x.shape[0]), order)
            for view, order in zip(self.config.views, orders, strict=True)
        ]


def _check_batch(images: Tensor, generator: torch.Generator) -> None:
    """Raise ValueError unless images is (B, 3, H, W) on the generator's device type."""
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"Expected images of shape (B, 3, H, W), got {tuple(images.shape)}")
    if images.device.type != generator.device.type:
        raise ValueError(
            f"Images on {images.device} but the generator on {generator.device}: use one device"
        )


def _jitter_orders(n_views: int, generator: torch.Generator) -> list[list[int]]:
    """A random order of the four colour-jitter ops per view (one host sync per call)."""
    keys = torch.rand(n_views, 4, generator=generator, device=generator.device)
    return keys.argsort(dim=1).tolist()


class _Draws:
    """All uniform [0, 1) numbers of one view, drawn at once and handed out by columns."""

    def __init__(self, generator: torch.Generator, batch: int) -> None:
        shape = (batch, DRAWS_PER_SAMPLE)
        self._u = torch.rand(shape, generator=generator, device=generator.device)
        self._next = 0

    def take(self, k: int = 1) -> Tensor:
        """The next k columns, (B, k); a single column squeezed to (B,)."""
        cols = self._u[:, self._next : self._next + k]
        self._next += k
        return cols.squeeze(1) if k == 1 else cols

    def coin(self, prob: float) -> Tensor:
        """Per-sample booleans, True with probability `prob`."""
        return self.take() < prob


def _augment_view(x: Tensor, view: ViewConfig, draws: _Draws, jitter_order: list[int]) -> Tensor:
    """One view of a float batch in [0, 1]: geometry, colour, blur, solarise, normalise."""
    out = _geometry(x, view, draws)
    out = _colour_jitter(out, view, draws, jitter_order)
    out = _random_grayscale(out, view.grayscale_prob, draws)
    if view.solarize_before_blur:
        out = _random_blur(_random_solarize(out, view, draws), view, draws)
    else:
        out = _random_solarize(_random_blur(out, view, draws), view, draws)
    return normalize(out) if view.normalize else out


def _lerp(lo: float, hi: float, u: Tensor) -> Tensor:
    """Map uniform [0, 1) samples to [lo, hi)."""
    return lo + (hi - lo) * u


def sample_crop_boxes(u: Tensor, height: int, width: int, view: ViewConfig) -> Tensor:
    """RandomResizedCrop boxes as (B, 4) rows (x0, y0, w, h) in pixels, torchvision-style.

    `u` holds (B, 2 * CROP_TRIES + 2) uniforms. Each sample makes CROP_TRIES tries of area
    fraction uniform in the scale range and log-uniform aspect ratio; the first box that fits
    wins, otherwise torchvision's central fallback. Boxes are continuous, not whole pixels.
    """
    area = height * width * _lerp(view.crop_min_scale, view.crop_max_scale, u[:, :CROP_TRIES])
    log_lo, log_hi = math.log(view.crop_ratio[0]), math.log(view.crop_ratio[1])
    ratio = torch.exp(_lerp(log_lo, log_hi, u[:, CROP_TRIES : 2 * CROP_TRIES]))
    w, h = torch.sqrt(area * ratio), torch.sqrt(area / ratio)
    fits = (w <= width) & (h <= height)
    first = fits.int().argmax(dim=1, keepdim=True)
    w, h = w.gather(1, first).squeeze(1), h.gather(1, first).squeeze(1)
    found = fits.any(dim=1)
    fallback_w, fallback_h = _fallback_box(height, width, view.crop_ratio)
    w, h = torch.where(found, w, fallback_w), torch.where(found, h, fallback_h)
    pos = torch.where(found[:, None], u[:, 2 * CROP_TRIES :], 0.5)
    return torch.stack([pos[:, 0] * (width - w), pos[:, 1] * (height - h), w, h], dim=1)


def _fallback_box(height: int, width: int, ratio: tuple[float, float]) -> tuple[float, float]:
    """torchvision's fallback: the largest central box with aspect ratio clamped to `ratio`."""
    in_ratio = width / height
    if in_ratio < ratio[0]:
        return float(width), width / ratio[0]
    if in_ratio > ratio[1]:
        return height * ratio[1], float(height)
    return float(width), float(height)


def _rotation_angles(view: ViewConfig, draws: _Draws) -> Tensor:
    """Per-sample counter-clockwise angles in degrees: 90 or uniform in [-deg, deg], or 0."""
    apply = draws.coin(view.rotation_prob).float()
    u = draws.take()
    if view.rotation_degrees > 0:
        return _lerp(-view.rotation_degrees, view.rotation_degrees, u) * apply
    return 90.0 * apply


def _geometry(x: Tensor, view: ViewConfig, draws: _Draws) -> Tensor:
    """Random resized crop, flips and rotation as one bilinear resampling per sample."""
    _, _, height, width = x.shape
    boxes = sample_crop_boxes(draws.take(2 * CROP_TRIES + 2), height, width, view)
    hflip, vflip = draws.coin(view.hflip_prob), draws.coin(view.vflip_prob)
    angles = _rotation_angles(view, draws)
    black_corners = view.rotation_degrees > 0 and view.rotation_prob > 0
    return resample(x, boxes, hflip, vflip, angles, view.size, black_corners)


def _cos_sin(degrees: Tensor) -> tuple[Tensor, Tensor]:
    """Cosine and sine, exact for multiples of 90 degrees."""
    radians = torch.deg2rad(degrees)
    cos, sin = torch.cos(radians), torch.sin(radians)
    right = torch.remainder(degrees, 90.0) == 0
    return torch.where(right, cos.round(), cos), torch.where(right, sin.round(), sin)


def resample(
    x: Tensor,
    boxes: Tensor,
    hflip: Tensor,
    vflip: Tensor,
    degrees: Tensor,
    size: int,
    black_corners: bool = False,
) -> Tensor:
    """Crop `boxes` (x0, y0, w, h), flip, then rotate counter-clockwise, to (B, 3, size, size).

    The order of lightly's transforms, as one bilinear `grid_sample` per sample. With
    `black_corners`, output pixels rotated in from outside the crop are 0, like RandomRotation.
    """
    batch, _, height, width = x.shape
    fx, fy = 1.0 - 2.0 * hflip.float(), 1.0 - 2.0 * vflip.float()
    cos, sin = _cos_sin(degrees)
    # Output coords o come from crop coords flips(R^-1 o), then image coords centre + scale * q.
    turn = torch.stack([fx * cos, -fx * sin, fy * sin, fy * cos], dim=1).view(batch, 2, 2)
    scale = torch.stack([boxes[:, 2] / width, boxes[:, 3] / height], dim=1)
    centre_x = (2 * boxes[:, 0] + boxes[:, 2]) / width - 1
    centre_y = (2 * boxes[:, 1] + boxes[:, 3]) / height - 1
    centre = torch.stack([centre_x, centre_y], dim=1)
    theta = torch.cat([turn * scale[:, :, None], centre[:, :, None]], dim=2)
    out_shape = [batch, 3, size, size]
    grid = F.affine_grid(theta, out_shape, align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out * _inside_crop(turn, out_shape) if black_corners else out


def _inside_crop(turn: Tensor, out_shape: list[int]) -> Tensor:
    """(B, 1, s, s) mask of output pixels whose un-rotated position lies inside the crop."""
    q = F.affine_grid(F.pad(turn, (0, 1)), out_shape, align_corners=False)
    return (q.abs().amax(dim=-1) <= 1.0).unsqueeze(1).to(turn.dtype)


def grayscale(x: Tensor) -> Tensor:
    """(B, 1, H, W) luma of an RGB batch, with torchvision's ITU-R 601 weights."""
    return (x * _channel_constant(GRAY_WEIGHTS, x.device)).sum(dim=1, keepdim=True)


def _per_sample(factor: Tensor) -> Tensor:
    """(B,) factors shaped to broadcast over (B, C, H, W)."""
    return factor.view(-1, 1, 1, 1)


def _blend(x: Tensor, other: Tensor, factor: Tensor) -> Tensor:
    """factor * x + (1 - factor) * other, clamped to [0, 1], per sample."""
    return torch.lerp(other, x, _per_sample(factor)).clamp_(0, 1)


def adjust_brightness(x: Tensor, factor: Tensor) -> Tensor:
    """Scale each sample by its factor, as torchvision's adjust_brightness."""
    return (x * _per_sample(factor)).clamp_(0, 1)


def adjust_contrast(x: Tensor, factor: Tensor) -> Tensor:
    """Blend each sample with the mean of its grayscale image, as torchvision."""
    mean = grayscale(x).mean(dim=(1, 2, 3), keepdim=True)
    return _blend(x, mean, factor)


def adjust_saturation(x: Tensor, factor: Tensor) -> Tensor:
    """Blend each sample with its grayscale image, as torchvision."""
    return _blend(x, grayscale(x), factor)


def _hue_sextant(x: Tensor, maxc: Tensor, spread: Tensor) -> Tensor:
    """(B, H, W) hue times 6, in [-1, 5), with torchvision's `_rgb_to_hsv` tie rules."""
    r, g, b = x.unbind(dim=1)
    is_r = maxc == r
    is_g = (maxc == g) & ~is_r
    red, green = is_r.float(), is_g.float()
    blue = 1.0 - red - green
    num = red * (g - b) + green * (b - r) + blue * (r - g)
    return num / torch.where(spread > 0, spread, 1.0) + 2.0 * green + 4.0 * blue


def adjust_hue(x: Tensor, shift: Tensor) -> Tensor:
    """Rotate each sample's hue by its shift in [-0.5, 0.5], as torchvision's adjust_hue.

    The HSV round trip in closed form: value (max) and chroma (max - min) stay, and each
    channel is min + chroma * the pure colour of the new hue.
    """
    maxc, minc = x.amax(dim=1), x.amin(dim=1)
    spread = maxc - minc
    hue6 = _hue_sextant(x, maxc, spread) + 6.0 * shift.view(-1, 1, 1)
    hue6 = torch.remainder(hue6, 6.0)
    pure = [(hue6 - 3.0).abs() - 1.0, 2.0 - (hue6 - 2.0).abs(), 2.0 - (hue6 - 4.0).abs()]
    pure_rgb = torch.stack(pure, dim=1).clamp_(0, 1)
    return torch.addcmul(minc.unsqueeze(1), spread.unsqueeze(1), pure_rgb)


_JITTER_OPS = {
    BRIGHTNESS: adjust_brightness,
    CONTRAST: adjust_contrast,
    SATURATION: adjust_saturation,
    HUE: adjust_hue,
}


def jitter_factors(u: Tensor, view: ViewConfig) -> Tensor:
    """(B, 4) factors from (B, 4) uniforms: b/c/s in [max(0, 1-x), 1+x], hue in [-h, h]."""
    factors = [_lerp(max(0.0, 1.0 - s), 1.0 + s, u[:, i]) for i, s in enumerate(view.jitter[:3])]
    factors.append(_lerp(-view.jitter[HUE], view.jitter[HUE], u[:, HUE]))
    return torch.stack(factors, dim=1)


def _colour_jitter(x: Tensor, view: ViewConfig, draws: _Draws, order: list[int]) -> Tensor:
    """torchvision's ColorJitter with probability cj_prob and per-sample factors."""
    apply = draws.coin(view.cj_prob)
    factors = jitter_factors(draws.take(4), view)
    if view.cj_prob == 0:
        return x
    out = x
    for op in order:
        if view.jitter[op] > 0:
            out = _JITTER_OPS[op](out, factors[:, op])
    return torch.where(_per_sample(apply), out, x)


def _random_grayscale(x: Tensor, prob: float, draws: _Draws) -> Tensor:
    """Replace samples by their 3-channel luma with probability `prob`."""
    apply = draws.coin(prob)
    if prob == 0:
        return x
    return torch.where(_per_sample(apply), grayscale(x).expand_as(x), x)


def blur_kernel_size(max_sigma: float, side: int) -> int:
    """Odd kernel covering +-3 sigma, no wider than reflect padding allows for `side`."""
    radius = min(math.ceil(3.0 * max_sigma), side - 1)
    return 2 * radius + 1


def gaussian_kernels(sigma: Tensor, kernel_size: int) -> Tensor:
    """(B, kernel_size) normalised 1-D Gaussians, sampled like torchvision's."""
    half = (kernel_size - 1) * 0.5
    pos = torch.linspace(-half, half, kernel_size, device=sigma.device)
    pdf = torch.exp(-0.5 * (pos[None, :] / sigma[:, None]) ** 2)
    return pdf / pdf.sum(dim=1, keepdim=True)


def gaussian_blur(x: Tensor, sigma: Tensor, kernel_size: int) -> Tensor:
    """Blur each sample with its own sigma: separable depthwise conv, reflect padding."""
    batch, channels, height, width = x.shape
    groups = batch * channels
    kernels = gaussian_kernels(sigma, kernel_size).repeat_interleave(channels, dim=0)
    pad = kernel_size // 2
    flat = F.pad(x.reshape(1, groups, height, width), (pad, pad, pad, pad), mode="reflect")
    flat = F.conv2d(flat, kernels.view(groups, 1, kernel_size, 1), groups=groups)
    flat = F.conv2d(flat, kernels.view(groups, 1, 1, kernel_size), groups=groups)
    return flat.view(batch, channels, height, width)


def _random_blur(x: Tensor, view: ViewConfig, draws: _Draws) -> Tensor:
    """Gaussian blur with probability blur_prob and sigma uniform in blur_sigma."""
    apply = draws.coin(view.blur_prob)
    sigma = _lerp(*view.blur_sigma, draws.take())
    if view.blur_prob == 0:
        return x
    size = blur_kernel_size(view.blur_sigma[1], min(x.shape[-2:]))
    return torch.where(_per_sample(apply), gaussian_blur(x, sigma, size), x)


def solarize(x: Tensor, threshold: float) -> Tensor:
    """Invert values at or above the threshold, as torchvision's solarize on floats."""
    return torch.where(x >= threshold, 1.0 - x, x)


def _random_solarize(x: Tensor, view: ViewConfig, draws: _Draws) -> Tensor:
    """Solarise samples with probability solarize_prob."""
    apply = draws.coin(view.solarize_prob)
    if view.solarize_prob == 0:
        return x
    return torch.where(_per_sample(apply), solarize(x, view.solarize_threshold), x)


@functools.lru_cache(maxsize=16)
def _channel_constant(values: tuple[float, float, float], device: torch.device) -> Tensor:
    """Per-channel constants as a (1, 3, 1, 1) tensor on `device`, made once per device."""
    return torch.tensor(values).view(1, 3, 1, 1).to(device)


def normalize(x: Tensor) -> Tensor:
    """Subtract the ImageNet mean and divide by the ImageNet std, per channel."""
    mean = _channel_constant(IMAGENET_MEAN, x.device)
    return (x - mean) / _channel_constant(IMAGENET_STD, x.device)


def render_views(
    image: PIL.Image.Image, config: AugmentConfig, n: int = 8, seed: int = 0
) -> list[PIL.Image.Image]:
    """`n` un-normalised augmented views of one image for a preview, cycling the views.

    View i is config.views[i % len(views)]; each view config renders its samples as a batch.
    """
    pixels = torch.from_numpy(np.asarray(image.convert("RGB")).copy()).permute(2, 0, 1)
    x = pixels.float().div_(255)[None]
    generator = torch.Generator().manual_seed(seed)
    views = config.views
    orders = _jitter_orders(len(views), generator)
    batches = []
    for index, view in enumerate(views[:n]):
        count = len(range(index, n, len(views)))
        plain = dataclasses.replace(view, normalize=False)
        batch = x.expand(count, -1, -1, -1)
        batches.append(_augment_view(batch, plain, _Draws(generator, count), orders[index]))
    return [_to_pil(batches[i % len(views)][i // len(views)]) for i in range(n)]


def _to_pil(x: Tensor) -> PIL.Image.Image:
    """A (3, H, W) float image in [0, 1] as an RGB PIL image."""
    array = (x * 255).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    return PIL.Image.fromarray(array)
