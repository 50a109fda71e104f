"""A generated folder of photo-like images with planted problems, for quality tests and benches.

Ordinary images are smooth random colour fields with random shapes, sensor noise and varied
exposure, size and aspect ratio. Each planted kind damages its own fresh image (or copies an
ordinary one) in one way. :func:`make_planted` writes them and returns which file is which.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

PLANTED_KINDS = (
    "dark",
    "light",
    "blurry",
    "flat",
    "grayscale",
    "stretched",
    "tiny",
    "exact_copy",
    "recompressed",
)
# Which check should find each planted kind.
CHECK_OF_KIND = {
    "dark": "dark",
    "light": "light",
    "blurry": "blurry",
    "flat": "low_information",
    "grayscale": "grayscale",
    "stretched": "odd_aspect_ratio",
    "tiny": "odd_size",
    "exact_copy": "exact_duplicates",
    "recompressed": "near_duplicates",
}
_ASPECTS = ((4, 3), (3, 4), (1, 1), (3, 2), (2, 3), (16, 10))


@dataclass
class Planted:
    """Relative paths by kind (``"ordinary"`` and each of :data:`PLANTED_KINDS`)."""

    paths: dict[str, list[str]] = field(default_factory=dict)
    originals: dict[str, str] = field(default_factory=dict)  # copy -> the ordinary it copies

    def kind_of(self) -> dict[str, str]:
        return {path: kind for kind, paths in self.paths.items() for path in paths}


def photo(rng: np.random.Generator, size: tuple[int, int] | None = None) -> Image.Image:
    """One photo-like RGB image: smooth colour field, shapes, exposure, noise."""
    if size is None:
        aw, ah = _ASPECTS[rng.integers(len(_ASPECTS))]
        scale = rng.uniform(200, 320) / max(aw, ah)
        size = (round(aw * scale), round(ah * scale))
    width, height = size
    coarse = rng.uniform(0, 255, (rng.integers(3, 7), rng.integers(3, 7), 3)).astype(np.uint8)
    image = Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(rng.integers(3, 9)):
        x0, y0 = rng.uniform(-0.2, 1.0) * width, rng.uniform(-0.2, 1.0) * height
        w, h = rng.uniform(0.08, 0.5) * width, rng.uniform(0.08, 0.5) * height
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        box = (x0, y0, x0 + w, y0 + h)
        if rng.random() < 0.5:
            draw.ellipse(box, fill=colour)
        else:
            draw.rectangle(box, fill=colour)
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    pixels = pixels ** rng.uniform(0.7, 1.4)  # exposure
    pixels = pixels * rng.uniform(0.75, 1.0) + rng.uniform(0.0, 0.15)
    pixels += rng.normal(0.0, rng.uniform(0.005, 0.03), pixels.shape)
    return Image.fromarray(np.clip(pixels * 255.0, 0, 255).astype(np.uint8))


# How strongly each kind is damaged: (low, high) of its parameter, plain and mild.
STRENGTH = {
    "plain": {
        "dark": (0.06, 0.18),  # brightness factor
        "light": (0.06, 0.18),  # factor on the distance to white
        "blurry": (2.5, 5.0),  # Gaussian radius at 256 pixels
        "flat": (1.5, 1.5),  # noise sigma on a flat colour
        "stretched": (3.5, 6.0),  # aspect ratio
        "tiny": (12, 28),  # side in pixels
        "shrink": (0.6, 0.9),  # recompressed copies: scale
        "quality": (55, 75),  # ... and JPEG quality
    },
    "mild": {
        "dark": (0.2, 0.35),
        "light": (0.2, 0.35),
        "blurry": (1.2, 2.5),
        "flat": (5.0, 5.0),
        "stretched": (2.4, 3.5),
        "tiny": (40, 64),
        "shrink": (0.35, 0.6),
        "quality": (30, 50),
    },
}


def damage(
    kind: str, image: Image.Image, rng: np.random.Generator, strength: str = "plain"
) -> Image.Image:
    """``image`` with one planted problem (for the kinds that change pixels)."""
    low, high = STRENGTH[strength].get(kind, (0.0, 0.0))
    pixels = np.asarray(image, dtype=np.float32)
    if kind == "dark":
        return _img(pixels * rng.uniform(low, high))
    if kind == "light":
        return _img(255.0 - (255.0 - pixels) * rng.uniform(low, high))
    if kind == "blurry":
        radius = rng.uniform(low, high) * max(image.size) / 256
        return image.filter(ImageFilter.GaussianBlur(radius))
    if kind == "flat":
        colour = rng.uniform(20, 235, 3)
        noise = rng.normal(0.0, low, pixels.shape)
        return _img(np.broadcast_to(colour, pixels.shape) + noise)
    if kind == "grayscale":
        grey = image.convert("L")
        return grey if rng.random() < 0.5 else grey.convert("RGB")
    if kind == "stretched":
        ratio = rng.uniform(low, high)
        side = max(image.size)
        wide = (side, round(side / ratio))
        return image.resize(wide if rng.random() < 0.5 else wide[::-1], Image.Resampling.BICUBIC)
    if kind == "tiny":
        side = int(rng.integers(low, high))
        return image.resize((side, side), Image.Resampling.BICUBIC)
    raise ValueError(kind)


def make_planted(
    folder: Path,
    ordinary: int,
    per_kind: int,
    seed: int = 0,
    quality: int = 90,
    scale: float = 1.0,
    strength: str = "plain",
) -> Planted:
    """Write ``ordinary`` images and ``per_kind`` of each planted kind as JPEGs under ``folder``.

    Images are made at 200-320 pixels; ``scale`` enlarges every one but the tiny ones before
    saving (e.g. 3.2 for camera-like 640-1024 pixel photos at little generation cost);
    ``strength`` "mild" plants weaker problems (see :data:`STRENGTH`)."""
    rng = np.random.default_rng(seed)

    def save(image: Image.Image, name: str, kind: str = "ordinary") -> None:
        if scale != 1.0 and kind != "tiny":
            size = (round(image.width * scale), round(image.height * scale))
            image = image.resize(size, Image.Resampling.BICUBIC)
        image.save(folder / name, quality=quality)

    folder.mkdir(parents=True, exist_ok=True)
    planted = Planted()
    names: list[str] = []
    for i in range(ordinary):
        name = f"img_{i:06d}.jpg"
        save(photo(rng), name)
        names.append(name)
    planted.paths["ordinary"] = names
    sources = rng.choice(len(names), size=2 * per_kind, replace=False)
    for kind in PLANTED_KINDS:
        paths = []
        for j in range(per_kind):
            name = f"p_{kind}_{j:04d}.jpg"
            if kind == "exact_copy":
                source = names[sources[j]]
                shutil.copyfile(folder / source, folder / name)
                planted.originals[name] = source
            elif kind == "recompressed":
                source = names[sources[per_kind + j]]
                image = Image.open(folder / source)
                shrink = rng.uniform(*STRENGTH[strength]["shrink"])
                size = (round(image.width * shrink), round(image.height * shrink))
                image.resize(size, Image.Resampling.BICUBIC).save(
                    folder / name, quality=int(rng.integers(*STRENGTH[strength]["quality"]))
                )
                planted.originals[name] = source
            else:
                save(damage(kind, photo(rng), rng, strength), name, kind)
            paths.append(name)
        planted.paths[kind] = paths
    return planted


def _img(pixels: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
