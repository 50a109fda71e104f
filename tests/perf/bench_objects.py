"""Benchmark: object crops against whole images through the same backbone, and the object map
at 1M points (issue 18), in one run.

    QT_QPA_PLATFORM=offscreen python tests/perf/bench_objects.py [--scenes 150] [--per-image 4]

1. Embedding: ``--scenes`` generated scenes (``--size`` px, PNG) with ``--per-image`` shapes
   each are embedded as objects (``sieve embed --objects``: each image decoded once, every box
   cropped and squashed to the input size), and the same number of whole images as there are
   crops (other scenes of the same size) are embedded as images, with the same backbone, input
   size, batch size and device. Both are Sieve's own jobs; the table gives crops/s against
   images/s.
2. Object map at 1M points: random 2-D coordinates in 80 classes (COCO has 80) through the map's
   scatter at 960 x 720: frame after a pan or zoom, hover pick, colour switch to scores, and the
   object map's own per-point work (class colours of 1M objects, the images of a 500k-object
   lasso); targets are those of tests/perf/bench_scatter.py. Also the hover card's crop from a
   stored thumbnail on the embedded scenes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from common import print_table  # noqa: E402

from tests.scenes import CLASSES, draw_scene, scene_objects, store_scenes  # noqa: E402

SIZE = (960, 720)
TARGETS_MS = {"frame 1M objects": 33.0, "pick 1M objects": 5.0}


def write_scenes(root: Path, count: int, per_image: int, size: tuple[int, int], seed: int):
    scenes = scene_objects(count, per_image, CLASSES, seed, size)
    for index, shapes in enumerate(scenes):
        path = root / f"scene-{index:05d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        draw_scene(shapes, size, seed * 100_000 + index).save(path)
    return scenes


def indexed(root: Path):
    from app.core.ingest.indexing import IndexOptions, index_job
    from app.core.jobs import CancelToken, run_job
    from app.core.store.project import Project

    project = Project.for_dataset(root)
    run_job(index_job(project, IndexOptions(), CancelToken()))
    return project


def embedding_rates(args: argparse.Namespace, work: Path) -> tuple[list[list[str]], Path]:
    """Crops/s of an object set against images/s of an image set of as many images."""
    from app.core.embeddings.embed import EmbedConfig, embed_job
    from app.core.embeddings.objects import CropConfig, object_embed_job
    from app.core.jobs import CancelToken, run_job

    size = (args.size, args.size * 3 // 4)
    scenes = write_scenes(work / "scenes", args.scenes, args.per_image, size, 0)
    crops = sum(len(s) for s in scenes)
    write_scenes(work / "images", crops, 1, size, 1)
    config = EmbedConfig(
        backbone=args.backbone,
        image_size=args.image_size,
        batch_size=args.batch_size,
        device=args.device,
    )
    objects_project = indexed(work / "scenes")
    store_scenes(objects_project, scenes)
    images_project = indexed(work / "images")
    rows = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        object_set = run_job(
            object_embed_job(objects_project, config, CropConfig(min_size=0), CancelToken())
        )
        object_s = time.perf_counter() - started
        started = time.perf_counter()
        image_set = run_job(embed_job(images_project, config, CancelToken()))
        image_s = time.perf_counter() - started
        crop_rate = object_set.metrics["count"] / object_s
        image_rate = image_set.metrics["count"] / image_s
        rows.append(
            [
                f"{object_set.metrics['count']:,} crops of {args.scenes:,} scenes",
                f"{crop_rate:,.1f}",
                f"{image_set.metrics['count']:,} images",
                f"{image_rate:,.1f}",
                f"{crop_rate / image_rate:.2f}",
                object_set.metrics["device"],
            ]
        )
    images_project.close()
    objects_project.close()
    return rows, work / "scenes"


def timed_ms(function) -> tuple[float, float]:
    """(wall ms, CPU ms of this process) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    function()
    return (time.perf_counter() - wall) * 1e3, (time.process_time() - cpu) * 1e3


def median(samples: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


def frames_ms(widget, frames: int) -> tuple[float, float]:
    """Median full render after each pan or zoom step (bench_scatter's steps)."""
    samples = []
    for i in range(frames):
        view = widget.view()
        if i % 2:
            view = view.panned(37 if i % 4 == 1 else -37, 23)
        else:
            view = view.zoomed(1.15 if i % 4 == 0 else 1 / 1.15, SIZE[0] * 0.45, SIZE[1] * 0.55)
        widget.set_view(view)
        samples.append(timed_ms(widget.grab))
    return median(samples)


def clusters(n: int) -> tuple[np.ndarray, np.ndarray]:
    """bench_scatter's points: 10 Gaussian clusters of different spreads, and their class."""
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 6, (10, 2))
    spread = rng.uniform(0.3, 1.5, 10)
    labels = rng.integers(0, 10, n)
    return centres[labels] + rng.normal(0, 1, (n, 2)) * spread[labels, None], labels


def map_rows(frames: int, scenes_dir: Path) -> list[list[str]]:
    """The object map's costs at 1M points, against the scatter targets."""
    from PySide6.QtWidgets import QApplication

    from app.gui_model.object_map import ObjectMapSource, images_of, object_colour_data
    from app.ui.scatter import EmbeddingScatter

    QApplication.instance() or QApplication([])
    n = 1_000_000
    rng = np.random.default_rng(0)
    xy = rng.uniform(-10, 10, (n, 2)).astype(np.float32)
    labels = rng.integers(0, 80, n).astype(np.int32)
    classes = tuple(f"class-{i:02d}" for i in range(80))
    samples = rng.integers(0, 120_000, n).astype(np.int64)
    images, image_of = np.unique(samples, return_inverse=True)
    source = ObjectMapSource(
        set_id=1,
        set_name="bench",
        folder=Path("."),
        source_name="bench",
        ids=np.arange(n, dtype=np.int64),
        sample_ids=samples,
        labels=labels,
        classes=classes,
        boxes=np.zeros((n, 4), np.float32),
        scores=rng.uniform(0, 1, n).astype(np.float32),
        disagreement=None,
        iou=None,
        images=images,
        image_of=image_of,
        image_sizes=np.full((len(images), 2), 640),
        image_names=[f"{i}.jpg" for i in images],
        vectors=np.zeros((n, 1), np.float32),
    )

    def show():
        categories, _ = object_colour_data(source, "class")
        widget.set_points(xy, categories=categories)
        widget.grab()

    def score_colours():
        _, values = object_colour_data(source, "score")
        widget.set_colours(values=values)
        widget.grab()

    widget = EmbeddingScatter()
    widget.resize(*SIZE)
    widget.show()
    setup = timed_ms(show)
    frame = frames_ms(widget, frames)
    spots = rng.uniform(100, 800, (200, 2))
    pick = median([timed_ms(partial(widget.pick, float(x), float(y))) for x, y in spots])
    recolour = timed_ms(score_colours)
    half = np.flatnonzero(xy[:, 0] < 0)
    lasso = timed_ms(partial(images_of, source, half))
    widget.close()
    reference = EmbeddingScatter()  # the image map's points in the same run (bench_scatter's)
    reference.resize(*SIZE)
    reference.show()
    reference.set_points(*clusters(n))
    reference.grab()
    image_frame = frames_ms(reference, frames)
    reference.close()
    rows = []
    for name, (wall, cpu) in (
        ("class colours + set_points + first frame 1M objects", setup),
        ("frame 1M objects", frame),
        ("frame 1M image points (bench_scatter clusters)", image_frame),
        ("pick 1M objects", pick),
        ("colour by score 1M objects (+ frame)", recolour),
        (f"images of a {len(half):,}-object lasso", lasso),
    ):
        target = TARGETS_MS.get(name)
        verdict = (
            ""
            if target is None
            else " / ".join("ok" if value <= target else "missed" for value in (wall, cpu))
        )
        target_text = "-" if target is None else f"<= {target:g}"
        rows.append([name, f"{wall:.1f}", f"{cpu:.1f}", target_text, verdict])
    rows.append(hover_row(scenes_dir))
    return rows


def hover_row(scenes_dir: Path) -> list[str]:
    """Median time of the hover card's crop (thumbnail read, crop, scale) on the real scenes."""
    from app.core.store.project import Project
    from app.gui_model.object_map import load_object_source
    from app.gui_model.state import AppState
    from app.ui.map.object_points import ObjectMap

    object_map = ObjectMap(AppState())
    with Project.open(scenes_dir) as project:
        object_map.set_project(project.path)
        object_map.source = load_object_source(project)
    count = min(200, len(object_map.source.ids))
    times = [timed_ms(partial(object_map.crop_pixmap, row)) for row in range(count)]
    object_map.shutdown()
    wall, cpu = median(times)
    return ["hover card crop (thumbnail)", f"{wall:.2f}", f"{cpu:.2f}", "-", ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=150)
    parser.add_argument("--per-image", type=int, default=4)
    parser.add_argument("--size", type=int, default=320, help="scene width (height 3/4 of it)")
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--frames", type=int, default=20)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sieve-bench-objects-"))
    load = os.getloadavg()[0]
    try:
        rows, scenes_dir = embedding_rates(args, work)
        print_table(
            f"Object crops vs whole images: {args.backbone} at {args.image_size} px, batch "
            f"{args.batch_size}, scenes {args.size} px (load {load:.1f} on {os.cpu_count()} CPUs)",
            ["objects", "crops/s", "images", "images/s", "ratio", "device"],
            rows,
        )
        print_table(
            f"Object map, {SIZE[0]} x {SIZE[1]} offscreen, ms (median)",
            ["measure", "wall ms", "CPU ms", "target", "wall / CPU"],
            map_rows(args.frames, scenes_dir),
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
