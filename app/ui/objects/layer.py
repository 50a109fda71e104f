"""A project's annotation sources and their objects as :class:`ObjectIndex` es, read off the GUI
thread (one pool thread with its own :class:`Project`); the grid's filter, its thumbnail boxes
and the class histogram all read these arrays, never SQLite."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QThreadPool, Signal, Slot

from app.core.store.catalog import SampleTable
from app.core.store.objects import (
    AnnotationSource,
    ground_truth,
    object_columns,
    require_source,
    sources,
)
from app.core.store.project import Project
from app.gui_model.class_colours import register
from app.gui_model.object_filters import ObjectFilter, ObjectIndex, filter_rows

log = logging.getLogger("sieve")


def read_sources(project_dir: Path) -> tuple[list[AnnotationSource], str | None]:
    """The sources and the ground truth's name."""
    with Project.open(project_dir) as project:
        truth = ground_truth(project)
        found = sources(project)
    register(name for source in found for name in source.classes)
    return found, None if truth is None else truth.name


def _renormalised(index: ObjectIndex, table: SampleTable) -> ObjectIndex:
    index.normalise(table.ids, table.width, table.height)
    return index


def read_index(project_dir: Path, name: str, table: SampleTable | None) -> ObjectIndex:
    """One source as an index, its boxes also as fractions of the image when ``table`` is given."""
    with Project.open(project_dir) as project:
        source_id = require_source(project, name).id
        index = ObjectIndex(object_columns(project, source_id, exact=False), name)
    if table is not None:
        index.normalise(table.ids, table.width, table.height)
    return index


class ObjectLayer(QObject):
    """Sources and loaded indexes of one project; ``sources_changed`` once the sources are read,
    ``index_loaded(name)`` when a source's objects arrive."""

    sources_changed = Signal()
    index_loaded = Signal(str)
    answered = Signal()  # after either: what was waiting for objects can run again
    _answer = Signal(int, str, object)  # serial, what ("sources" | source name), result

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project_dir: Path | None = None
        self.table: SampleTable | None = None
        self.sources: list[AnnotationSource] = []
        self.truth: str | None = None
        self.indexes: dict[str, ObjectIndex | None] = {}  # None: the source is unreadable
        self._pending: set[str] = set()
        self._serial = 0
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._answer.connect(self._on_answer)

    # ------------------------------------------------------------------- API
    def set_project(self, project_dir: Path | None, table: SampleTable | None = None) -> None:
        """Forget what was loaded and read the sources of ``project_dir`` (None: no project)."""
        self._serial += 1
        self.project_dir, self.table = project_dir, table
        self.sources, self.truth = [], None
        self.indexes.clear()
        self._pending.clear()
        self.sources_changed.emit()
        if project_dir is not None:
            self._run("sources", lambda: read_sources(project_dir))

    def set_table(self, table: SampleTable) -> None:
        """The project's table changed (e.g. grew while indexing): place the loaded boxes again
        with the new sample sizes (on the worker); ``index_loaded`` follows for each source."""
        self.table = table
        for name, index in list(self.indexes.items()):
            if index is not None:
                self._run(name, partial(_renormalised, index, table))

    def reload(self) -> None:
        """Read everything again (after an import)."""
        self.set_project(self.project_dir, self.table)

    def source_name(self, name: str | None) -> str | None:
        """``name``, or the ground truth's name for None."""
        return self.truth if name is None else name

    def classes(self, name: str | None) -> tuple[str, ...]:
        """The class names of a source (stored order, then any others its objects use)."""
        name = self.source_name(name)
        found = next((s for s in self.sources if s.name == name), None)
        listed = list(found.classes) if found is not None else []
        index = self.indexes.get(name or "")
        extra = [c for c in (index.classes if index is not None else ()) if c not in listed]
        return tuple(listed + sorted(extra))

    def index(self, name: str | None) -> ObjectIndex | None:
        """The loaded index of a source (None: ground truth), loading it if needed."""
        name = self.source_name(name)
        if name is None or self.project_dir is None:
            return None
        if name not in self.indexes:
            self.request(name)
            return None
        return self.indexes[name]

    def is_ready(self, name: str | None) -> bool:
        """Whether the source is loaded, or known not to exist (sources read, name unknown)."""
        name = self.source_name(name)
        if name in self.indexes:
            return True
        return self._sources_read and not any(s.name == name for s in self.sources)

    def request(self, name: str) -> None:
        """Load a source's objects (once)."""
        if name in self.indexes or name in self._pending or self.project_dir is None:
            return
        self._pending.add(name)
        project_dir, table = self.project_dir, self.table
        self._run(name, lambda: read_index(project_dir, name, table))

    def filter_rows(
        self, table_ids: np.ndarray, rows: np.ndarray, flt: ObjectFilter
    ) -> np.ndarray | None:
        """``rows`` that pass ``flt``; None while the source is still loading (then
        ``index_loaded`` follows)."""
        if not flt.active:
            return rows
        if not self._sources_read:
            return None
        index = self.index(flt.source)
        if index is None and not self.is_ready(flt.source):
            return None
        return filter_rows(table_ids, rows, flt, index)

    def shutdown(self) -> None:
        self._serial += 1
        self._pool.clear()
        self._pool.waitForDone()

    # ------------------------------------------------------------ background
    @property
    def _sources_read(self) -> bool:
        return self.project_dir is not None and "sources" not in self._pending

    def _run(self, what: str, work: Callable[[], object]) -> None:
        serial, signal = self._serial, self._answer
        self._pending.add(what)

        def run() -> None:
            try:
                result = work()
            except Exception as error:  # noqa: BLE001 - logged; the views show no objects
                log.warning("cannot read annotation objects (%s): %s", what, error)
                result = error
            signal.emit(serial, what, result)

        self._pool.start(run)

    @Slot(int, str, object)
    def _on_answer(self, serial: int, what: str, result: object) -> None:
        if serial != self._serial:
            return
        self._pending.discard(what)
        if what == "sources":
            if isinstance(result, tuple):
                self.sources, self.truth = result
            self.sources_changed.emit()
        elif isinstance(result, ObjectIndex):
            self.indexes[what] = result
            self.index_loaded.emit(what)
        else:
            self.indexes[what] = None  # unreadable (logged): shown without objects
            self.index_loaded.emit(what)
        self.answered.emit()
