"""Draw Sieve's application icon (a sieve: a round mesh catching a few bright grains).

Writes ``resources/icons/sieve-<size>.png`` for the window, the .desktop entry and bundles.
Deterministic; run again after changing the drawing.
"""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw

SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
OUT = Path(__file__).resolve().parents[1] / "resources" / "icons"
SCALE = 4  # draw large, then downsample for smooth edges


def draw(size: int) -> Image.Image:
    big = size * SCALE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    margin = big * 0.06
    pen.rounded_rectangle(
        (margin, margin, big - margin, big - margin), radius=big * 0.22, fill=(32, 92, 160, 255)
    )
    centre, radius = big / 2, big * 0.32
    pen.ellipse(
        (centre - radius, centre - radius, centre + radius, centre + radius),
        outline=(235, 242, 250, 255),
        width=max(SCALE, int(big * 0.045)),
    )
    if size >= 32:
        step = radius / 3
        for i in range(-2, 3):
            offset = i * step
            half = math.sqrt(max(radius**2 - offset**2, 0)) * 0.92
            width = max(SCALE, int(big * 0.018))
            pen.line(
                (centre - half, centre + offset, centre + half, centre + offset),
                fill=(200, 220, 240, 255),
                width=width,
            )
            pen.line(
                (centre + offset, centre - half, centre + offset, centre + half),
                fill=(200, 220, 240, 255),
                width=width,
            )
    grain = big * 0.055
    for dx, dy in ((-0.12, -0.1), (0.1, 0.04), (-0.02, 0.15)):
        x, y = centre + dx * big, centre + dy * big
        pen.ellipse((x - grain, y - grain, x + grain, y + grain), fill=(255, 196, 61, 255))
    return image.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for size in SIZES:
        draw(size).save(OUT / f"sieve-{size}.png", optimize=True)


if __name__ == "__main__":
    main()
