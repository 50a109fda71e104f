"""Progressive open: rows and thumbnails before the index ends, visible rows first, F5, gating."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QPixmap

from app.core.ingest.indexing import IndexOptions, index_job
from app.core.jobs import Progress, run_job
from app.core.store.project import Project
from app.ui import progressive
from app.ui.browser.model import BrokenRole
from app.ui.main_window import MainWindow
from app.ui.opening import LoadedProject
from app.ui.placeholders import loading_pixmap

TIMEOUT_MS = 30_000


def tiny_jpegs(root: Path, count: int, per_folder: int = 250) -> Path:
    """``count`` 32x24 JPEGs of varied colour in folders of ``per_folder``."""
    for i in range(count):
        folder = root / f"f{i // per_folder:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        colour = ((i * 37) % 256, (i * 91) % 256, (i * 53) % 256)
        Image.new("RGB", (32, 24), colour).save(folder / f"{i:05d}.jpg", quality=80)
    return root


def rows(window: MainWindow) -> int:
    return window.browser.model.rowCount()


def has_thumbnail(window: MainWindow, row: int) -> bool:
    model = window.browser.model
    pixmap = model.data(model.index(row), Qt.ItemDataRole.DecorationRole)
    return isinstance(pixmap, QPixmap) and pixmap.cacheKey() != loading_pixmap(128).cacheKey()


def open_indexed(qtbot, window: MainWindow, folder: Path, count: int) -> Path:
    """Open ``folder`` in the window and wait until its ``count`` rows are shown and indexed."""
    window.open_folder(folder)
    qtbot.waitUntil(
        lambda: rows(window) == count and not window.indexer.running, timeout=TIMEOUT_MS
    )
    return folder


class Recorder:
    """Samples the window every 10 ms: (rows, thumbnails held, index running)."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.samples: list[tuple[int, int, bool]] = []
        self.timer = QTimer()
        self.timer.timeout.connect(self.sample)
        self.timer.start(10)

    def sample(self) -> None:
        loader = self.window.browser.model.loader
        held = loader.loaded_count if loader is not None else 0
        self.samples.append((rows(self.window), held, self.window.indexer.running))


def test_a_fresh_folder_shows_rows_and_thumbnails_before_indexing_ends(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    folder = tiny_jpegs(tmp_path / "fresh", 1199)
    (folder / "f000" / "00000-broken.jpg").write_bytes(b"\xff\xd8\xff not a JPEG")
    recorder = Recorder(window)
    window.open_folder(folder)
    qtbot.waitUntil(lambda: window.pages.currentWidget() is window.browser, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: not window.indexer.running, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: rows(window) == 1200, timeout=TIMEOUT_MS)
    recorder.timer.stop()
    while_running = [(r, held) for r, held, running in recorder.samples if running]
    assert any(r > 0 for r, _ in while_running), "no rows in the grid while indexing ran"
    assert any(held > 0 for _, held in while_running), "no thumbnail while indexing ran"
    assert window.state.indexing is None
    qtbot.waitUntil(lambda: has_thumbnail(window, 0), timeout=TIMEOUT_MS)
    counts = window.status_panel.counts_label.text()
    assert "1,200 samples" in counts and "1 broken" in counts, counts
    assert window.browser.model.data(window.browser.model.index(0), BrokenRole)


def test_rows_on_screen_are_thumbnailed_first(qtbot, window: MainWindow, tmp_path: Path) -> None:
    pytest.importorskip("app.core.ingest.priority")
    count = 2500
    folder = tiny_jpegs(tmp_path / "scrolled", count)
    window.open_folder(folder)
    qtbot.waitUntil(lambda: rows(window) == count, timeout=TIMEOUT_MS)
    view, model = window.browser.view, window.browser.model
    view.scrollToBottom()
    first, last = view.visible_rows()
    assert last == count - 1
    on_screen = range(first, last + 1)
    qtbot.waitUntil(lambda: all(has_thumbnail(window, r) for r in on_screen), timeout=TIMEOUT_MS)
    first_name = model.table.name(int(model.order[first]))
    db = sqlite3.connect(window.project.path / "project.sqlite")
    try:
        query = "SELECT COUNT(*) FROM files WHERE pending AND relpath < ?"
        (earlier_pending,) = db.execute(query, (first_name,)).fetchone()
    finally:
        db.close()
    assert earlier_pending > 0, "the rows on screen were thumbnailed after every row above them"
    qtbot.waitUntil(lambda: not window.indexer.running, timeout=TIMEOUT_MS)


def test_refresh_shows_added_files_and_marks_removed_ones(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    folder = open_indexed(qtbot, window, tiny_jpegs(tmp_path / "changing", 30), 30)
    Image.new("RGB", (32, 24), (9, 9, 9)).save(folder / "f000" / "zz-new-1.jpg")
    Image.new("RGB", (32, 24), (99, 9, 9)).save(folder / "f000" / "aa-new-2.jpg")
    (folder / "f000" / "00003.jpg").unlink()
    window.browser.view.setFocus()
    qtbot.keyClick(window.browser.view, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: rows(window) == 32, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: not window.indexer.running, timeout=TIMEOUT_MS)
    table = window.browser.model.table
    names = [table.name(int(r)) for r in window.browser.model.order]
    assert names[0] == "f000/00000.jpg" and "f000/aa-new-2.jpg" in names
    gone = int(np.flatnonzero([n == "f000/00003.jpg" for n in table.relpaths])[0])
    assert table.missing[table.file_index == gone].all()
    assert "1 missing" in window.status_panel.counts_label.text()


def test_whole_index_actions_wait_while_indexing_and_say_why(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    folder = tiny_jpegs(tmp_path / "gated", 800)
    start = window.training_panel().start_button
    select_run = window.selection_panel.run_button
    quick = window.map_panel.quick_button
    seen: list[tuple[str | None, bool, str, bool, str, str]] = []

    def record(event: str) -> None:
        if event == "indexing":
            seen.append(
                (
                    window.state.indexing,
                    start.isEnabled(),
                    start.toolTip(),
                    select_run.isEnabled(),
                    select_run.toolTip(),
                    quick.toolTip(),
                )
            )

    window.state.subscribe(record)
    window.open_folder(folder)
    qtbot.waitUntil(lambda: not window.indexer.running and bool(seen), timeout=TIMEOUT_MS)
    waiting = [s for s in seen if s[0] is not None and "files left" in s[0]]
    assert waiting, seen[:3]
    reason, start_on, start_tip, select_on, select_tip, quick_tip = waiting[-1]
    assert not start_on and not select_on
    assert reason in start_tip and reason in select_tip and reason in quick_tip
    assert "of 800 files left" in reason
    qtbot.waitUntil(lambda: start.isEnabled(), timeout=TIMEOUT_MS)
    assert "Waits for the index" not in start.toolTip()
    assert "Waits for the index" not in select_run.toolTip()


def test_statistics_are_measured_after_every_file_is_thumbnailed_and_say_so(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    folder = tiny_jpegs(tmp_path / "measured", 600)
    checks = window.issues_ui.panel.run_button
    quick = window.map_panel.quick_button
    seen: list[tuple] = []

    def record(event: str) -> None:
        reason = window.state.measuring
        if event == "measuring" and reason is not None:
            indexer = window.indexer
            seen.append((reason, indexer.status_note(), indexer.indexed, indexer.to_index))
        if event == "indexing" and window.state.measuring is not None:
            seen.append((window.state.indexing, quick.isEnabled(), checks.isEnabled()))

    window.state.subscribe(record)
    open_indexed(qtbot, window, folder, 600)
    assert seen, "no measuring stage was shown"
    reason, note, indexed, to_index = seen[0]
    assert indexed == to_index == 600  # every file was thumbnailed before
    assert reason == "measuring image statistics, 600 of 600 left"
    assert note == "measuring 0 of 600 images"
    assert seen[1] == (None, True, False)  # Quick look may start; the checks wait
    with sqlite3.connect(window.project.path / "project.sqlite") as db:
        measured = db.execute("SELECT COUNT(brightness) FROM sample_stats").fetchone()[0]
    assert measured == 600
    assert window.state.measuring is None
    qtbot.waitUntil(checks.isEnabled, timeout=TIMEOUT_MS)


def test_a_folder_opens_in_process_when_the_index_process_cannot_start(
    qtbot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.core.ingest import remote

    monkeypatch.setattr(remote, "worker_command", lambda *a: [str(tmp_path / "no-program")])
    folder = tiny_jpegs(tmp_path / "fallback", 40)
    window.open_folder(folder)
    qtbot.waitUntil(lambda: rows(window) == 40 and not window.indexer.running, timeout=TIMEOUT_MS)
    assert "40 samples" in window.status_panel.counts_label.text()
    qtbot.waitUntil(lambda: has_thumbnail(window, 0), timeout=TIMEOUT_MS)


def test_a_rerun_checking_known_files_does_not_re_read_the_grid(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    open_indexed(qtbot, window, tiny_jpegs(tmp_path / "known", 30), 30)
    session = window.indexer
    session.refresh(window.project)
    session._on_progress(Progress("list", 0, None, "listed 0 files"))  # known files checked
    assert not session._grow_timer.isActive()
    session._on_progress(Progress("list", 5, None, "listed 5 files"))  # new rows committed
    assert session._grow_timer.isActive()
    qtbot.waitUntil(lambda: not window.indexer.running, timeout=TIMEOUT_MS)


def test_a_listed_project_counts_its_labels_from_the_first_read_while_it_is_checked(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    folder = tiny_jpegs(tmp_path / "listed", 1200, per_folder=200)  # 6 folder labels
    with Project.for_dataset(folder) as project:  # listed by a run that stopped before probing
        for progress in index_job(project, IndexOptions(workers=2)):
            if progress.stage == "index":
                break
        assert project.pending_count() == 1200
    texts: list[str] = []
    timer = QTimer()
    timer.timeout.connect(
        lambda: window.indexer.running and texts.append(window.status_panel.counts_label.text())
    )
    timer.start(10)
    open_indexed(qtbot, window, folder, 1200)
    timer.stop()
    shown = [text for text in texts if "samples" in text]
    assert shown, "no counts while the index ran"
    assert "6 labels" in shown[0], shown[0]
    assert any("checking for changes" in text for text in shown), shown[:3]
    assert "6 labels" in window.status_panel.counts_label.text()


def indexed(folder: Path) -> LoadedProject:
    """``folder`` indexed into its project, as the window would be handed it."""
    with Project.for_dataset(folder) as project:
        run_job(index_job(project, IndexOptions(workers=2)))
        return LoadedProject(project.path, project.dataset_root, project.sample_count(), 0, 0)


def test_every_panel_gets_the_project_even_when_its_index_ends_while_they_are_filled(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    loaded = indexed(tiny_jpegs(tmp_path / "quick", 12))
    window.show_project(loaded)
    window.project = replace(loaded, samples=12)  # the index's end sums it up anew meanwhile
    project_dir = loaded.path
    qtbot.waitUntil(
        lambda: (
            window.active_panel._project_dir == project_dir
            and window.map_panel._project_dir == project_dir
            and window.selection_panel.project_dir == project_dir
        ),
        timeout=TIMEOUT_MS,
    )


def test_panels_left_to_fill_get_no_project_once_the_window_shut_down(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    loaded = indexed(tiny_jpegs(tmp_path / "closing", 6))
    window.show_project(loaded)
    window.shutdown()
    qtbot.wait(50)  # the turns that would have filled the other panels
    assert window.active_panel._project_dir is None  # no job started after the shutdown


def test_the_grid_reads_the_last_listed_rows_as_soon_as_the_listing_ends(
    qtbot, window: MainWindow, tmp_path: Path, monkeypatch
) -> None:
    open_indexed(qtbot, window, tiny_jpegs(tmp_path / "ends", 30), 30)
    session = window.indexer
    session.refresh(window.project)
    reads: list[bool] = []
    monkeypatch.setattr(window.browser, "grow", lambda appending=False: reads.append(appending))
    session._on_progress(Progress("list", 5, None, "listed 5 files"))
    assert reads == []  # while listing, reads wait their turn
    session._on_progress(Progress("list", 5, 5, "listed 5 files"))  # every row is in
    assert reads == [True]
    session._on_progress(Progress("index", 0, 5, "thumbnailed 0 of 5"))
    assert reads == [True]  # not read again when the next stage starts
    qtbot.waitUntil(lambda: not window.indexer.running, timeout=TIMEOUT_MS)


def test_a_reread_is_timed_from_the_read_before_it_not_started_right_after_it(
    qtbot, window: MainWindow, tmp_path: Path, monkeypatch
) -> None:
    """A whole read of 1M rows outlasts the wait between reads: the timer that fires meanwhile
    must not start the next one the moment it is shown, but a share of its length after."""
    open_indexed(qtbot, window, tiny_jpegs(tmp_path / "slow", 30), 30)
    session, browser = window.indexer, window.browser
    session.refresh(window.project)
    reads: list[bool] = []
    in_flight = [True]
    monkeypatch.setattr(type(browser), "growing", property(lambda self: in_flight[0]))
    monkeypatch.setattr(browser, "grow", lambda appending=False: reads.append(appending))
    session._grow_timer.stop()
    session._grow()  # the timer fires while a read is on its way
    assert reads == [] and not session._grow_timer.isActive()
    browser.last_read_s, in_flight[0] = 1.0, False
    browser.grown.emit()  # that read is shown: it took 1 s
    assert reads == [] and session._grow_timer.isActive()
    assert session._grow_timer.remainingTime() > 1000 * (1.0 / progressive.LIST_READ_SHARE) - 500
    qtbot.waitUntil(lambda: not window.indexer.running, timeout=TIMEOUT_MS)
