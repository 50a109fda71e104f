"""What the browser reads of a project, on a pool thread: its table and the rest (tags, saved
selections, score keys, pending rows), whole, its first files, or the files added since a read.

No Qt here: :class:`~app.ui.browser.widget.BrowserWidget` runs these off the GUI thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.core.errors import SieveError
from app.core.store.catalog import (
    SampleTable,
    load_more,
    load_table,
    saved_selections,
    score_keys,
    tag_members,
)
from app.core.store.project import Project, Tag


@dataclass
class ProjectData:
    """Everything the browser reads from a project, gathered on a pool thread."""

    table: SampleTable
    dataset_root: Path | None
    tags: list[Tag]
    members: dict[int, np.ndarray]
    selections: dict[str, np.ndarray]
    score_keys: list[str]
    pending: np.ndarray  # per table row: listed, not decoded yet
    whole: bool = True  # every file was read (not only the first ones)


HEAD_ABOVE_FILES = 200_000  # "big": a whole read takes 0.3 s and more (1M: 1.5-2 s)


def pending_rows(table: SampleTable) -> np.ndarray:
    """Per table row: whether its file is listed but not decoded yet, as read with the paths
    (one byte a file, in the same snapshot; none for a table not read from a project)."""
    if table.file_pending is None:
        return np.zeros(len(table), dtype=bool)
    return table.file_pending[table.file_index]


def appended_pending(table: SampleTable, known: ProjectData) -> np.ndarray:
    """:func:`pending_rows` of ``table``, which starts with ``known``'s rows (an appending read).

    The added files' flags come from their read; the rows already shown keep their marks until
    the next whole read. A mark left on a row decoded since only stops the grid from making
    the row's thumbnail itself, which the index has then made.
    """
    if table is known.table:  # nothing was added
        return known.pending
    assert table.file_pending is not None  # load_more's tables have their flags
    added = table.file_index[len(known.table) :]  # the added rows' files
    return np.concatenate([known.pending, table.file_pending[added]])


def read_project(
    project_dir: Path, first_files: int | None = None, like: ProjectData | None = None
) -> ProjectData:
    """What the browser shows of the project: all of it, or with ``first_files`` and more than
    :data:`HEAD_ABOVE_FILES` files, the samples of its first ``first_files`` files in browsing
    order (``whole`` False). ``like``: what was read before (its paths are shared where they
    did not change: :func:`~app.core.store.catalog.load_table`)."""
    with Project.open(project_dir) as project:
        try:
            root: Path | None = project.dataset_root
        except SieveError:  # thumbnails from files are optional
            root = None
        if first_files is not None and _largest_file_id(project) <= HEAD_ABOVE_FILES:
            first_files = None  # small enough to read whole at once
        table = load_table(project, first_files, like.table if like is not None else None)
        data = _project_data(project, table, root)
        data.whole = first_files is None or len(table.relpaths) < first_files
        return data


def _largest_file_id(project: Project) -> int:
    """At least the project's file count, read at once (ids only grow)."""
    (largest,) = project.db.execute("SELECT IFNULL(max(id), 0) FROM files").fetchone()
    return int(largest)


def read_more(project_dir: Path, known: ProjectData) -> ProjectData:
    """:func:`read_project` of a project being listed: only the files added since ``known``
    are read (:func:`~app.core.store.catalog.load_more`), or all when they do not follow."""
    with Project.open(project_dir) as project:
        table = load_more(project, known.table)
        if table is None:
            return _project_data(project, load_table(project, like=known.table), known.dataset_root)
        pending = appended_pending(table, known)
        return _project_data(project, table, known.dataset_root, pending)


def _project_data(
    project: Project, table: SampleTable, root: Path | None, pending: np.ndarray | None = None
) -> ProjectData:
    """The rest of the project read with ``table``; ``pending`` when the caller has it."""
    return ProjectData(
        table,
        root,
        project.tags(),
        tag_members(project),
        saved_selections(project),
        score_keys(project),
        pending_rows(table) if pending is None else pending,
    )
