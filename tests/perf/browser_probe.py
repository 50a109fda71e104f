"""Child process of bench_browser.py: launch the real window on a project and measure it.

Prints one JSON line: seconds from interpreter start to the first visible real thumbnails, the
longest stall of the event loop while scrolling through 1,000 rows at 60 steps a second, and
the peak resident memory. ``--naive`` measures the peer instead: a QListWidget with one item
per sample, the way a first Qt prototype is written (sharing one placeholder icon: decoding 100k
icons up front would not even fit in memory).
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

SCROLL_ROWS = 1000
FRAME_MS = 16


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited at fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Scroller:
    """Scrolls ``view`` down by ``rows`` grid rows, one small step per frame, timing each gap."""

    def __init__(self, view, rows: int, on_done) -> None:
        self.view, self.on_done = view, on_done
        bar = view.verticalScrollBar()
        row_height = max(1, view.gridSize().height() if view.gridSize().isValid() else 40)
        per_row = max(1, view.viewport().width() // max(1, view.gridSize().width() or 40))
        self.target = min(bar.maximum(), bar.value() + rows // per_row * row_height)
        self.step = max(1, (self.target - bar.value()) // 300)
        self.longest = 0.0
        self.last = time.perf_counter()
        self.timer = QTimer()
        self.timer.setInterval(FRAME_MS)
        self.timer.timeout.connect(self.tick)
        self.timer.start()

    def tick(self) -> None:
        now = time.perf_counter()
        self.longest = max(self.longest, now - self.last - FRAME_MS / 1000)
        self.last = now
        bar = self.view.verticalScrollBar()
        if bar.value() >= self.target:
            self.timer.stop()
            self.on_done(self.longest)
            return
        bar.setValue(min(self.target, bar.value() + self.step))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("project")
    parser.add_argument("--naive", action="store_true")
    args = parser.parse_args()
    app = QApplication(sys.argv)
    result: dict[str, float] = {}
    probe = naive_probe if args.naive else sieve_probe
    probe(app, Path(args.project), result)
    app.exec()
    result["peak_mb"] = peak_rss_mb()
    print(json.dumps({k: v for k, v in result.items() if isinstance(v, float)}), flush=True)


def finish_with_scroll(app, view, result) -> None:
    def done(longest: float) -> None:
        result["scroll_stall_s"] = longest
        app.quit()

    result["scroller"] = Scroller(view, SCROLL_ROWS, done)  # keep a reference


def sieve_probe(app, project: Path, result: dict) -> None:
    from app.ui.browser.model import BrowserModel
    from app.ui.main_window import MainWindow
    from app.ui.placeholders import loading_pixmap

    window = MainWindow()
    window.resize(1280, 800)
    window.show()
    window.open_project(project)
    view = window.browser.view
    model: BrowserModel = view.model()

    def first_thumbnails_shown() -> bool:
        area = view.viewport().rect()
        first = view.indexAt(area.topLeft() + area.topLeft().__class__(5, 5))
        if not first.isValid():
            return False
        pixmap = model.data(first, 1)
        return pixmap is not None and pixmap.cacheKey() != loading_pixmap(128).cacheKey()

    def poll() -> None:
        if first_thumbnails_shown():
            result["first_thumbnails_s"] = time.perf_counter() - STARTED
            poller.stop()
            result.pop("scroller", None)
            finish_with_scroll(app, view, result)

    poller = QTimer()
    poller.setInterval(2)
    poller.timeout.connect(poll)
    poller.start()
    result["_keep"] = (window, poller)


def naive_probe(app, project: Path, result: dict) -> None:
    from PySide6.QtCore import QSize
    from PySide6.QtGui import QIcon, QPixmap
    from PySide6.QtWidgets import QListView, QListWidget, QListWidgetItem

    from app.core.store.project import Project

    widget = QListWidget()
    widget.setViewMode(QListView.ViewMode.IconMode)
    widget.setIconSize(QSize(128, 128))
    widget.setUniformItemSizes(True)
    widget.resize(1280, 800)
    with Project.open(project) as opened:
        rows = opened.samples()
    placeholder = QIcon(QPixmap(128, 128))
    for row in rows:
        widget.addItem(QListWidgetItem(placeholder, row.name))
    widget.show()
    result["first_thumbnails_s"] = time.perf_counter() - STARTED
    widget.gridSize = lambda: QSize(140, 160)  # noqa: E731 - for the scroller's arithmetic
    result["_keep"] = widget
    finish_with_scroll(app, widget, result)


if __name__ == "__main__":
    main()
