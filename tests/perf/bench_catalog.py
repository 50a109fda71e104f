"""Browser at scale: load a 1M-sample table from SQLite, filter, sort, select, scroll.

Run: ``QT_QPA_PLATFORM=offscreen python tests/perf/bench_catalog.py [--rows N]``. The project is
written straight into SQLite (no image files): 1 video of 20,000 frames plus images in 100
label folders, a tag on every 7th sample and a numeric score per sample.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.core.store.catalog import load_table, scores, tag_members  # noqa: E402
from app.core.store.project import Project  # noqa: E402
from app.gui_model.filtering import apply_filter  # noqa: E402
from app.gui_model.state import AppState, Filter  # noqa: E402
from tests.perf.common import print_table, timed  # noqa: E402

VIDEO_FRAMES = 20_000


def build_project(folder: Path, rows: int) -> Path:
    """A project whose database holds ``rows`` samples; returns the project folder."""
    (folder / "data").mkdir(parents=True)
    project = Project.create(folder / "project", folder / "data")
    images = rows - VIDEO_FRAMES
    with project.db:
        project.db.executemany(
            "INSERT INTO files(id, relpath, kind, size, mtime_ns, status) "
            "VALUES (?, ?, 'image', 1, 1, 'ok')",
            ((i + 2, f"class{i % 100:03d}/img{i:07d}.jpg") for i in range(images)),
        )
        project.db.execute(
            "INSERT INTO files(id, relpath, kind, size, mtime_ns, status, n_frames) "
            "VALUES (1, 'clips/a.mp4', 'video', 1, 1, 'ok', ?)",
            (VIDEO_FRAMES,),
        )
        project.db.executemany(
            "INSERT INTO samples(id, file_id, frame, width, height, label, status, reason) "
            "VALUES (?, ?, ?, 64, 48, ?, ?, ?)",
            ((i + 2, i + 2, None, f"class{i % 100:03d}", *_status(i)) for i in range(images)),
        )
        project.db.executemany(
            "INSERT INTO samples(file_id, frame, width, height, label, status) "
            "VALUES (1, ?, 64, 48, 'clips', 'ok')",
            ((f,) for f in range(VIDEO_FRAMES)),
        )
        tag = project.create_tag("keep")
        project.db.executemany(
            "INSERT INTO sample_tags VALUES (?, ?)", ((i, tag) for i in range(2, rows, 7))
        )
        rng = np.random.default_rng(0)
        project.db.executemany(
            "INSERT INTO metadata VALUES (?, 'score', ?)",
            zip(range(2, rows + 2), rng.random(rows).tolist(), strict=True),
        )
    project.close()
    return folder / "project"


def _status(i: int) -> tuple[str, str | None]:
    return ("broken", "truncated file") if i % 1000 == 999 else ("ok", None)


def bench(rows: int) -> None:
    from PySide6.QtWidgets import QApplication

    from app.ui.browser.model import BrowserModel
    from app.ui.browser.view import BrowserView

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        seconds, project_dir = timed(lambda: build_project(Path(tmp), rows))
        print(f"built {rows:,} rows in {seconds:.1f} s")
        results = []
        with Project.open(project_dir) as project:
            t, table = timed(lambda: load_table(project))
            results.append(["load_table", f"{t * 1000:.0f}"])
            t, members = timed(lambda: tag_members(project))
            results.append(["tag_members", f"{t * 1000:.0f}"])
            t, values = timed(lambda: scores(project, "score", table))
            results.append(["scores('score')", f"{t * 1000:.0f}"])
        by_name = {"keep": next(iter(members.values()))}
        for label, flt, score in [
            ("filter: none", Filter(), None),
            ("filter: text 'img00123' (cold)", Filter(text="img00123"), None),
            ("filter: text 'A-01' (frames)", Filter(text="A-01"), None),
            ("filter: label", Filter(labels=frozenset({"class007"})), None),
            ("filter: tag", Filter(tag="keep"), None),
            ("sort: label desc", Filter(sort="label", descending=True), None),
            ("sort: score", Filter(sort="score"), values),
        ]:
            t, shown = timed(lambda f=flt, s=score: apply_filter(table, f, by_name, None, s))
            results.append([f"{label} -> {len(shown):,}", f"{t * 1000:.0f}"])

        state = AppState()
        model = BrowserModel()
        view = BrowserView(state)
        view.setModel(model)
        view.resize(1000, 700)
        view.show()
        t, _ = timed(lambda: (model.set_table(Path(tmp), table), model.set_order(np.arange(rows))))
        results.append(["model.set_table + set_order", f"{t * 1000:.0f}"])
        t, _ = timed(lambda: (view.scrollToBottom(), app.processEvents()))
        results.append(["scroll to end + paint", f"{t * 1000:.0f}"])
        t, _ = timed(lambda: (view.selectAll(), app.processEvents()))
        results.append([f"select all -> {len(state.selected):,}", f"{t * 1000:.0f}"])
        t, _ = timed(lambda: (state.select(table.ids[::2]), app.processEvents()))
        results.append(["state.select(every 2nd) -> view", f"{t * 1000:.0f}"])
        model.close()
    print_table(f"browser at {rows:,} rows", ["step", "ms"], results)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    bench(parser.parse_args().rows)
