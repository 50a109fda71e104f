"""Benchmark: Sieve's index against a plain Pillow loop on the same files, same thread count.

The peer is the loop at the decode limit: per file ``Image.open``, ``draft`` (JPEG DCT scaling),
``convert("RGB")``, ``thumbnail`` and a JPEG encode of the thumbnail, on a thread pool of the
same size. Sieve's number is an ``index_job`` on a fresh project up to its statistics pass:
listing rows, validating decode, thumbnails, content hashes, SQLite writes. The statistics pass
that ends the job (from the stored thumbnails) is timed on its own in the same run. Three kinds
of files (generated once into ``--data``):

- small: ~256 px JPEGs (a few hundred)
- jpeg:  ~4000 x 3000 photo-like JPEGs (~40)
- png:   ~3000 x 3000 photo-like PNGs (~40; grain keeps them from compressing trivially)

Also: listing ``--list-count`` tiny files into a fresh project (time to first rows, to all rows)
and the waits of another process's write transactions meanwhile: one that asks for a turn (as a
window's tag edit does) and a plain one.

    python tests/perf/bench_ingest.py [--count 300] [--large 40] [--workers 2] [--repeat 2]
                                      [--list-count 100000] [--only small --only png]
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from common import print_table
from PIL import Image

from app.core.data.images import THUMB_QUALITY, THUMB_SIZE
from app.core.ingest.indexing import IndexOptions, index_job
from app.core.ingest.listing import list_files
from app.core.jobs import CancelToken, Progress, run_job
from app.core.store.project import Project

KINDS = {
    "small": ((256, 192), "JPEG"),
    "jpeg": ((4000, 3000), "JPEG"),
    "png": ((3000, 3000), "PNG"),
}


def photo_like(size: tuple[int, int], seed: int) -> Image.Image:
    """Smooth shapes at several scales plus grain: compresses like a photo, not like a drawing."""
    rng = np.random.default_rng(seed)
    width, height = size
    layers = []
    for scale in (8, 64, 512):
        coarse = rng.integers(0, 256, (max(2, height // scale), max(2, width // scale), 3))
        layers.append(
            np.asarray(Image.fromarray(coarse.astype(np.uint8)).resize(size, Image.BICUBIC))
        )
    mix = 0.5 * layers[0] + 0.3 * layers[1] + 0.2 * layers[2]
    grain = rng.normal(0, 6, (height, width, 1))
    return Image.fromarray(np.clip(mix + grain, 0, 255).astype(np.uint8))


def make_files(folder: Path, kind: str, count: int) -> list[Path]:
    """``count`` files of ``kind`` in ``folder`` (kept between runs): a few distinct images,
    then byte copies of them (decoding costs the same; generating large PNGs does not)."""
    size, fmt = KINDS[kind]
    suffix = ".jpg" if fmt == "JPEG" else ".png"
    paths = [folder / kind / f"{kind}-{i:05d}{suffix}" for i in range(count)]
    distinct = 32 if kind == "small" else 4
    (folder / kind).mkdir(parents=True, exist_ok=True)
    for number, path in enumerate(paths):
        if path.exists():
            continue
        if number < distinct:
            options = {"quality": 90} if fmt == "JPEG" else {}
            photo_like(size, number).save(path, fmt, **options)
        else:
            path.write_bytes(paths[number % distinct].read_bytes())
    return paths


def pillow_loop(paths: list[Path], workers: int) -> tuple[float, float]:
    """Files per second of the plain loop, and its CPU milliseconds per file (all threads)."""

    def one(path: Path) -> int:
        with Image.open(path) as image:
            image.draft("RGB", (THUMB_SIZE, THUMB_SIZE))
            rgb = image.convert("RGB")
        rgb.thumbnail((THUMB_SIZE, THUMB_SIZE))
        buffer = io.BytesIO()
        rgb.save(buffer, "JPEG", quality=THUMB_QUALITY)
        return len(buffer.getvalue())

    started, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(workers) as pool:
        assert all(size > 0 for size in pool.map(one, paths))
    return _rates(len(paths), started, cpu)


def _rates(count: int, started: float, cpu: float) -> tuple[float, float]:
    return count / (time.perf_counter() - started), (time.process_time() - cpu) * 1000 / count


def sieve_index(folder: Path, count: int, workers: int) -> tuple[float, float]:
    """Files per second of a whole index of ``folder`` into a fresh project, CPU ms per file:
    the index proper (listed, decoded, thumbnailed, hashed, committed), up to the statistics
    pass that follows it (:func:`sieve_index_and_measure` times both)."""
    index, _ = sieve_index_and_measure(folder, count, workers)
    return index


def sieve_index_and_measure(
    folder: Path, count: int, workers: int
) -> tuple[tuple[float, float], tuple[float, float]]:
    """(files/s, CPU ms per file) of the index proper, then of the statistics pass after it
    (from the stored thumbnails), in one ``index_job`` on a fresh project."""
    with (
        tempfile.TemporaryDirectory(prefix="sieve-bench-project-") as project_dir,
        Project.create(project_dir, folder) as project,
    ):
        marks = [(time.perf_counter(), time.process_time())]

        def on_progress(progress: Progress) -> None:
            if progress.stage == "measure" and len(marks) == 1:
                marks.append((time.perf_counter(), time.process_time()))

        result = run_job(index_job(project, IndexOptions(workers=workers)), on_progress)
        marks.append((time.perf_counter(), time.process_time()))
        assert result.samples == count and result.broken == 0, result
        assert project.thumbs.count() == count
        assert len(marks) == 3, "the statistics pass did not run"
        measured = project.db.execute(
            "SELECT COUNT(*) FROM sample_stats WHERE brightness IS NOT NULL"
        ).fetchone()[0]
        assert measured == count, measured
    (wall0, cpu0), (wall1, cpu1), (wall2, cpu2) = marks
    return (
        (count / (wall1 - wall0), (cpu1 - cpu0) * 1000 / count),
        (count / (wall2 - wall1), (cpu2 - cpu1) * 1000 / count),
    )


def warm(paths: list[Path]) -> None:
    for path in paths:
        path.read_bytes()


def bench_kinds(args: argparse.Namespace) -> None:
    rows = []
    for kind in args.only or list(KINDS):
        count = args.count if kind == "small" else args.large
        paths = make_files(args.data, kind, count)
        warm(paths)
        peer, ours, stats = [], [], []
        for _ in range(args.repeat):
            peer.append(pillow_loop(paths, args.workers))
            index, measure = sieve_index_and_measure(args.data / kind, count, args.workers)
            ours.append(index)
            stats.append(measure)
        (best_peer, _), (best_ours, _) = max(peer), max(ours)
        peer_cpu, ours_cpu = min(cpu for _, cpu in peer), min(cpu for _, cpu in ours)
        rows.append(
            [
                kind,
                f"{count:,}",
                f"{best_peer:,.1f}",
                f"{best_ours:,.1f}",
                f"{best_ours / best_peer:.2f}x",
                " ".join(f"{o[0] / p[0]:.2f}" for p, o in zip(peer, ours, strict=True)),
                f"{peer_cpu:,.1f} / {ours_cpu:,.1f}",
                f"{peer_cpu / ours_cpu:.2f}x",
                f"{max(stats)[0]:,.0f} ({min(cpu for _, cpu in stats):.2f} ms)",
            ]
        )
    print_table(
        f"Index throughput, {args.workers} threads, same files (best of {args.repeat})",
        [
            "kind",
            "files",
            "Pillow files/s",
            "Sieve files/s",
            "ratio",
            "each run",
            "CPU ms/file (Pillow / Sieve)",
            "CPU ratio",
            "then statistics files/s (CPU)",
        ],
        rows,
    )
    print(
        "ratio = Sieve files/s over the loop's (wall clock, noisy on a shared machine); CPU ratio ="
        " the loop's CPU time per file over Sieve's (all threads; robust to other load). Sieve's"
        " index also validates and commits each file and hashes the small ones; the image"
        " statistics (and the larger files' hashes) come next, from the stored thumbnails (the"
        " last column: that pass alone, in the same run)."
    )


# Another process's writes during the listing, every 5 ms: "asks" as the window's edits do (no
# busy handler: polls every 1 ms and asks for a turn when it meets the lock), "plain" as any
# other SQLite program does (its busy handler sleeps between tries; it gets the regular gaps).
_WRITER = """
import os, sqlite3, sys, time
sys.path.insert(0, os.getcwd())
from app.core.store.db import ask_write_turn
asks = sys.argv[3] == "asks"
db = sqlite3.connect(sys.argv[1], timeout=0 if asks else 60, isolation_level=None)
waits = []
while not os.path.exists(sys.argv[2]):
    t = time.perf_counter()
    asked = False
    while True:
        try:
            db.execute("BEGIN IMMEDIATE")
            break
        except sqlite3.OperationalError:
            if not asked:
                ask_write_turn(db)
                asked = True
            time.sleep(0.001)
    db.execute("COMMIT")
    waits.append(time.perf_counter() - t); time.sleep(0.005)
waits.sort()
print(f"{waits[len(waits) // 2] * 1000:.0f} / {waits[-1] * 1000:.0f} ms ({len(waits)} writes)")
"""


def bench_listing(args: argparse.Namespace) -> None:
    """Rows of ``--list-count`` tiny JPEGs: time to first rows, to all rows, longest write wait."""
    count = args.list_count
    root = args.data / f"tiny-{count}"
    if not (root / "done").exists():
        buffer = io.BytesIO()
        Image.new("RGB", (32, 32), (90, 120, 30)).save(buffer, "JPEG")
        for i in range(count):
            folder = root / f"class{i % 10}" / f"{i // 10_000:03d}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{i:07d}.jpg").write_bytes(buffer.getvalue())
        (root / "done").write_text("")
    rows = [_list_with_a_writer(root, kind) for kind in ("asks", "plain")]
    print_table(
        f"Listing {count:,} tiny files (rows committed as pending), another process writing",
        [
            "other writer",
            "files",
            "first rows",
            "all rows",
            "CPU",
            "1M (extrapolated)",
            "longest commit",
            "its wait, median / max",
        ],
        rows,
    )
    print(
        "asks: polls every 1 ms and asks for a turn when it meets the lock (the window's edits);"
        " plain: SQLite's busy handler (any other program), let in by the regular gaps."
    )


def _list_with_a_writer(root: Path, kind: str) -> list[str]:
    """List ``root`` into a fresh project while a writer of ``kind`` writes every 5 ms."""
    project_dir = Path(tempfile.mkdtemp(prefix="sieve-bench-list-"))
    try:
        project = Project.create(project_dir, root)
        stop = project_dir / "stop-writer"
        writer = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(project_dir / "project.sqlite"), str(stop), kind],
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parents[2],
        )
        time.sleep(0.3)
        started, cpu = time.perf_counter(), time.process_time()
        first = None
        job = list_files(project, {}, False, CancelToken())  # index_job's first phase
        while True:
            try:
                next(job)
            except StopIteration as done:
                listing = done.value
                break
            first = first or time.perf_counter() - started
        listed, cpu = time.perf_counter() - started, time.process_time() - cpu
        stop.write_text("")
        waits = writer.communicate()[0].strip()
        rows = project.sample_count()
        project.close()
    finally:
        shutil.rmtree(project_dir, ignore_errors=True)
    return [
        kind,
        f"{rows:,}",
        f"{first:.2f} s",
        f"{listed:.2f} s",
        f"{cpu:.2f} s",
        f"{listed * 1_000_000 / rows:.1f} s",
        f"{listing.longest_commit_s * 1000:.0f} ms",
        waits,
    ]


def bench_mixed(args: argparse.Namespace) -> None:
    """Small JPEGs behind huge PNGs in folder order: when is every small file thumbnailed, with
    the heavy-file lane and without it (every file in folder order, as before)?"""
    from app.core.ingest import priority

    mixed = args.data / "mixed"
    pngs = make_files(args.data, "png", 8)
    smalls = make_files(args.data, "small", args.count)
    for folder, paths in (("a-png", pngs), ("b-small", smalls)):
        (mixed / folder).mkdir(parents=True, exist_ok=True)
        for path in paths:
            target = mixed / folder / path.name
            if not target.exists():
                target.write_bytes(path.read_bytes())
    warm(list(mixed.rglob("*.*")))
    rows = []
    default = priority.HEAVY_BYTES
    for lane, heavy_bytes in (("own lane", default), ("none (folder order)", 1 << 62)):
        priority.HEAVY_BYTES = heavy_bytes
        small_done, total = _time_to_smalls(mixed, len(smalls), args.workers)
        rows.append([lane, f"{small_done:.1f} s", f"{total:.1f} s"])
    priority.HEAVY_BYTES = default
    print_table(
        f"8 huge PNGs first, then {len(smalls)} small JPEGs ({args.workers} threads)",
        ["huge PNGs", "all small thumbnailed", "all done"],
        rows,
    )


def _time_to_smalls(folder: Path, smalls: int, workers: int) -> tuple[float, float]:
    with (
        tempfile.TemporaryDirectory(prefix="sieve-bench-project-") as project_dir,
        Project.create(project_dir, folder) as project,
    ):
        started = time.perf_counter()
        small_done = None
        query = "SELECT COUNT(*) FROM files WHERE NOT pending AND relpath LIKE 'b-small/%'"
        for _progress in index_job(project, IndexOptions(workers=workers)):
            if small_done is None and project.db.execute(query).fetchone()[0] == smalls:
                small_done = time.perf_counter() - started
        return small_done or 0.0, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300, help="small JPEGs")
    parser.add_argument("--large", type=int, default=40, help="large JPEGs and PNGs each")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--list-count", type=int, default=100_000)
    parser.add_argument(
        "--data", type=Path, default=Path(tempfile.gettempdir()) / "sieve-bench-ingest"
    )
    parser.add_argument("--only", action="append", choices=[*KINDS, "mixed", "listing"])
    args = parser.parse_args()
    kinds = [kind for kind in args.only or list(KINDS) if kind in KINDS]
    if kinds:
        bench_kinds(argparse.Namespace(**{**vars(args), "only": kinds}))
    if not args.only or "mixed" in args.only:
        bench_mixed(args)
    if not args.only or "listing" in args.only:
        bench_listing(args)


if __name__ == "__main__":
    main()
