"""Benchmark: the embedding map against a plain pyqtgraph ScatterPlotItem, in one run (issue 7).

    QT_QPA_PLATFORM=offscreen python tests/perf/bench_scatter.py [--frames 30]

Both widgets are 960 x 720, show the same clustered points (10 classes, like a UMAP of a labelled
set) and are driven the same way: alternating pans and zooms, each frame rendered synchronously
with ``grab()``; the median frame time is reported. pyqtgraph is used the usual way: a PlotWidget
with one ScatterPlotItem (pxMode, size 3, no pen, one brush per category via a brush array).
Also: hover pick latency at 1M (Sieve's ``pick`` against pyqtgraph's ``pointsAt``) and the time
to switch colour-by at 1M, up to the next frame on screen.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from functools import partial

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from common import print_table  # noqa: E402
from PySide6.QtCore import QPointF  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

SIZE = (960, 720)
TARGETS_MS = {"frame 100k": 10.0, "frame 1M": 33.0, "pick 1M": 5.0}
PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1",
           "#edc948", "#76b7b2", "#ff9da7", "#9c755f", "#bab0ac"]  # fmt: skip


def clusters(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points in 10 Gaussian clusters of different spreads, and their class."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 6, (10, 2))
    spread = rng.uniform(0.3, 1.5, 10)
    labels = rng.integers(0, 10, n)
    return centres[labels] + rng.normal(0, 1, (n, 2)) * spread[labels, None], labels


Timing = tuple[float, float]  # wall ms, CPU ms of this process


def timed_ms(function: Callable[[], object]) -> tuple[Timing, object]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = function()
    return ((time.perf_counter() - wall) * 1e3, (time.process_time() - cpu) * 1e3), result


def median(samples: list[Timing]) -> Timing:
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


class SieveSide:
    def __init__(self, xy: np.ndarray, labels: np.ndarray) -> None:
        from app.ui.scatter import EmbeddingScatter

        self.widget = EmbeddingScatter()
        self.widget.resize(*SIZE)
        self.widget.show()
        self.widget.set_points(xy, categories=labels)
        self.widget.grab()

    def step(self, i: int) -> None:
        view = self.widget.view()
        if i % 2:
            view = view.panned(37 if i % 4 == 1 else -37, 23)
        else:
            view = view.zoomed(1.15 if i % 4 == 0 else 1 / 1.15, SIZE[0] * 0.45, SIZE[1] * 0.55)
        self.widget.set_view(view)

    def render(self) -> None:
        self.widget.grab()

    def pick(self, x: float, y: float) -> object:
        return self.widget.pick(x, y)

    def recolour(self, labels: np.ndarray) -> None:
        self.widget.set_colours(categories=labels)
        self.widget.grab()

    def recolour_values(self, values: np.ndarray) -> None:
        self.widget.set_colours(values=values)
        self.widget.grab()

    def move(self, xy: np.ndarray) -> None:
        self.widget.set_positions(xy)
        self.widget.grab()


class PyqtgraphSide:
    def __init__(self, xy: np.ndarray, labels: np.ndarray) -> None:
        import pyqtgraph as pg

        self.pg = pg
        self.widget = pg.PlotWidget()
        self.widget.resize(*SIZE)
        self.widget.setBackground("#1e1e22")
        self.widget.setAspectLocked(True)
        self.brushes = np.array([pg.mkBrush(c) for c in PALETTE], dtype=object)
        self.item = pg.ScatterPlotItem(
            x=xy[:, 0], y=xy[:, 1], pxMode=True, size=3, pen=None, brush=self.brushes[labels]
        )
        self.widget.addItem(self.item)
        self.widget.show()
        self.widget.autoRange()
        self.widget.grab()

    def step(self, i: int) -> None:
        box = self.widget.getViewBox()
        if i % 2:
            (x0, x1), (y0, y1) = box.viewRange()
            dx = (x1 - x0) * 37 / SIZE[0] * (1 if i % 4 == 1 else -1)
            box.translateBy(x=-dx, y=(y1 - y0) * 23 / SIZE[1])
        else:
            factor = 1 / 1.15 if i % 4 == 0 else 1.15
            centre = box.mapSceneToView(QPointF(SIZE[0] * 0.45, SIZE[1] * 0.55))
            box.scaleBy((factor, factor), center=centre)

    def render(self) -> None:
        self.widget.grab()

    def pick(self, x: float, y: float) -> object:
        position = self.widget.getViewBox().mapSceneToView(QPointF(x, y))
        return self.item.pointsAt(position)

    def recolour(self, labels: np.ndarray) -> None:
        self.item.setBrush(self.brushes[labels])
        self.widget.grab()


def frame_ms(side: SieveSide | PyqtgraphSide, frames: int) -> Timing:
    """Median time of a full synchronous render after each pan or zoom step."""
    samples = []
    for i in range(frames):
        side.step(i)
        samples.append(timed_ms(side.render)[0])
    return median(samples)


def pick_ms(side: SieveSide | PyqtgraphSide, count: int) -> tuple[Timing, int]:
    """Median latency of picks at random spots, and how many found a point."""
    rng = np.random.default_rng(1)
    samples, hits = [], 0
    xs, ys = rng.uniform(100, SIZE[0] - 100, count), rng.uniform(100, SIZE[1] - 100, count)
    for x, y in zip(xs, ys, strict=True):
        timing, found = timed_ms(partial(side.pick, float(x), float(y)))
        samples.append(timing)
        hits += found is not None and len(np.atleast_1d(found)) > 0
    return median(samples), hits


class Table:
    """Rows of Sieve against pyqtgraph: wall and CPU ms, the CPU ratio, the target."""

    HEADER = ["measure", "Sieve", "Sieve CPU", "pyqtgraph", "pyqtgraph CPU", "ratio (CPU)",
              "target", "wall / CPU"]  # fmt: skip

    def __init__(self) -> None:
        self.rows: list[list[str]] = []

    def add(self, name: str, sieve: Timing, peer: Timing | None = None) -> None:
        target = TARGETS_MS.get(name)
        verdicts = "" if target is None else " / ".join(
            "ok" if value <= target else "missed" for value in sieve
        )  # fmt: skip
        self.rows.append(
            [name, f"{sieve[0]:.2f}", f"{sieve[1]:.2f}",
             "-" if peer is None else f"{peer[0]:.1f}", "-" if peer is None else f"{peer[1]:.1f}",
             "-" if peer is None else f"{peer[1] / max(sieve[1], 1e-3):,.1f}x",
             "-" if target is None else f"<= {target:g}", verdicts]
        )  # fmt: skip


def million_extras(
    table: Table,
    notes: list[str],
    sieve: SieveSide,
    peer: PyqtgraphSide,
    xy: np.ndarray,
    labels: np.ndarray,
) -> None:
    """Pick latency, colour-by switches and a UMAP-epoch position update at 1M points."""
    (sieve_pick, sieve_hits), (peer_pick, peer_hits) = pick_ms(sieve, 200), pick_ms(peer, 20)
    table.add("pick 1M", sieve_pick, peer_pick)
    notes.append(f"picks that found a point: Sieve {sieve_hits}/200, pyqtgraph {peer_hits}/20")
    recoloured = (labels + 3) % 10
    table.add(
        "colour-by switch 1M (classes)",
        timed_ms(partial(sieve.recolour, recoloured))[0],
        timed_ms(partial(peer.recolour, recoloured))[0],
    )
    values = xy[:, 0] * xy[:, 1]
    table.add("colour-by switch 1M (values)", timed_ms(partial(sieve.recolour_values, values))[0])
    table.add(
        "set_positions + frame 1M (a UMAP epoch)", timed_ms(partial(sieve.move, xy * 1.01))[0]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--pyqtgraph-frames-1m", type=int, default=10)
    args = parser.parse_args()
    QApplication.instance() or QApplication([])
    table, notes = Table(), []
    load_before = os.getloadavg()[0]
    for n, label in ((100_000, "100k"), (1_000_000, "1M")):
        xy, labels = clusters(n)
        sieve_setup, sieve = timed_ms(partial(SieveSide, xy, labels))
        peer_setup, peer = timed_ms(partial(PyqtgraphSide, xy, labels))
        peer_frames = args.frames if n < 1_000_000 else args.pyqtgraph_frames_1m
        table.add(f"frame {label}", frame_ms(sieve, args.frames), frame_ms(peer, peer_frames))
        table.add(f"set_points + first frame {label}", sieve_setup, peer_setup)
        if n == 1_000_000:
            million_extras(table, notes, sieve, peer, xy, labels)
            notes.append(f"pyqtgraph 1M frames: median of {peer_frames}; its picks: 20")
        sieve.widget.close()
        peer.widget.close()
    load = f"load average {load_before:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    print_table(
        f"Embedding map, {SIZE[0]} x {SIZE[1]} offscreen, ms (median), {load}",
        Table.HEADER,
        table.rows,
    )
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()
