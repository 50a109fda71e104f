"""Benchmark: the dataset browser on 100k generated images, Sieve against a naive Qt grid.

Each side runs in a fresh process (tests/perf/browser_probe.py) on the same indexed project with
a warm thumbnail cache: seconds from interpreter start to the first visible thumbnails, the
longest event-loop stall while scrolling through 1,000 rows, and peak resident memory. The peer
is a QListWidget with one item per sample (what a first Qt prototype does); it shows a shared
placeholder icon, not thumbnails, so its "first thumbnails" time is only its time to first paint.

    QT_QPA_PLATFORM=offscreen python tests/perf/bench_browser.py [--count 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from common import fashion_mnist, print_table, timed
from PIL import Image

from app.core.ingest.indexing import index_job
from app.core.jobs import run_job
from app.core.store.project import Project

PROBE = Path(__file__).with_name("browser_probe.py")
TARGETS = {"first_thumbnails_s": 2.0, "scroll_stall_s": 0.050, "peak_mb": 1536.0}


def make_images(folder: Path, count: int) -> None:
    """Fashion-MNIST items, tinted, 160 px JPEGs in 10 class folders (skips existing files)."""
    images, labels = fashion_mnist("train")
    for label in range(10):
        (folder / f"class_{label}").mkdir(parents=True, exist_ok=True)

    def write(i: int) -> None:
        j = i % len(images)
        path = folder / f"class_{labels[j]}" / f"{i:06d}.jpg"
        if path.exists():
            return
        tint = np.random.default_rng(i).uniform(0.5, 1.0, 3)
        grey = np.asarray(Image.fromarray(images[j]).resize((160, 160), Image.BILINEAR))
        pixels = (grey[..., None].astype(np.float32) * tint).clip(0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(path, quality=85)

    with ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        list(pool.map(write, range(count)))


def index(folder: Path) -> Path:
    with Project.for_dataset(folder) as project:
        run_job(index_job(project))
        return project.path


def probe(project: Path, naive: bool) -> dict[str, float]:
    command = [sys.executable, str(PROBE), str(project)] + (["--naive"] if naive else [])
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        raise SystemExit(f"probe failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--data", type=Path, default=Path("/tmp/sieve-bench/browser100k"))
    args = parser.parse_args()
    made_s, _ = timed(lambda: make_images(args.data, args.count))
    index_s, project = timed(lambda: index(args.data))
    print(f"{args.count:,} images ready in {made_s:.0f} s, indexed in {index_s:.0f} s")
    probe(project, naive=False)  # warm the OS file cache and numba-free imports once
    sieve = probe(project, naive=False)
    naive = probe(project, naive=True)
    rows = []
    for key, label, unit, scale in [
        ("first_thumbnails_s", "launch to first visible thumbnails", "s", 1.0),
        ("scroll_stall_s", "longest stall scrolling 1,000 rows", "ms", 1000.0),
        ("peak_mb", "peak memory", "MB", 1.0),
    ]:
        ratio = naive[key] / sieve[key] if sieve[key] > 0 else float("inf")
        target = TARGETS[key] * scale
        rows.append(
            [
                label,
                f"{sieve[key] * scale:,.1f} {unit}",
                f"{naive[key] * scale:,.1f} {unit}",
                f"{ratio:.2f}x",
                f"<= {target:,.0f} {unit}" if unit != "s" else f"<= {target:.1f} s",
                "ok" if sieve[key] <= TARGETS[key] else "MISSED",
            ]
        )
    print_table(
        f"Browser on {args.count:,} images (warm cache, offscreen, {os.cpu_count()} cores)",
        ["what", "Sieve", "naive QListWidget", "naive / Sieve", "target", ""],
        rows,
    )


if __name__ == "__main__":
    main()
