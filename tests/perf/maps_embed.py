"""Embedding throughput: Sieve's embedding job from PNG files against the forward-only ceiling.

Fashion-MNIST, the first 10k training images written once as PNG files (the folder bench_train.py
uses), a fresh project (cold: no training cache, every file is decoded), ResNet-18 with random
init at 64 px, batch 256, CPU. The ceiling is the same backbone's forward pass in inference mode
on pre-made tensors of the same shape and layout, measured before and after Sieve's run (mean).

    python tests/perf/maps_embed.py
    python tests/perf/maps_embed.py --images 2000   # a quick look
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from common import fashion_mnist, print_table
from PIL import Image

from app.core.embeddings.embed import EmbedConfig, embed_job
from app.core.ingest.indexing import IndexOptions, index_job
from app.core.jobs import CancelToken, run_job
from app.core.ssl.backbones import build_backbone
from app.core.store.project import Project

BACKBONE = "resnet18"
SIZE = 64
BATCH = 256
TARGET = 0.8
WORK = Path(tempfile.gettempdir()) / "sieve-bench"


def bench_embed(images: int = 10_000, work: Path = WORK) -> None:
    """Print Sieve's embedding images/s, the forward-only ceiling and their ratio."""
    root = fashion_mnist_pngs(images, work)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {images:,} PNG files")
    ceilings = [measure_ceiling()]
    rate, embedded = run_sieve(root)
    ceilings.append(measure_ceiling())
    ceiling = sum(ceilings) / len(ceilings)
    each = ", ".join(f"{c:,.0f}" for c in ceilings)
    print(f"ceiling: {each} images/s (mean {ceiling:,.0f})")
    ratio = rate / ceiling
    print_table(
        f"Embedding {embedded:,} Fashion-MNIST PNGs: {BACKBONE} random init, {SIZE} px, "
        f"batch {BATCH}, CPU, cold (no training cache); target >= {TARGET:.1f}x",
        ["system", "images/s", "vs ceiling"],
        [
            ["sieve embed (from files)", f"{rate:,.0f}", f"{ratio:.2f}x"],
            ["forward-only ceiling", f"{ceiling:,.0f}", "1.00x"],
        ],
    )


def fashion_mnist_pngs(count: int, work: Path) -> Path:
    """``work/fmnist-png-<count>/class_<label>/<index>.png``, written once."""
    root = work / f"fmnist-png-{count}"
    if (root / ".done").exists():
        return root
    images, labels = fashion_mnist("train")
    for index, (image, label) in enumerate(zip(images[:count], labels[:count], strict=True)):
        folder = root / f"class_{label}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{index:05d}.png")
    (root / ".done").touch()
    return root


def run_sieve(root: Path) -> tuple[float, int]:
    """Index ``root`` into a fresh project and embed it; returns (images/s, images embedded)."""
    project_dir = Path(tempfile.mkdtemp(prefix="sieve-bench-embed-"))
    with Project.create(project_dir, root) as project:
        started = time.perf_counter()
        run_job(index_job(project, IndexOptions(), CancelToken()))
        print(f"indexed in {time.perf_counter() - started:.1f} s")
        config = EmbedConfig(backbone=BACKBONE, image_size=SIZE, batch_size=BATCH, device="cpu")
        started = time.perf_counter()
        embedding_set = run_job(embed_job(project, config, CancelToken()))
        seconds = time.perf_counter() - started
        count = int(embedding_set.metrics["count"])
        vectors = embedding_set.vectors()
        assert vectors.shape == (count, 512) and np.isfinite(vectors).all()
    print(f"sieve: {count:,} images in {seconds:.1f} s ({count / seconds:,.0f} images/s)")
    return count / seconds, count


@torch.inference_mode()
def measure_ceiling(batches: int = 10) -> float:
    """Images/s of the backbone's forward pass on ready tensors (Sieve's layout and mode)."""
    backbone = build_backbone(BACKBONE, None, SIZE).eval().to(memory_format=torch.channels_last)
    x = torch.randn(BATCH, 3, SIZE, SIZE).contiguous(memory_format=torch.channels_last)
    backbone(x)
    started = time.perf_counter()
    for _ in range(batches):
        backbone(x)
    return batches * BATCH / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--work", type=Path, default=WORK)
    args = parser.parse_args()
    bench_embed(args.images, args.work)


if __name__ == "__main__":
    main()
