"""Benchmark: the map's Quick look, from the click to a finished UMAP, on an indexed project.

    python tests/perf/bench_quick_look.py                      # 8k Fashion-MNIST PNGs in a temp dir
    python tests/perf/bench_quick_look.py --project DIR        # an indexed project (reused as is)
    python tests/perf/bench_quick_look.py --side 256 --keep D  # PNGs upscaled to 256 px, kept in D

Runs the job the Quick look button runs (``quick_look_job`` in the map panel's quick-look
process: embed every sample with ``quick_config()``, then PCA at once and UMAP epoch by epoch)
and times embedding, the first (PCA) layout, UMAP and the total. As in the app, the process is
started and has loaded torch and UMAP before the click (the panel starts it while the user looks
at the grid; that load is printed, not counted); a second run starts it at the click. The
previous quick look (ResNet-18 at 224 px from the original files, ``EmbedConfig(backbone="resnet18",
weights="imagenet")``) runs in the same process on a subset project of ``--subset`` images; its
embedding time is extrapolated to the full count (said in the table) and the new quick look runs
on the same subset for a measured ratio.

``quick_look_seconds(project_dir)`` is the part other benchmarks import (``bench_open.py``).
Target (issue 16): 8k images from click to finished UMAP in <= 30 s on this 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import fashion_mnist, print_table
from PIL import Image

from app.core.embeddings.embed import EmbedConfig, embed_job, quick_config
from app.core.ingest.indexing import IndexOptions, index_job
from app.core.jobs import CancelToken, Progress, run_job
from app.core.store.embedding_sets import active_embedding_set
from app.core.store.project import Project
from app.gui_model.look_process import LookProcess
from app.gui_model.map_sources import embed_and_layout_job
from app.ui.map.quick_look import quick_look_job

COUNT = 8_000
SUBSET = 500
TARGET_S = 30.0
CLASSES = (
    "t-shirt",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "boot",
)


def quick_look_seconds(
    project_dir: Path, config: EmbedConfig | None = None, ahead: bool = True
) -> dict[str, float]:
    """Click-to-finished-UMAP timings of a quick look on an indexed project, in seconds.

    Without ``config``, the Quick look button's job in a quick-look process (``LookProcess``),
    started and loaded before the click (``ahead``, as the map panel does) or at the click; with
    ``config``, ``embed_and_layout_job`` with it in this process.

    Keys: ``embed`` (until the embeddings are stored), ``pca_visible`` (the first layout),
    ``umap`` (from the first layout to the finished UMAP), ``total``, ``images`` and
    ``images_per_s`` (of the embedding), ``from_thumbnails`` (samples read from thumbnails),
    ``cpu`` (CPU seconds of this process and the quick-look process over all their threads: tells
    a busy machine apart), ``side`` (the input side the quick look chose), ``load_ahead`` (the
    quick-look process's start and load before the click, 0 when not ahead).
    """
    cancel = CancelToken()
    process, load_ahead = LookProcess(log_file=False), 0.0
    if config is None and ahead:
        started = time.perf_counter()
        process.start()
        if not process.wait_until_warm(300):
            raise SystemExit("the quick-look process did not load within 300 s")
        load_ahead = time.perf_counter() - started
    if config is None:
        job = quick_look_job(Path(project_dir), "umap", cancel, process)  # what the button runs
    else:
        job = embed_and_layout_job(Path(project_dir), config, "umap", cancel)
    child_cpu = _cpu_seconds(process.pid) or 0.0  # none yet when it starts at the click
    started, cpu = time.perf_counter(), time.process_time()
    embedded = pca = None
    while True:
        try:
            progress: Progress = next(job)
        except StopIteration:
            break
        now = time.perf_counter() - started
        if embedded is None and progress.stage != "embedding":
            embedded = now
        if pca is None and isinstance(progress.partial, dict):
            pca = now
    total = time.perf_counter() - started
    cpu = time.process_time() - cpu + (_cpu_seconds(process.pid) or child_cpu) - child_cpu
    process.close()
    with Project.open(project_dir) as project:
        found = active_embedding_set(project)
        assert found is not None
        metrics = found.metrics
        side = float(found.config.get("image_size") or 0)
    embedded = embedded if embedded is not None else total
    pca = pca if pca is not None else total
    return {
        "embed": embedded,
        "pca_visible": pca,
        "umap": total - pca,
        "total": total,
        "images": float(metrics.get("count", 0)),
        "images_per_s": metrics.get("count", 0) / max(embedded, 1e-9),
        "from_thumbnails": float(metrics.get("from_thumbnails", 0)),
        "cpu": cpu,
        "side": side,
        "load_ahead": load_ahead,
    }


def _cpu_seconds(pid: int | None) -> float | None:
    """CPU seconds process ``pid`` has used (Linux ``/proc``), None where unknown."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, TypeError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def embed_seconds(project_dir: Path, config: EmbedConfig) -> tuple[float, int]:
    """``(seconds, images)`` of one embedding job alone (no map)."""
    started = time.perf_counter()
    with Project.open(project_dir) as project:
        found = run_job(embed_job(project, config, CancelToken()))
    return time.perf_counter() - started, int(found.metrics.get("count", 0))


def write_pngs(folder: Path, count: int, side: int, offset: int = 0) -> Path:
    """``folder/<class>/<i>.png`` from Fashion-MNIST train images ``offset..offset+count``."""
    images, labels = fashion_mnist("train")
    for i in range(offset, offset + count):
        image = Image.fromarray(images[i])
        if side != image.width:
            image = image.resize((side, side), Image.Resampling.BICUBIC)
        target = folder / CLASSES[int(labels[i])] / f"{i:05d}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        image.save(target)
    return folder


def indexed_project(root: Path, project_dir: Path) -> tuple[Path, float]:
    """Index ``root`` into ``project_dir``; ``(project folder, seconds)``."""
    started = time.perf_counter()
    with Project.for_dataset(root, project_dir) as project:
        run_job(index_job(project, IndexOptions(), CancelToken()))
        path = project.path
    return path, time.perf_counter() - started


def warm_umap() -> float:
    """Compile UMAP's numba kernels into numba's disk cache in another process (once per machine
    in real use); this process stays cold, as a GUI session's first quick look is."""
    started = time.perf_counter()
    code = "from app.core.embeddings.maps import warm_up; warm_up()"
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, help="an indexed project to time (kept as is)")
    parser.add_argument("--count", type=int, default=COUNT, help="images to write (8000)")
    parser.add_argument("--side", type=int, default=28, help="PNG side (28: Fashion-MNIST's own)")
    parser.add_argument("--subset", type=int, default=SUBSET, help="images for the old quick look")
    parser.add_argument("--keep", type=Path, help="write the generated folders here and keep them")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="sieve-quick-look-"))
    try:
        run(args, work)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, work: Path) -> None:
    import torch

    print(f"torch threads {torch.get_num_threads()}; numba cache warm-up {warm_umap():.1f} s")
    if args.project is not None:
        project_dir = args.project
    else:
        root = work / f"fmnist-{args.count}-{args.side}px"
        if not root.exists():
            write_pngs(root, args.count, args.side)
        project_dir, seconds = indexed_project(root, work / f"project-{args.count}-{args.side}")
        print(f"indexed {args.count:,} PNGs of {args.side} px in {seconds:.1f} s")
    full = quick_look_seconds(project_dir)
    count = int(full["images"])
    print(f"quick-look process started and loaded ahead in {full['load_ahead']:.1f} s (uncounted)")
    cold = quick_look_seconds(project_dir, ahead=False)

    subset_root = work / f"fmnist-subset-{args.subset}-{args.side}px"
    if not subset_root.exists():
        write_pngs(subset_root, args.subset, args.side, offset=60_000 - args.subset)
    subset_dir, _ = indexed_project(subset_root, work / f"project-subset-{args.subset}")
    old_config = EmbedConfig(backbone="resnet18", weights="imagenet", batch_size=64)
    old_s, old_n = embed_seconds(subset_dir, old_config)
    new_s, new_n = embed_seconds(subset_dir, quick_config())
    old_rate, new_rate = old_n / old_s, new_n / new_s
    old_embed = count / old_rate
    old_total = old_embed + (full["total"] - full["embed"])
    old_pca = old_embed + (full["pca_visible"] - full["embed"])

    rows = [
        [
            f"embed {count:,} images",
            f"{full['embed']:.1f} s",
            f"{old_embed:.1f} s (extrap.)",
            f"{old_embed / full['embed']:.1f}x",
        ],
        [
            "PCA visible after",
            f"{full['pca_visible']:.1f} s",
            f"{old_pca:.1f} s (extrap.)",
            f"{old_pca / full['pca_visible']:.1f}x",
        ],
        ["UMAP after PCA", f"{full['umap']:.1f} s", "same map job", "1.0x"],
        [
            "click to finished UMAP",
            f"{full['total']:.1f} s",
            f"{old_total:.1f} s (extrap.)",
            f"{old_total / full['total']:.1f}x",
        ],
        [
            "the same, process started at the click",
            f"{cold['total']:.1f} s",
            f"{old_total:.1f} s (extrap.)",
            f"{old_total / cold['total']:.1f}x",
        ],
        ["images/s (full run)", f"{full['images_per_s']:.0f}", "-", "-"],
        [
            f"images/s on {old_n} (measured)",
            f"{new_rate:.0f}",
            f"{old_rate:.0f}",
            f"{new_rate / old_rate:.1f}x",
        ],
        ["read from thumbnails", f"{int(full['from_thumbnails']):,}", "0 (original files)", "-"],
        ["CPU seconds (both processes)", f"{full['cpu']:.1f}", "-", "-"],
    ]
    print_table(
        f"Quick look on {count:,} images ({args.side} px PNGs): quick (ResNet-18, "
        f"{int(full['side'])} px, thumbnails) vs the previous quick look (ResNet-18, 224 px, "
        "original files)",
        ["", "quick look", "previous", "ratio"],
        rows,
    )
    verdict = "meets" if full["total"] <= TARGET_S else "misses"
    print(f"click to finished UMAP: {full['total']:.1f} s, {verdict} the {TARGET_S:.0f} s target")
    verdict = "meets" if cold["total"] <= TARGET_S else "misses"
    print(
        f"with the process started at the click: {cold['total']:.1f} s, {verdict} the target "
        "(the panel starts it 1 s after it offers a quick look)"
    )
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
