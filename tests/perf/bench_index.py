"""Benchmark: index + thumbnail 10k generated 1024x768 JPEGs, Sieve against a plain Pillow loop.

The peer is the loop everyone writes first: ``Image.open(p).thumbnail(...)`` then save, one file
at a time. Both run in this process on the same files (page-cached), so the ratio is what counts.
Also measured: re-opening the indexed project (nothing changed) and reading 1,000 cached thumbnails.

    python tests/perf/bench_index.py [--count 10000] [--data /tmp/sieve-bench/jpegs]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from common import fashion_mnist, print_table, timed
from PIL import Image

from app.core.data.images import THUMB_SIZE
from app.core.ingest.indexing import index_job
from app.core.ingest.thumbnails import thumbnail_job
from app.core.jobs import run_job
from app.core.store.project import Project

WIDTH, HEIGHT = 1024, 768


def make_jpegs(folder: Path, count: int) -> list[Path]:
    """Fashion-MNIST items enlarged onto textured backgrounds: photo-like JPEGs of ~100 KB."""
    images, labels = fashion_mnist("train")
    paths = [folder / f"class_{labels[i]}" / f"{i:06d}.jpg" for i in range(count)]
    if all(path.exists() for path in paths):
        return paths
    for label in set(labels[:count].tolist()):
        (folder / f"class_{label}").mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)

    def write(i: int) -> None:
        rng = np.random.default_rng(i)
        tint = rng.uniform(0.3, 1.0, 3).astype(np.float32)
        background = (
            np.sin(xx / rng.uniform(20, 90)) + np.cos(yy / rng.uniform(20, 90))
        ) * 40 + 110
        item = np.asarray(Image.fromarray(images[i]).resize((HEIGHT, HEIGHT), Image.BILINEAR))
        canvas = np.repeat(background[..., None], 3, axis=2) * tint
        left = (WIDTH - HEIGHT) // 2
        canvas[:, left : left + HEIGHT] += item[..., None].astype(np.float32) * 0.8
        canvas += rng.normal(0, 6, canvas.shape).astype(np.float32)
        Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8)).save(paths[i], quality=90)

    with ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        list(pool.map(write, range(count)))
    return paths


def plain_pillow_loop(paths: list[Path], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for index, path in enumerate(paths):
        image = Image.open(path)
        image.thumbnail((THUMB_SIZE, THUMB_SIZE))
        image.save(out / f"{index}.jpg", quality=85)


def sieve_index(data: Path, project_dir: Path) -> int:
    with Project.for_dataset(data, project_dir) as project:
        run_job(index_job(project))
        run_job(thumbnail_job(project))
        return project.sample_count()


def reopen(data: Path, project_dir: Path) -> int:
    with Project.for_dataset(data, project_dir) as project:
        result = run_job(index_job(project))
        assert result.unchanged == project.sample_count()
        return len(project.samples())


def read_thumbnails(project_dir: Path, count: int) -> int:
    with Project.open(project_dir) as project:
        ids = [row.id for row in project.samples()[:count]]
        return sum(len(data) for data in project.thumbs.get_many(ids).values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--data", type=Path, default=Path("/tmp/sieve-bench/jpegs"))
    args = parser.parse_args()

    generate_s, paths = timed(lambda: make_jpegs(args.data, args.count))
    print(f"{len(paths):,} JPEGs {WIDTH}x{HEIGHT} ready in {generate_s:.1f} s under {args.data}")
    work = Path(tempfile.mkdtemp(prefix="sieve-bench-index-"))
    try:
        peer_s, _ = timed(lambda: plain_pillow_loop(paths, work / "plain"))
        sieve_s, samples = timed(lambda: sieve_index(args.data, work / "project"))
        assert samples == len(paths), (samples, len(paths))
        reopen_s, _ = timed(lambda: reopen(args.data, work / "project"))
        thumbs_s, _ = timed(lambda: read_thumbnails(work / "project", 1000))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    n = len(paths)
    print_table(
        f"Index + thumbnail {n:,} JPEGs {WIDTH}x{HEIGHT} (thumbnails {THUMB_SIZE} px, "
        f"{os.cpu_count()} cores)",
        ["what", "seconds", "images/s", "vs plain loop"],
        [
            ["plain Image.open().thumbnail() loop", f"{peer_s:.1f}", f"{n / peer_s:.0f}", "1.00x"],
            [
                "sieve index (+ thumbnails)",
                f"{sieve_s:.1f}",
                f"{n / sieve_s:.0f}",
                f"{peer_s / sieve_s:.2f}x",
            ],
            ["sieve re-open, nothing changed", f"{reopen_s:.2f}", "", ""],
            ["read 1,000 cached thumbnails", f"{thumbs_s * 1000:.0f} ms", "", ""],
        ],
    )


if __name__ == "__main__":
    main()
