"""The jobs behind File > Open, Import and Export: each opens its own Project on the worker thread.

They return plain data (:class:`LoadedProject`, counts), so the GUI thread never waits on SQLite.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from app.core.data.torchvision_import import import_torchvision_job
from app.core.errors import SieveError
from app.core.export.subset import export_filenames
from app.core.ingest.demo import demo_project_job
from app.core.ingest.indexing import forget_missing, index_job, missing_warning
from app.core.ingest.remote import WorkerUnavailable, index_in_worker
from app.core.ingest.thumbnails import thumbnail_job
from app.core.jobs import CancelToken, Job, Progress
from app.core.store.project import DB_NAME, PROJECT_DIRNAME, Project

if TYPE_CHECKING:
    from app.ui.dialogs.import_torchvision import ImportRequest

log = logging.getLogger("sieve")
SHOWN_WAIT_S = 5.0  # a known project's index waits this long at most for the window's read


@dataclass(frozen=True)
class LoadedProject:
    """What the window needs to know of an open project (the views load their own data)."""

    path: Path
    dataset_root: Path
    samples: int
    broken_files: int
    labels: int
    missing_files: int = 0
    unreadable: tuple[str, ...] = ()  # "path: reason" of what the last index could not read
    warning: str | None = None  # most files are missing: is the drive mounted?


def load_project(project: Project) -> Job[LoadedProject]:
    """Summarise ``project`` (on the thread that owns it)."""
    yield Progress("load", 0, None, "reading the project")
    return LoadedProject(
        path=project.path,
        dataset_root=project.dataset_root,
        samples=project.sample_count(status="ok"),
        broken_files=len(project.broken()),
        labels=project.label_count(),
        missing_files=project.missing_count(),
        unreadable=tuple(f"{e['path']}: {e['reason']}" for e in project.unreadable()),
        warning=missing_warning(project),
    )


def open_folder_job(
    folder: str | Path, project_dir: str | Path | None = None, cancel: CancelToken | None = None
) -> Job[LoadedProject]:
    """Index a dataset folder into its project (incrementally), then load it."""
    with Project.for_dataset(folder, project_dir) as project:
        yield from index_job(project, cancel=cancel)
        return (yield from load_project(project))


class OpenedProject:
    """Written by the index job's thread once the project is open, read by the GUI thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._path: Path | None = None
        self._root: Path | None = None
        self._rows = 0
        self.shown = threading.Event()  # set by the GUI once its first read of it is on screen

    def set(self, path: Path, root: Path, rows: int) -> None:
        with self._lock:
            self._path, self._root, self._rows = path, root, rows

    def get(self) -> tuple[Path, Path, int] | None:
        """(project folder, dataset folder, rows it held when opened), or None before."""
        with self._lock:
            return None if self._path is None else (self._path, self._root, self._rows)


def index_in_place_job(
    folder: str | Path,
    project_dir: str | Path | None,
    opened: OpenedProject,
    visible: Any = None,
    cancel: CancelToken | None = None,
    in_process: bool = False,
) -> Job[LoadedProject]:
    """Open (or create) the folder's project, say so through ``opened``, index it, load it.

    The window shows the project as soon as it holds rows (at once when it already did, else
    at the first committed chunk), while this job goes on in the background. The index runs in
    a child process (:mod:`app.core.ingest.remote`) unless ``in_process``, or when no child
    process can be started.
    """
    if not in_process:
        try:
            path = yield from _index_in_worker(folder, project_dir, opened, visible, cancel)
        except WorkerUnavailable as error:
            log.warning("%s; indexing in this process instead", error)
        else:
            with Project.open(path) as project:
                return (yield from load_project(project))
    with Project.for_dataset(folder, project_dir) as project:
        opened.set(project.path, project.dataset_root, project.sample_count())
        yield Progress("open", 0, None, f"opening {project.dataset_root.name}")
        extra = {"visible": visible} if visible is not None else {}
        yield from index_job(project, cancel=cancel, **extra)
        return (yield from load_project(project))


def _index_in_worker(
    folder: str | Path,
    project_dir: str | Path | None,
    opened: OpenedProject,
    visible: Any,
    cancel: CancelToken | None,
) -> Job[Path]:
    existing = Path(project_dir) if project_dir is not None else Path(folder) / PROJECT_DIRNAME
    rows = 0
    if (existing / DB_NAME).is_file():  # shown at once; the child only catches up with the folder
        with Project.open(existing) as project:
            rows = project.sample_count()
            opened.set(project.path, project.dataset_root, rows)
    yield Progress("open", 0, None, f"opening {Path(folder).name}")
    if rows:  # the child's start and catch-up scan would slow the window's first read of them
        _wait_until_shown(opened, cancel or CancelToken())
    yield from index_in_worker(folder, project_dir, opened.set, visible, cancel)
    shown = opened.get()
    if shown is None:
        raise SieveError(f"the index of {folder} ended before its project was opened")
    return shown[0]


def _wait_until_shown(opened: OpenedProject, cancel: CancelToken) -> None:
    """Wait (at most :data:`SHOWN_WAIT_S`) until the window shows the project's rows."""
    deadline = time.monotonic() + SHOWN_WAIT_S
    while not opened.shown.wait(0.05) and time.monotonic() < deadline:
        cancel.raise_if_cancelled()


def open_project_job(path: str | Path, cancel: CancelToken | None = None) -> Job[LoadedProject]:
    """Load an existing project, given its folder or its dataset folder."""
    with Project.open(path) as project:
        return (yield from load_project(project))


def open_demo_job(cancel: CancelToken | None = None) -> Job[LoadedProject]:
    """Create or update the bundled demo project, then load it."""
    path = yield from demo_project_job(cancel=cancel)
    return (yield from open_project_job(path, cancel))


def import_torchvision_job_then_open(
    request: ImportRequest, cancel: CancelToken | None = None
) -> Job[LoadedProject]:
    """Write a torchvision dataset as labelled folders, index them, and load the project."""
    imported = yield from import_torchvision_job(
        request.name,
        request.root,
        request.out_dir,
        split=request.split,
        download=request.download,
        limit=request.limit,
        cancel=cancel,
    )
    return (yield from open_folder_job(imported.out_dir, None, cancel))


def forget_missing_job(project_dir: Path, cancel: CancelToken | None = None) -> Job[LoadedProject]:
    """Forget the project's missing files (the user confirmed it), then load the project."""
    yield Progress("forget", 0, None, "forgetting missing files")
    with Project.open(project_dir) as project:
        forget_missing(project)
        return (yield from load_project(project))


def fill_thumbnails_job(project_dir: Path, cancel: CancelToken | None = None) -> Job[int]:
    """Make the thumbnails the project still lacks (video frames, a deleted cache)."""
    with Project.open(project_dir) as project:
        return (yield from thumbnail_job(project, cancel=cancel))


def export_names_job(
    project_dir: Path, sample_ids: np.ndarray, path: str | Path, cancel: CancelToken | None = None
) -> Job[int]:
    """Write the names of ``sample_ids`` (in the given order) to a text file."""
    yield Progress("export", 0, len(sample_ids))
    with Project.open(project_dir) as project:
        rows = project.samples_by_id([int(i) for i in sample_ids])
        names = [rows[int(i)].name for i in sample_ids if int(i) in rows]
        count = export_filenames(names, path, project)
    yield Progress("export", count, len(sample_ids))
    return count
