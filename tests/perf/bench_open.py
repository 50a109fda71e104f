"""Benchmark: opening a never-seen folder of tiny JPEGs in the real window (issue 16 targets).

Generates ``--count`` (default 100,000; ``--million`` for 1,000,000) tiny JPEGs in folders of
1,000, then, each in a fresh process with a real :class:`MainWindow` under the offscreen platform:

* open: seconds from "open folder" to the first rows in the grid, to the first thumbnails, to
  every file thumbnailed (the statistics pass starts) and to the index's end; the longest
  event-loop stall while indexing (the grid is scrolled a page every 50 ms for
  ``--scroll-seconds``, as a user would; then the seconds until the rows where the scrolling
  stopped show a thumbnail) and while scrolling 1,000 rows once indexed (a 5 ms
  QTimer heartbeat: a stall is the gap between beats minus the interval); peak RSS of the window's
  process, and of its largest child process (the index, or the quick-look process the map starts
  ahead once the files are listed).
* re-open: a second process opens the same folder: seconds to the first rows and thumbnails.

Then it prints the index rate against a plain Pillow loop (``tests/perf/bench_ingest.py``) and
the quick-look time (``tests/perf/bench_quick_look.py``) when those benchmarks are present, else
"not measured".

    QT_QPA_PLATFORM=offscreen python tests/perf/bench_open.py [--count N | --million] [--folder F]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from common import print_table
from PIL import Image

PER_FOLDER = 1000
VARIANTS = 4096
TARGETS = {
    "first_rows_s": 2.0,
    "stall_indexing_s": 0.050,
    "stall_scrolling_s": 0.050,
    "peak_rss_mb": 3072.0,
    "reopen_rows_s": 2.0,
}
HEARTBEAT_MS = 5
TIMEOUT_S = 4 * 3600
REOPEN_WAIT_S = 20.0
SCROLL_S = 20.0
RATE_ROUNDS = 9  # the index rate's rounds (the loop, then Sieve): the median ratio is shown


def machine_speed_s() -> float:
    """Seconds for ten million pure-Python additions: this shared machine's speed swings by up
    to 2x between sessions, and the absolute targets (10 s to list 1M files) move with it."""
    started, total = time.perf_counter(), 0
    for i in range(10_000_000):
        total += i
    return time.perf_counter() - started


def make_images(folder: Path, count: int) -> None:
    """``count`` 32x24 JPEGs (4,096 distinct ones, written as bytes) in folders of 1,000."""
    variants = []
    for i in range(VARIANTS):
        buffer = io.BytesIO()
        colour = ((i * 37) % 256, (i * 91) % 256, (i * 53) % 256)
        image = Image.new("RGB", (32, 24), colour)
        image.putpixel((i % 32, (i // 32) % 24), (255 - colour[0], 0, 0))
        image.save(buffer, format="JPEG", quality=80)
        variants.append(buffer.getvalue())
    made = 0
    for start in range(0, count, PER_FOLDER):
        sub = folder / f"d{start // PER_FOLDER:04d}"
        sub.mkdir(parents=True, exist_ok=True)
        for i in range(start, min(count, start + PER_FOLDER)):
            path = sub / f"{i:07d}.jpg"
            if not path.exists():
                path.write_bytes(variants[i % VARIANTS])
                made += 1
    print(f"generated {made:,} files ({count:,} in {folder})", flush=True)


# ----------------------------------------------------------------- the probe (child process)
def probe(
    folder: Path,
    count: int,
    settings_dir: Path,
    cap_s: float | None = None,
    scroll_s: float = SCROLL_S,
) -> dict[str, float | None]:
    """Open ``folder`` in a real window; times, stalls and RSS (runs in its own process)."""
    from PySide6.QtCore import QSettings, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from app.ui.app import settle_start_up_objects
    from app.ui.main_window import MainWindow
    from app.ui.settings import Settings

    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(settings_dir))
    window = MainWindow(
        settings=Settings(QSettings(str(settings_dir / "s.ini"), QSettings.Format.IniFormat))
    )
    settle_start_up_objects()  # as run_gui does
    window.resize(1400, 900)
    window.show()
    app.processEvents()
    view = window.browser.view
    out: dict[str, float | None] = dict.fromkeys(
        [
            "first_rows_s",
            "first_thumbnails_s",
            "settled_thumbnails_s",
            "listed_s",
            "all_rows_s",
            "thumbnailed_s",
            "index_done_s",
        ]
    )
    stalls = {"indexing": 0.0, "scrolling": 0.0}
    gaps: list[tuple] = []  # (phase, when, stall, on a core, waiting for one, disk faults) > 50 ms
    phase = {"name": "indexing", "scrolled": 0, "scroll_until": 0.0}
    beat = {
        "last": time.perf_counter(),
        "cpu": time.thread_time(),
        "queued": _queued_s(),
        "faults": _disk_faults(),
    }
    started = time.perf_counter()

    def elapsed() -> float:
        return time.perf_counter() - started

    def tick() -> None:
        now, cpu, queued, faults = (
            time.perf_counter(),
            time.thread_time(),
            _queued_s(),
            _disk_faults(),
        )
        gap = now - beat["last"] - HEARTBEAT_MS / 1000
        busy, starved = cpu - beat["cpu"], queued - beat["queued"]  # the rest: blocked (a lock)
        read_in = faults - beat["faults"]  # pages the thread waited for the disk to read back
        beat["last"], beat["cpu"], beat["queued"], beat["faults"] = now, cpu, queued, faults
        if phase["name"] in stalls:
            stalls[phase["name"]] = max(stalls[phase["name"]], gap)
            if gap > 0.050:
                when = round(elapsed(), 2)
                gaps.append(
                    (phase["name"], when, round(gap, 3), round(busy, 3), round(starved, 3), read_in)
                )
        rows = window.browser.model.rowCount()
        loader = window.browser.model.loader
        if out["first_rows_s"] is None and rows > 0:
            out["first_rows_s"] = elapsed()
            phase["scroll_until"] = elapsed() + scroll_s
        if out["first_thumbnails_s"] is None and loader is not None and loader.loaded_count:
            out["first_thumbnails_s"] = elapsed()
        stopped = out["first_rows_s"] is not None and elapsed() >= phase["scroll_until"]
        if stopped and out["settled_thumbnails_s"] is None and _shows_a_thumbnail(window):
            out["settled_thumbnails_s"] = elapsed() - phase["scroll_until"]
        if out["listed_s"] is None and window.indexer.to_index is not None:
            out["listed_s"] = elapsed()  # the index's list stage is over
        if out["all_rows_s"] is None and rows >= count:
            out["all_rows_s"] = elapsed()
        if out["thumbnailed_s"] is None and window.indexer.to_measure is not None:
            out["thumbnailed_s"] = elapsed()  # the statistics pass starts

    heartbeat = QTimer()
    heartbeat.setTimerType(Qt.TimerType.PreciseTimer)
    heartbeat.timeout.connect(tick)
    heartbeat.start(HEARTBEAT_MS)
    if os.environ.get("SIEVE_TRACE_STALLS"):
        _trace_stalls(beat, phase, elapsed)

    def scroll_a_page() -> None:  # a user paging down while the index runs
        if phase["name"] == "indexing" and elapsed() < phase["scroll_until"]:
            bar = view.verticalScrollBar()
            bar.setValue(bar.value() + view.viewport().height())

    scroller = QTimer()
    scroller.timeout.connect(scroll_a_page)
    scroller.start(50)

    window.open_folder(folder)
    deadline = time.monotonic() + (cap_s or TIMEOUT_S)

    def indexed() -> bool:
        opened = window.project is not None and out["first_rows_s"] is not None
        rows = window.browser.model.rowCount()
        return opened and not window.indexer.running and rows >= count

    _run_events_until(lambda: indexed() or time.monotonic() >= deadline)
    finished = not window.indexer.running
    out["index_done_s"] = elapsed() if finished else None
    out["thumbnailed_at_end"] = float(window.indexer.indexed)
    out["to_thumbnail"] = float(window.indexer.to_index or 0)
    scroller.stop()
    phase["name"] = "settle"
    end = time.perf_counter() + 1.0
    _run_events_until(lambda: time.perf_counter() >= end)
    phase["name"] = "scrolling"
    beat.update(
        last=time.perf_counter(), cpu=time.thread_time(), queued=_queued_s(), faults=_disk_faults()
    )
    bar = view.verticalScrollBar()
    bar.setValue(0)
    row_height = max(1, view.gridSize().height())
    columns = max(1, view.viewport().width() // max(1, view.gridSize().width()))
    for _ in range(1000 // columns):
        bar.setValue(bar.value() + row_height)
        end = time.perf_counter() + 0.016
        while time.perf_counter() < end:
            app.processEvents()
            time.sleep(0.001)
    heartbeat.stop()
    out["stall_indexing_s"] = stalls["indexing"]
    out["stall_scrolling_s"] = stalls["scrolling"]
    out["rows"] = float(window.browser.model.rowCount())
    out["stalls_over_50ms"] = float(len(gaps))
    out["worst_stalls"] = sorted(gaps, key=lambda g: -g[2])[:8]  # type: ignore[assignment]
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["disk_faults"] = float(resource.getrusage(resource.RUSAGE_SELF).ru_majflt)
    window.shutdown()  # its child processes end: their peak is known once they are waited for
    out["child_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps(out), flush=True)
    return out


def _run_events_until(done: Callable[[], bool]) -> None:
    """Run the event loop as the app does until ``done()`` (asked every 20 ms): a loop of
    ``processEvents`` and 1 ms sleeps took a twentieth of a core from the window it measures."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    check = QTimer()
    check.timeout.connect(lambda: done() and loop.quit())
    check.start(20)
    loop.exec()
    check.stop()


def _queued_s() -> float:
    """Seconds this thread has waited for a core (Linux schedstat; 0 elsewhere)."""
    try:
        with open("/proc/thread-self/schedstat") as stats:
            return int(stats.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def _disk_faults() -> int:
    """Page faults of this thread that waited for the disk (a page the system had dropped, such
    as library code not run for a while, read back)."""
    return resource.getrusage(getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF)).ru_majflt


def _shows_a_thumbnail(window) -> bool:
    """Whether a row on screen shows its thumbnail."""
    loader = window.browser.model.loader
    return loader is not None and any(loader.holds(int(i)) for i in window.browser.visible_ids())


def _trace_stalls(beat: dict, phase: dict, elapsed: Callable[[], float]) -> None:
    """Debug aid (``SIEVE_TRACE_STALLS=1``): when the heartbeat is late by 40 ms, print every
    thread's stack once per stall (to stderr), to see what the GUI thread waits on."""
    import threading
    import traceback

    main = threading.main_thread().ident

    def watch() -> None:
        reported = 0.0
        while True:
            time.sleep(0.01)
            late = time.perf_counter() - beat["last"]
            if late < 0.04 or beat["last"] == reported:
                continue
            reported = beat["last"]
            lines = [f"--- stall {late * 1000:.0f} ms at {elapsed():.2f} s ({phase['name']})"]
            for ident, frame in sys._current_frames().items():
                name = "GUI" if ident == main else str(ident)
                stack = traceback.format_stack(frame)[-6:]
                lines.append(f"  [{name}]\n" + "".join(stack))
                del frame  # a frame kept alive keeps its locals (a QPainter) alive
            print("\n".join(lines), file=sys.stderr, flush=True)

    threading.Thread(target=watch, daemon=True).start()


def run_probe(
    folder: Path, count: int, cap_s: float | None, scroll_s: float = SCROLL_S
) -> dict[str, float | None]:
    with tempfile.TemporaryDirectory() as settings:
        command = [sys.executable, __file__, "--probe", str(folder), "--count", str(count)]
        command += ["--settings", settings, "--scroll-seconds", str(scroll_s)]
        if cap_s is not None:
            command += ["--max-index-seconds", str(cap_s)]
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if not any(line.startswith("{") for line in done.stdout.splitlines()):
        raise SystemExit(f"probe failed:\n{done.stdout}\n{done.stderr[-4000:]}")
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1])


# -------------------------------------------------------------------------- peers' rows
def peer_rows(folder: Path, workers: int) -> list[list[str]]:
    """Index rate against the plain Pillow loop and the quick-look time, from the benchmarks
    of the other issue-16 parts (``bench_ingest.py``, ``bench_quick_look.py``) when present."""
    rows = []
    try:
        import bench_ingest
    except ImportError:
        rows.append(["index rate vs Pillow loop", "not measured", "bench_ingest.py missing", ""])
    else:
        sub = folder / "d0000"
        paths = sorted(sub.glob("*.jpg"))
        bench_ingest.warm(paths)
        runs = []  # (Sieve files/s, loop files/s), the two back to back in each round
        for _ in range(RATE_ROUNDS):
            pillow, _ = bench_ingest.pillow_loop(paths, workers)
            sieve, _ = bench_ingest.sieve_index(sub, len(paths), workers)
            runs.append((sieve / pillow, sieve, pillow))
        ratio, sieve, pillow = sorted(runs)[len(runs) // 2]
        each = " ".join(f"{run[0]:.2f}" for run in runs)
        rows.append(
            [
                f"index rate, {len(paths):,} tiny JPEGs, {workers} threads",
                f"{sieve:,.0f} files/s",
                ">= 0.9x Pillow loop",
                f"{ratio:.2f}x median of {each} (Pillow loop {pillow:,.0f} files/s)",
            ]
        )
    try:
        import bench_quick_look
    except ImportError:
        rows.append(["quick look + UMAP", "not measured", "bench_quick_look.py missing", ""])
    else:
        with tempfile.TemporaryDirectory(prefix="sieve-quick-") as work:
            try:
                root = bench_quick_look.write_pngs(Path(work) / "fashion", 8000, 28)
            except SystemExit as missing:  # the dataset is not installed: the other rows stand
                rows.append(["quick look + UMAP", "not measured", str(missing), ""])
                return rows
            project, _ = bench_quick_look.indexed_project(root, Path(work) / "project")
            bench_quick_look.warm_umap()
            times = bench_quick_look.quick_look_seconds(project)
        rows.append(
            [
                "quick look to finished UMAP, 8k Fashion-MNIST PNGs",
                f"{times['total']:.1f} s",
                "<= 30 s",
                f"{'met' if times['total'] <= 30 else 'MISSED'}: {times['side']:.0f} px, embed "
                f"{times['embed']:.1f} s, PCA shown at {times['pca_visible']:.1f} s; its process "
                f"loaded ahead in {times['load_ahead']:.1f} s",
            ]
        )
    return rows


def index_text(result: dict, cap_s: float | None) -> str:
    done, total = result["thumbnailed_at_end"], result["to_thumbnail"]
    if result["index_done_s"] is not None:
        return f"{result['index_done_s']:.1f} s ({done:,.0f} files)"
    return f"not within {cap_s:.0f} s: {done:,.0f} of {total:,.0f} files thumbnailed"


def fmt(value: float | None, unit: str = "s") -> str:
    if value is None:
        return "never"
    return f"{value:,.0f} MB" if unit == "MB" else f"{value:.3f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--million", action="store_true", help="1,000,000 files")
    parser.add_argument("--folder", type=Path, help="where to generate (kept; reused if there)")
    parser.add_argument("--probe", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--settings", type=Path, help=argparse.SUPPRESS)
    parser.add_argument(
        "--max-index-seconds",
        type=float,
        help="stop waiting for the index after this long (at 1M the full index takes an hour here)",
    )
    parser.add_argument(
        "--scroll-seconds",
        type=float,
        default=SCROLL_S,
        help="page down every 50 ms for this long once rows show (then stop and look)",
    )
    parser.add_argument("--skip-peers", action="store_true", help="no ingest / quick-look rows")
    parser.add_argument("--peers-only", action="store_true", help="only those rows")
    args = parser.parse_args()
    count = 1_000_000 if args.million else args.count
    if args.probe is not None:
        probe(  # prints its JSON line before closing
            args.probe, count, args.settings, args.max_index_seconds, args.scroll_seconds
        )
        sys.stdout.flush()
        os._exit(0)  # a panel's reader still running at exit must not abort the process
    with tempfile.TemporaryDirectory(prefix="sieve-open-") as scratch:
        folder = args.folder or Path(scratch) / "images"
        started = time.perf_counter()
        make_images(folder, count)
        print(f"generation took {time.perf_counter() - started:.0f} s", flush=True)
        if args.peers_only:
            rows = peer_rows(folder, max(2, os.cpu_count() or 2))
            print_table("Issue 16 peers", ["measure", "Sieve", "target", ""], rows)
            return
        project = folder / ".sieve"
        if project.exists():
            raise SystemExit(f"{project} exists: remove it to time a never-seen folder")
        fresh = run_probe(folder, count, args.max_index_seconds, args.scroll_seconds)
        again = run_probe(folder, count, REOPEN_WAIT_S)  # its catch-up index: 20 s at most
        rows = [
            ["first rows in the grid", fmt(fresh["first_rows_s"]), "<= 2 s", ""],
            ["first thumbnails", fmt(fresh["first_thumbnails_s"]), "", ""],
            ["thumbnails where scrolling stopped", fmt(fresh["settled_thumbnails_s"]), "", ""],
            ["every file listed (index's list stage)", fmt(fresh["listed_s"]), "", ""],
            ["every file listed in the grid", fmt(fresh["all_rows_s"]), "<= 10 s at 1M", ""],
            ["every file thumbnailed", fmt(fresh["thumbnailed_s"]), "", ""],
            [
                "index complete (with statistics)",
                index_text(fresh, args.max_index_seconds),
                "completes",
                "",
            ],
            ["longest stall while indexing", fmt(fresh["stall_indexing_s"]), "<= 0.050 s", ""],
            ["longest stall scrolling 1k rows", fmt(fresh["stall_scrolling_s"]), "<= 0.050 s", ""],
            ["peak RSS (window)", fmt(fresh["peak_rss_mb"], "MB"), "<= 3072 MB", ""],
            [
                "peak RSS of its largest child (index, quick look)",
                fmt(fresh.get("child_peak_rss_mb"), "MB"),
                "",
                "",
            ],
            ["re-open: first rows", fmt(again["first_rows_s"]), "<= 2 s", ""],
            ["re-open: first thumbnails", fmt(again["first_thumbnails_s"]), "", ""],
            ["re-open: known files checked (list stage)", fmt(again["listed_s"]), "", ""],
            ["re-open: longest stall while indexing", fmt(again["stall_indexing_s"]), "", ""],
            ["re-open: peak RSS", fmt(again["peak_rss_mb"], "MB"), "<= 3072 MB", ""],
        ]
        for row, key in zip(
            rows,
            [
                "first_rows_s",
                None,
                None,
                None,
                None,
                None,
                None,
                "stall_indexing_s",
                "stall_scrolling_s",
                "peak_rss_mb",
            ],
            strict=False,
        ):
            if key is not None and fresh[key] is not None:
                row[3] = "met" if fresh[key] <= TARGETS[key] else "MISSED"
        if again["first_rows_s"] is not None:
            rows[11][3] = "met" if again["first_rows_s"] <= TARGETS["reopen_rows_s"] else "MISSED"
        if again["stall_indexing_s"] is not None:
            rows[14][2] = "<= 0.050 s"
            met = again["stall_indexing_s"] <= TARGETS["stall_indexing_s"]
            rows[14][3] = "met" if met else "MISSED"
        if fresh["all_rows_s"] is not None and count >= 1_000_000:
            rows[4][3] = "met" if fresh["all_rows_s"] <= 10.0 else "MISSED"
        if not args.skip_peers:
            rows += peer_rows(folder, max(2, os.cpu_count() or 2))
        print_table(
            f"Opening a never-seen folder of {count:,} tiny JPEGs (rows in grid: "
            f"{fresh['rows']:,.0f})",
            ["measure", "Sieve", "target", ""],
            rows,
        )
        print(
            f"stalls over 50 ms while opening: {fresh['stalls_over_50ms']:.0f}; worst "
            f"(phase, at s, stall s, GUI thread on a core s, waiting for a core s, pages it waited "
            f"for the disk to read back; the rest it waited on a lock or the disk): "
            f"{fresh['worst_stalls']}"
        )
        print(f"re-open worst stalls: {again['worst_stalls']}")
        print(f"machine speed: 10M pure-Python additions took {machine_speed_s():.2f} s")


if __name__ == "__main__":
    main()
