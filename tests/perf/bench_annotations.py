"""Benchmark: importing a generated COCO file (default 100k images, 1M boxes) into a project,
against pycocotools' and globox's loaders of the same file; time and peak RSS of each.

The project's 100k samples are not decoded images: indexing 100k files would take most of the
run, so the project is a real :class:`Project` (real schema, real SQLite) whose ``files`` and
``samples`` rows are inserted directly with one fast SQL insert (every image 640 x 480, status
ok). The import then runs exactly as ``sieve import-annotations`` does: json parse, checks,
matching by name, and the objects streamed into SQLite 20k rows at a time in one transaction.

Each loader runs in its own child process, so its peak RSS (``ru_maxrss``) and CPU time are its
own (CPU time is the steadier number on a shared, loaded machine). Then the
grid scroll stall with boxes on thumbnails (``tests/perf/annotations_scroll.py``, H17-view's
measurement) when that file is there.

    python tests/perf/bench_annotations.py [--images 100000] [--boxes 1000000] [--no-scroll]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.perf.common import print_table  # noqa: E402

WORK = Path("/tmp/sieve-bench/annotations")
WIDTH, HEIGHT = 640, 480
CLASSES = [f"class{i:02d}" for i in range(80)]


def write_coco(path: Path, images: int, boxes: int, seed: int = 0) -> None:
    """A COCO dataset json of ``images`` images and ``boxes`` boxes, written in pieces."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as stream:
        stream.write('{"categories": ')
        json.dump([{"id": i + 1, "name": n} for i, n in enumerate(CLASSES)], stream)
        stream.write(', "images": [')
        stream.write(
            ",".join(
                f'{{"id": {i}, "file_name": "{_name(i)}", "width": {WIDTH}, "height": {HEIGHT}}}'
                for i in range(images)
            )
        )
        stream.write('], "annotations": [')
        for start in range(0, boxes, 100_000):
            parts = []
            for k in range(start, min(boxes, start + 100_000)):
                w, h = rng.uniform(4, 200), rng.uniform(4, 200)
                x, y = rng.uniform(0, WIDTH - w), rng.uniform(0, HEIGHT - h)
                parts.append(
                    f'{{"id": {k + 1}, "image_id": {k % images}, "category_id": '
                    f'{rng.randint(1, len(CLASSES))}, "bbox": [{x:.2f}, {y:.2f}, {w:.2f}, '
                    f'{h:.2f}], "area": {w * h:.1f}, "iscrowd": 0}}'
                )
            stream.write(("," if start else "") + ",".join(parts))
        stream.write("]}")


def _name(i: int) -> str:
    return f"part{i // 10_000:02d}/img{i:06d}.jpg"


def make_project(folder: Path, images: int) -> Path:
    """A real project whose sample rows are inserted directly (see the module docstring)."""
    from app.core.store.project import Project

    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    project_dir = folder / "project"
    with Project.create(project_dir, data) as project, project.db:
        project.db.execute("DELETE FROM samples")
        project.db.execute("DELETE FROM files")
        project.db.executemany(
            "INSERT INTO files(id, relpath, kind, size, mtime_ns, status) "
            "VALUES (?, ?, 'image', 1000, 0, 'ok')",
            ((i + 1, _name(i)) for i in range(images)),
        )
        project.db.executemany(
            "INSERT INTO samples(id, file_id, width, height, status) VALUES (?, ?, ?, ?, 'ok')",
            ((i + 1, i + 1, WIDTH, HEIGHT) for i in range(images)),
        )
    return project_dir


def child(which: str, coco: Path, project_dir: Path) -> dict:
    """Run one loader in this process; its seconds, stage seconds and peak RSS."""
    started = time.perf_counter()
    stages: dict[str, tuple[float, float]] = {}
    if which == "sieve":
        from app.core.data.annotations.importing import import_annotations_job
        from app.core.store.objects import annotation_summary
        from app.core.store.project import Project

        with Project.open(project_dir) as project:
            job = import_annotations_job(project, coco, "coco")
            last, mark, cpu_mark = None, started, time.process_time()
            try:
                while True:
                    progress = next(job)
                    if progress.stage != last:
                        now, cpu = time.perf_counter(), time.process_time()
                        if last is not None:
                            stages[last] = (now - mark, cpu - cpu_mark)
                        last, mark, cpu_mark = progress.stage, now, cpu
            except StopIteration as stop:
                stages[last] = (time.perf_counter() - mark, time.process_time() - cpu_mark)
                report = stop.value
            count = annotation_summary(project)["objects"]
        assert count == report.objects
    elif which == "pycocotools":
        from pycocotools.coco import COCO

        count = len(COCO(str(coco)).anns)
    else:
        import globox

        count = globox.AnnotationSet.from_coco(coco).nb_boxes()
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "seconds": seconds,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mb": usage.ru_maxrss / 1024,
        "objects": count,
        "stages": stages,
    }


def run_child(which: str, coco: Path, project_dir: Path) -> dict:
    command = [sys.executable, __file__, "--child", which, str(coco), str(project_dir)]
    output = subprocess.run(command, capture_output=True, text=True, check=False)
    if output.returncode != 0:
        raise SystemExit(f"{which} failed:\n{output.stderr[-3000:]}")
    return json.loads(output.stdout.strip().splitlines()[-1])


def scroll_part(images: int) -> None:
    scroll = Path(__file__).with_name("annotations_scroll.py")
    if not scroll.exists():
        print("\ngrid scroll with boxes: not measured (tests/perf/annotations_scroll.py missing)")
        return
    from tests.perf.annotations_scroll import measure_box_scroll

    result = measure_box_scroll(count=images)
    rows = [
        [name, f"{result[key]:.1f} ms"]
        for key, name in (
            ("stall_no_boxes_ms", "no boxes"),
            ("stall_boxes_ms", "boxes (fresh thumbnails)"),
            ("stall_boxes_cached_ms", "boxes (cached thumbnails)"),
        )
    ]
    print_table(f"grid scroll, {images:,} images: longest stall", ["pass", "stall"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--boxes", type=int, default=1_000_000)
    parser.add_argument("--peers", default="pycocotools,globox", help="comma-separated peers")
    parser.add_argument("--no-scroll", action="store_true", help="skip the grid scroll part")
    parser.add_argument("--scroll-images", type=int, default=20_000)
    parser.add_argument("--child", nargs=3, metavar=("WHICH", "COCO", "PROJECT"))
    args = parser.parse_args()
    if args.child:
        which, coco, project_dir = args.child
        print(json.dumps(child(which, Path(coco), Path(project_dir))))
        return
    folder = WORK / f"{args.images}-{args.boxes}"
    coco = folder / "instances.json"
    started = time.perf_counter()
    if not coco.exists():
        write_coco(coco, args.images, args.boxes)
    print(f"COCO file: {coco.stat().st_size / 1e6:.0f} MB ({time.perf_counter() - started:.0f} s)")
    started = time.perf_counter()
    if (folder / "project").exists():
        import shutil

        shutil.rmtree(folder / "project")
    project_dir = make_project(folder, args.images)
    print(f"project of {args.images:,} sample rows in {time.perf_counter() - started:.1f} s")
    results = {"sieve import-annotations": run_child("sieve", coco, project_dir)}
    for peer in filter(None, args.peers.split(",")):
        results[f"{peer} load"] = run_child(peer, coco, project_dir)
    sieve = results["sieve import-annotations"]
    rows = [
        [
            name,
            f"{r['objects']:,}",
            f"{r['seconds']:.1f} s",
            f"{r['seconds'] / sieve['seconds']:.2f}x",
            f"{r['cpu']:.1f} s",
            f"{r['cpu'] / sieve['cpu']:.2f}x",
            f"{r['rss_mb']:.0f} MB",
        ]
        for name, r in results.items()
    ]
    title = f"COCO {args.images:,} images / {args.boxes:,} boxes (os.cpu_count()={os.cpu_count()})"
    header = ["loader", "objects", "wall", "vs sieve", "CPU", "vs sieve", "peak RSS"]
    print_table(title, header, rows)
    stages = ", ".join(
        f"{k} {wall:.1f} s ({cpu:.1f} s CPU)" for k, (wall, cpu) in sieve["stages"].items()
    )
    print(
        f"sieve stages: {stages} (pycocotools and globox only load; Sieve also checks, "
        "matches and stores in SQLite)"
    )
    if not args.no_scroll:
        scroll_part(args.scroll_images)


if __name__ == "__main__":
    main()
