"""Progressive open: the grid shows a folder's files while a background job indexes them.

:class:`IndexSession` runs the index on its own :class:`JobRunner` (the window's runner stays free
for exports and the like). The window shows the project as soon as it holds rows: at once for a
project opened before (the index then only catches up with added and removed files), else at the
first chunk of listed rows. While the job runs the grid grows (new rows inserted, never a reset),
rows without a thumbnail yet are asked again for the rows on screen only, and the rows on screen
are passed to the index's :class:`VisibleFirst` so they are thumbnailed first. The Qt-free
:attr:`AppState.indexing` says why whole-index actions wait; View > Refresh (F5) runs the same job
again on the open project.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QElapsedTimer, QObject, QTimer, Signal, Slot
from PySide6.QtWidgets import QMessageBox

from app.core.jobs import Progress
from app.engine import JobRunner
from app.gui_model.state import AppState
from app.ui.browser.widget import BrowserWidget
from app.ui.job_progress import JobProgress
from app.ui.opening import LoadedProject, OpenedProject, index_in_place_job

try:  # the index's priority queue (issue 16); without it the index goes in name order
    from app.core.ingest.priority import VisibleFirst
except ImportError:  # pragma: no cover - only before the core part lands
    VisibleFirst = None  # type: ignore[assignment,misc]

log = logging.getLogger("sieve")

GROW_EVERY_MS = 500  # the grid re-reads the project at most this often while rows are listed
INDEX_GROW_EVERY_MS = 3000  # ... and while files are decoded (new: broken badges, video frames)
READ_SHARE = 0.15  # re-reading a big project takes at most this share of the time (GIL, CPU)
LIST_READ_SHARE = 0.3  # ... and reading the rows just listed, this (the grid is what the user
# waits for then, and a read every 0.5-3 s leaves less for the last one: 1M in the grid 0.25 s
# sooner than at 0.15; at 0.6, 0.1-0.3 s later)
RETRY_EVERY_MS = 300  # rows on screen ask again for thumbnails at most this often
REASON_EVERY_MS = 1000  # the "why it waits" text (and so the gated panels) at most this often
ROW_STAGES = ("list", "index")
STATUS_WIDTH = 300
GUI_SWITCH_INTERVAL_S = 0.0002  # the interpreter lock passes between threads at least this often


class IndexSession(QObject):
    """One background index at a time; see the module docstring.

    ``opened(LoadedProject)``: the project holds rows, show it (not emitted for a refresh).
    ``finished(LoadedProject)``: the index ended; ``failed(message, details)``.
    """

    opened = Signal(object)
    finished = Signal(object)
    failed = Signal(str, str)

    def __init__(self, state: AppState, browser: BrowserWidget, parent: QObject | None = None):
        super().__init__(parent)
        self.state = state
        self.browser = browser
        self.runner = JobRunner(self)
        self.listed = 0
        self.indexed = 0
        self.to_index: int | None = None
        self.measured = 0
        self.to_measure: int | None = None  # set once every file is thumbnailed
        self.checking = False  # the folder is a known project's: its files are checked, not new
        self.in_process = False  # index in this process (a test patching the index) or a child's
        self._opened: OpenedProject | None = None
        self._shown = False
        self._visible: Any = None
        self._since_grow = QElapsedTimer()
        self._since_retry = QElapsedTimer()
        self._since_reason = QElapsedTimer()
        self._reason_stage = ""
        self._all_listed = False  # the listing's last count came: every file is in the table
        self._grow_when_shown = False  # the timer fired during a read: time the next after it
        self._grow_timer = _single_shot(self, GROW_EVERY_MS, self._grow)
        self.runner.progress.connect(self._on_progress)
        self.runner.finished.connect(self._on_finished)
        self.runner.failed.connect(self._on_failed)
        self.runner.cancelled.connect(self._on_stopped)
        browser.visible_changed.connect(self._prefer_visible)
        browser.loaded.connect(self._on_shown)
        browser.grown.connect(self._on_grown)

    @property
    def running(self) -> bool:
        return self.runner.is_busy

    def open(self, folder: str | Path, project_dir: str | Path | None = None) -> None:
        """Index ``folder`` into its project in the background; ``opened`` once rows exist."""
        self._begin(folder, project_dir, shown=False)

    def refresh(self, project: LoadedProject) -> None:
        """Index the shown project again (added files appear, removed ones are marked missing)."""
        if not self.running:
            self._begin(project.dataset_root, project.path, shown=True)

    def stop(self) -> None:
        """Cancel the index and wait for it (another project is being opened, or closing)."""
        self.runner.shutdown()
        self._end()

    def status_note(self) -> str:
        """The live counts for the status bar while indexing ('' when idle)."""
        if not self.running:
            return ""
        if self.to_index is None:
            verb = "checking for changes" if self.checking else "listing"
            return f"{verb}: {self.listed:,} files so far"
        if self.to_measure is not None:
            return f"measuring {self.measured:,} of {self.to_measure:,} images"
        return f"thumbnailed {self.indexed:,} of {self.to_index:,} new or changed files"

    # --------------------------------------------------------------- running
    def _begin(self, folder: str | Path, project_dir: str | Path | None, shown: bool) -> None:
        self.runner.shutdown()
        opened = OpenedProject()
        visible = VisibleFirst() if VisibleFirst is not None else None
        self._opened, self._visible, self._shown = opened, visible, shown
        self.listed, self.indexed, self.to_index = 0, 0, None
        self.measured, self.to_measure = 0, None
        self.checking = shown  # a shown project is refreshed: its files are checked, not new
        self._since_grow.start()
        self._since_retry.start()
        self._since_reason.start()
        self._reason_stage = ""
        self._all_listed = self._grow_when_shown = False
        self.runner.start(
            lambda cancel: index_in_place_job(
                folder, project_dir, opened, visible, cancel, in_process=self.in_process
            ),
            "Indexing",
        )
        self.state.set_indexing("indexing: listing files", listing=True)
        if shown:
            self._prefer_visible()

    def _end(self) -> None:
        self._grow_timer.stop()
        self._visible = None
        self.state.set_indexing(None)
        self.state.set_measuring(None)

    @Slot(object)
    def _on_progress(self, progress: Progress) -> None:
        new_rows = progress.stage != "list" or progress.done > self.listed
        thumbnailed_all = progress.stage == "measure" and self.to_measure is None
        if progress.stage == "list":
            self.listed = progress.done
        elif progress.stage == "index":
            self.indexed, self.to_index = progress.done, progress.total
        elif progress.stage == "measure":  # it starts once every file is thumbnailed
            self.measured, self.to_measure = progress.done, progress.total
            self.indexed = self.to_index or self.indexed  # the last count may have been skipped
        stage_changed = progress.stage != self._reason_stage
        listed_all = not self._all_listed and (
            (progress.stage == "list" and progress.total is not None)  # its last count
            or (stage_changed and self._reason_stage == "list")  # a listing that said none
        )
        if stage_changed or self._since_reason.elapsed() >= REASON_EVERY_MS:
            self._since_reason.start()  # the panels re-check their buttons on each change
            self._reason_stage = progress.stage
            self._tell_reasons()
        if not self._shown:
            self._show_if_rows(progress)
            return
        if listed_all:  # every file is listed: show them all now, then read the table whole
            self._all_listed = True
            self._grow_timer.stop()
            self._since_grow.start()
            self.browser.grow(appending=True)
            self._schedule_grow()
        elif (progress.stage in ROW_STAGES and new_rows) or thumbnailed_all:
            self._schedule_grow()  # (not for known files being checked)
        live = progress.stage in ROW_STAGES or progress.stage == "measure"
        if live and self._since_retry.elapsed() >= RETRY_EVERY_MS:
            self._since_retry.start()
            self.browser.retry_thumbnails()
            self.browser.emit_counts()

    def _tell_reasons(self) -> None:
        """Why whole-index actions wait; once every file is thumbnailed, only the checks wait
        (for the statistics)."""
        if self.to_measure is None:
            self.state.set_indexing(self._waiting_reason(), listing=self.to_index is None)
            return
        left = max(0, self.to_measure - self.measured)
        self.state.set_measuring(
            f"measuring image statistics, {left:,} of {self.to_measure:,} left"
        )
        self.state.set_indexing(None)

    def _waiting_reason(self) -> str:
        if self.to_index is None:
            return f"indexing: {self.listed:,} files listed so far"
        left = max(0, self.to_index - self.indexed)
        return f"indexing: {left:,} of {self.to_index:,} files left"

    def _show_if_rows(self, progress: Progress) -> None:
        known = self._opened.get() if self._opened is not None else None
        if known is None:
            return
        path, root, rows = known
        if rows or progress.stage in ROW_STAGES:
            self._shown, self.checking = True, rows > 0
            self.opened.emit(LoadedProject(path, root, rows, 0, 0))
            self._since_grow.start()

    def _schedule_grow(self) -> None:
        if self._grow_timer.isActive():
            return
        listing = self.to_index is None
        every = GROW_EVERY_MS if listing else INDEX_GROW_EVERY_MS
        share = LIST_READ_SHARE if listing else READ_SHARE
        every = max(every, int(1000 * self.browser.last_read_s / share))
        wait = max(0, every - self._since_grow.elapsed())
        self._grow_timer.start(wait)

    @Slot()
    def _grow(self) -> None:
        """Re-read the grid: while files are listed, only the new ones when they follow the shown
        ones (a never-seen folder is listed in name order); else the whole table (thumbnails
        made, broken files found, video frames). Never right after a read that outlasted the
        wait (a whole read at 1M, 3 s beside the index): the next is timed from its length."""
        if self.browser.growing:
            self._grow_when_shown = True
            return
        self._since_grow.start()
        self.browser.grow(appending=self.to_index is None)

    @Slot()
    def _on_grown(self) -> None:
        if self._grow_when_shown and self.running:
            self._grow_when_shown = False
            self._schedule_grow()

    @Slot()
    def _on_shown(self) -> None:
        if self._opened is not None:
            self._opened.shown.set()  # a known project's index may start now

    @Slot()
    def _prefer_visible(self) -> None:
        visible = self._visible
        if visible is not None and self.running:
            visible.prefer(self.browser.visible_ids())

    @Slot(object)
    def _on_finished(self, loaded: LoadedProject) -> None:
        first = not self._shown
        self._end()
        if first:
            self.opened.emit(loaded)
        else:
            self.browser.grow()
            self.browser.retry_thumbnails()
        self.finished.emit(loaded)

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self._end()
        self.browser.grow()
        self.failed.emit(message, details)

    @Slot()
    def _on_stopped(self) -> None:
        self._end()


def _single_shot(parent: QObject, ms: int, slot: Any) -> QTimer:
    timer = QTimer(parent)
    timer.setSingleShot(True)
    timer.setInterval(ms)
    timer.timeout.connect(slot)
    return timer


def install_progressive_open(window: Any) -> IndexSession:
    """Give ``window`` (a MainWindow) its background index: status row, show, finish, errors.

    The window's own reader threads (the grid's re-reads of a million rows, thumbnail loads)
    run Python loops; the interpreter hands its lock over every 5 ms by default, and a paint
    that needs it for each cell then waits 5 ms a cell. At 0.2 ms the GUI thread waits 0.2 ms
    (at 1M rows: 2 stalls over 50 ms in 45 s of indexing, twice, against 3 and 9 at 1 ms).
    """
    sys.setswitchinterval(GUI_SWITCH_INTERVAL_S)
    session = IndexSession(window.state, window.browser, window)
    row = JobProgress(session.runner, row=True, text_width=STATUS_WIDTH)
    window.statusBar().addPermanentWidget(row)

    def on_opened(loaded: LoadedProject) -> None:
        window.show_project(loaded)

    def on_finished(loaded: LoadedProject) -> None:
        if window.project is None or window.project.path != loaded.path:
            return
        window.project = loaded
        window.missing_files.update_action()
        window.selection_panel.refresh()
        stale_label_panel[0] = True
        refresh_label_panel(not window.label_dock.visibleRegion().isEmpty())
        window.browser.emit_counts()
        if loaded.warning is not None:
            window.show_message(QMessageBox.Icon.Warning, loaded.warning, "")
        window._on_browser_loaded()  # video frames and anything still without a thumbnail

    stale_label_panel = [False]

    def refresh_label_panel(shown: bool) -> None:  # its read is slow: only once it is seen
        if shown and stale_label_panel[0]:
            stale_label_panel[0] = False
            window.active_panel.refresh()

    def on_rows_read() -> None:  # the counts of the rows read so far (labels too: not read at open)
        data = window.browser.data
        if window.project is not None and data is not None and session.running:
            table = data.table
            window.project = replace(
                window.project,
                samples=int((~table.unusable).sum()),
                broken_files=int(table.broken.sum()),
                labels=len(table.labels),
            )
            window.browser.emit_counts()

    session.opened.connect(on_opened)
    session.finished.connect(on_finished)
    session.failed.connect(lambda message, details: window.show_error(message, details))
    window.browser.loaded.connect(on_rows_read)
    window.browser.grown.connect(on_rows_read)
    window.label_dock.visibilityChanged.connect(refresh_label_panel)
    return session
