"""The dataset browser: filter bar over the thumbnail grid, both driven by :class:`AppState`.

Reading a project's table (and tags, saved selections, score keys, scores;
:mod:`app.ui.browser.reading`) happens on a pool thread with its own :class:`Project`; the
newest request wins, older answers are ignored.
While a background index runs, :meth:`BrowserWidget.grow` re-reads the project there and the
model inserts the new rows (the filtered order and the insertion plan are computed there too).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal, Slot
from PySide6.QtWidgets import QVBoxLayout, QWidget

from app.core.jobs import run_below_the_window
from app.core.store.catalog import saved_selections, score_keys, scores, tag_members
from app.core.store.project import Project
from app.engine.runner import failure_message
from app.gui_model.filtering import BASIC_SORTS, apply_filter, members_by_name
from app.gui_model.state import AppState, Event
from app.ui.browser.filter_bar import FilterBar
from app.ui.browser.model import BrowserModel, Growth, plan_growth
from app.ui.browser.reading import ProjectData, read_more, read_project
from app.ui.browser.view import BrowserView
from app.ui.objects.filter_button import ObjectFilterButton
from app.ui.objects.layer import ObjectLayer

log = logging.getLogger("sieve")


HEAD_FILES = 5_000  # a big project is shown from its first files (30 ms), then read whole
REST_AFTER_MS = 150  # the whole read starts once the first rows are painted (it shares the GIL)


class _Bridge(QObject):
    done = Signal(str, int, object)
    failed = Signal(str, int, str)


class BrowserWidget(QWidget):
    """See the module docstring; ``activated(sample_id)`` on Enter or double-click."""

    activated = Signal(int)
    counts_changed = Signal(int, int, int)
    loaded = Signal()
    grown = Signal()  # a grow() read was shown
    visible_changed = Signal()  # the rows on screen changed (at most every 100 ms)
    failed = Signal(str)

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.project_dir: Path | None = None
        self.data: ProjectData | None = None
        self.model = BrowserModel(self)
        self.view = BrowserView(state)
        self.view.setModel(self.model)
        self.bar = FilterBar(state)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.bar)
        layout.addWidget(self.view, 1)
        self._scores: dict[str, np.ndarray | None] = {}
        self._serials = {"project": 0, "scores": 0, "grow": 0}
        self._growing = False
        self._grow_again = False
        self._again_appending = True  # every grow() asked meanwhile only appended files
        self.last_read_s = 0.0  # how long the last grow() read took (on its pool thread)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._bridge = _Bridge(self)
        self._bridge.done.connect(self._on_done)
        self._bridge.failed.connect(self._on_failed)
        self._then: dict[str, Callable[[Any], None]] = {}
        self.objects = ObjectLayer(self)  # annotation objects: filter, boxes, histogram
        self.objects.answered.connect(self._on_objects_answered)
        self.object_filter = ObjectFilterButton(state, self.objects)
        self.bar.layout().insertWidget(self.bar.layout().count() - 2, self.object_filter)
        self.view.sample_activated.connect(self.activated)
        self.view.visible_changed.connect(self.visible_changed)
        self.bar.size_changed.connect(self.set_thumbnail_size)
        self._unsubscribe = state.subscribe(self._on_state)

    # ------------------------------------------------------------------- API
    def set_project(self, project_dir: Path) -> None:
        """Read the project off the GUI thread; ``loaded`` fires once it is shown.

        Its first :data:`HEAD_FILES` files are read and shown first, so a project of a million
        files shows rows at once; the rest follows by :meth:`grow` (rows inserted, no reset).
        """
        self.project_dir = Path(project_dir)
        self._scores.clear()
        self._serials["scores"] += 1
        self._serials["grow"] += 1
        self._growing = self._grow_again = False
        project_dir = self.project_dir
        self._start("project", lambda: read_project(project_dir, HEAD_FILES), self._show_project)

    @property
    def growing(self) -> bool:
        """Whether a :meth:`grow` read is on its way (not shown yet)."""
        return self._growing

    def grow(self, appending: bool = False) -> bool:
        """Re-read the shown project off the GUI thread and add its new rows (one read at a time).

        ``appending``: the files added since come after the shown ones (a folder being listed),
        so only those are read. False when it could not start now (no project shown yet, or a
        read still runs): it then starts again once that is done.
        """
        if self.project_dir is None:
            return False
        if self.data is None or self._growing:
            asked = self._again_appending if self._grow_again else True
            self._again_appending = asked and appending  # a whole read when any asked for one
            self._grow_again = True
            return False
        self._growing, self._grow_again = True, False
        project_dir, flt, known = self.project_dir, self.state.filter, self.data
        old_ids, version = self.model.sample_ids(), self.model.version

        def read() -> tuple[ProjectData, Growth | None, object, int]:
            started = time.perf_counter()
            new = (
                read_more(project_dir, known)
                if appending
                else read_project(project_dir, like=known)
            )
            growth = None
            objects = getattr(flt, "objects", None)  # an object filter is applied on the GUI
            if flt.sort in BASIC_SORTS and not (objects is not None and objects.active):
                names = {tag.id: tag.name for tag in new.tags}
                by_name = members_by_name(names, new.members)
                rows = apply_filter(new.table, flt, by_name, new.selections)
                growth = plan_growth(old_ids, new.table, new.pending, rows)
            self.last_read_s = time.perf_counter() - started
            return new, growth, flt, version

        self._start("grow", read, self._show_growth)
        return True

    def visible_ids(self) -> np.ndarray:
        """Sample ids of the rows on screen."""
        first, last = self.view.visible_rows()
        return self.model.sample_ids(first, last) if last >= first else np.empty(0, np.int64)

    def retry_thumbnails(self) -> None:
        """Ask again for the thumbnails of rows on screen that have none yet (each repaints as its
        thumbnail comes)."""
        self.model.retry_thumbnails(self.visible_ids())

    def clear(self) -> None:
        for kind in self._serials:
            self._serials[kind] += 1
        self.project_dir, self.data = None, None
        self._growing = self._grow_again = False
        self.objects.set_project(None)
        self.model.clear()
        self._emit_counts()

    def shutdown(self) -> None:
        """Stop listening to the state and stop background work (before deleting)."""
        self._unsubscribe()
        for kind in self._serials:
            self._serials[kind] += 1
        self._pool.waitForDone()
        self.objects.shutdown()
        self.object_filter.shutdown()
        self.model.close()

    def order_ids(self) -> np.ndarray:
        """Sample ids in the shown order."""
        return self.model.sample_ids()

    def refresh_tags(self) -> None:
        """Read tags and their members again (after a tag edit) and repaint."""
        if self.data is None or self.project_dir is None:
            return
        with Project.open(self.project_dir) as project:
            self.data.tags, self.data.members = project.tags(), tag_members(project)
        self._show_choices()
        self.view.delegate.set_tags(self.data.tags, self.data.members)
        if self.state.filter.tag is not None:
            self._apply_filter()
        self.view.viewport().update()

    def refresh_saved(self) -> None:
        """Read saved selections and score names again (after a selection or scoring run)."""
        if self.data is None or self.project_dir is None:
            return
        with Project.open(self.project_dir) as project:
            self.data.selections = saved_selections(project)
            self.data.score_keys = score_keys(project)
        self._scores.clear()
        self._show_choices()
        self._apply_filter()

    def refresh_thumbnails(self) -> None:
        self.model.refresh_thumbnails()

    def set_thumbnail_size(self, px: int) -> None:
        self.view.set_thumbnail_size(px)
        self.bar.set_size(self.view.delegate.thumbnail_size)

    # ------------------------------------------------------------ background
    def _start(self, kind: str, work: Callable[[], Any], then: Callable[[Any], None]) -> None:
        """Run ``work`` on the pool, then ``then(result)`` here unless a newer ``kind`` began."""
        self._serials[kind] += 1
        serial, bridge = self._serials[kind], self._bridge
        self._then[kind] = then

        def run() -> None:
            run_below_the_window()  # the pool's one thread: the GUI thread gets a core first
            try:
                result = work()
            except Exception as error:  # noqa: BLE001 - reported to the user
                log.exception("browser: reading the project failed")
                bridge.failed.emit(kind, serial, failure_message("reading the project", error))
            else:
                bridge.done.emit(kind, serial, result)

        self._pool.start(run)

    @Slot(str, int, object)
    def _on_done(self, kind: str, serial: int, result: Any) -> None:
        if serial == self._serials[kind]:
            self._then.pop(kind)(result)

    @Slot(str, int, str)
    def _on_failed(self, kind: str, serial: int, message: str) -> None:
        if serial == self._serials[kind]:
            if kind == "grow":
                self._growing = False
            self.failed.emit(message)

    def _show_growth(self, result: tuple[ProjectData, Growth | None, object, int]) -> None:
        self._growing = False
        data, growth, flt, version = result
        if self.data is None:
            return
        changed_choices = (data.table.labels, data.table.folders) != (
            self.data.table.labels,
            self.data.table.folders,
        )
        self.data = data
        self._scores.clear()
        self.view.delegate.set_tags(data.tags, data.members)
        self.objects.set_table(data.table)  # boxes of newly decoded samples get their place
        if growth is None or flt != self.state.filter or version != self.model.version:
            self.model.replace_table(data.table, data.pending)
            self._apply_filter()
        else:
            self.model.grow(growth)
            self._emit_counts()
        if changed_choices:
            self._show_choices()
        self.view.viewport().update()
        self.view.note_visible_change()
        self.grown.emit()
        if self._grow_again:
            self.grow(self._again_appending)

    def _show_project(self, data: ProjectData) -> None:
        self.data = data
        self._growing = False
        self.model.set_table(self.project_dir, data.table, data.dataset_root)
        self.model.set_pending(data.pending)
        self.view.delegate.set_tags(data.tags, data.members)
        self.objects.set_project(self.project_dir, data.table)
        self._show_choices()
        self._apply_filter()
        self.loaded.emit()
        if not data.whole:  # the rest of the files
            QTimer.singleShot(REST_AFTER_MS, self, self.grow)
        elif self._grow_again:
            self.grow(self._again_appending)

    def _show_choices(self) -> None:
        data = self.data
        if data is not None:
            tags = [tag.name for tag in data.tags]
            folders = data.table.folders
            selections = sorted(data.selections)
            self.bar.set_choices(data.table.labels, folders, tags, selections, data.score_keys)

    # ----------------------------------------------------------------- state
    def _on_state(self, event: Event) -> None:
        if event == "filter":
            wanted = self.state.filter.selection
            if self.data is not None and wanted is not None and wanted not in self.data.selections:
                self.refresh_saved()
            self.bar.show_filter(self.state.filter)
            self._apply_filter()
        elif event == "selection":
            self.view.sync_selection()
            self._emit_counts()
        elif event == "current":
            self.view.sync_current()

    def _apply_filter(self) -> None:
        data = self.data
        if data is None:
            return
        flt = self.state.filter
        values = None
        if flt.sort not in BASIC_SORTS:
            if flt.sort not in self._scores:
                self._load_scores(flt.sort)
                return
            values = self._scores[flt.sort]
        names = {tag.id: tag.name for tag in data.tags}
        by_name = members_by_name(names, data.members)
        rows = apply_filter(data.table, flt, by_name, data.selections, values)
        rows = self.objects.filter_rows(data.table.ids, rows, flt.objects)
        if rows is None:
            return  # the objects are loading: applied again once they are here
        self.model.set_order(rows)
        self.view.sync_selection()
        self.view.sync_current()
        self._emit_counts()

    def _load_scores(self, key: str) -> None:
        project_dir, table = self.project_dir, self.data.table

        def read() -> np.ndarray | None:
            with Project.open(project_dir) as project:
                return scores(project, key, table)

        def store(values: np.ndarray | None) -> None:
            self._scores[key] = values
            self._apply_filter()

        self._start("scores", read, store)

    def _on_objects_answered(self) -> None:
        if self.state.filter.objects.active:
            self._apply_filter()

    def emit_counts(self) -> None:
        """Say the counts again (the status bar's live line while indexing)."""
        self._emit_counts()

    def _emit_counts(self) -> None:
        total = len(self.data.table) if self.data is not None else 0
        self.counts_changed.emit(len(self.model.order), total, len(self.state.selected))
