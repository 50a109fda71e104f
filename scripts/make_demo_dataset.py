"""Build Sieve's bundled demo dataset from the Fashion-MNIST test split.

Picks a fixed-seed random sample of images per class from ``t10k`` and writes them as 8-bit
grayscale PNGs to ``resources/demo/<class>/<index in t10k, 5 digits>.png``. The same inputs and
seed always give the same files.

Usage (from the repository root)::

    python scripts/make_demo_dataset.py [--source DIR] [--out DIR] [--per-class N] [--seed S]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from app.core.data.idx import read_idx  # noqa: E402

CLASSES = (
    "t-shirt_top",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle_boot",
)
DEFAULT_SOURCE = Path("/usr/share/datasets/fashion-mnist")
DEFAULT_OUT = REPO / "resources" / "demo"


def pick_indices(labels: np.ndarray, per_class: int, seed: int) -> dict[int, np.ndarray]:
    """Return, per class label, ``per_class`` sorted t10k indices drawn with a fixed seed."""
    rng = np.random.default_rng(seed)
    picks: dict[int, np.ndarray] = {}
    for label in range(len(CLASSES)):
        members = np.flatnonzero(labels == label)
        if len(members) < per_class:
            raise SystemExit(f"class {CLASSES[label]} has only {len(members)} images")
        picks[label] = np.sort(rng.choice(members, size=per_class, replace=False))
    return picks


def write_class(images: np.ndarray, indices: np.ndarray, folder: Path) -> None:
    """Write the chosen images of one class as optimised 8-bit grayscale PNGs."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for index in indices:
        image = Image.fromarray(images[index])
        image.save(folder / f"{int(index):05d}.png", format="PNG", optimize=True)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, read the t10k split and write the demo folders."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--per-class", type=int, default=40)
    parser.add_argument("--seed", type=int, default=20170825)
    args = parser.parse_args(argv)

    images = read_idx(args.source / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(args.source / "t10k-labels-idx1-ubyte.gz")
    if images.shape[0] != labels.shape[0] or images.ndim != 3:
        raise SystemExit(f"unexpected shapes: images {images.shape}, labels {labels.shape}")
    for label, indices in pick_indices(labels, args.per_class, args.seed).items():
        write_class(images, indices, args.out / CLASSES[label])
    print(f"wrote {args.per_class * len(CLASSES)} images to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
