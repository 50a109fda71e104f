"""What the browser reads of a project, on a pool thread: its table and the rest (tags, saved
selections, score keys, pending rows), whole, its first files, or the files added since a read.

No Qt here: :class:`~app.ui.browser.widget.BrowserWidget` runs these off the GUI thread.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.core.errors import SieveError
from app.core.jobs import make_way
from app.core.store.catalog import (
    SampleTable,
    in_path_order,
    load_more,
    load_table,
    path_key,
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


FOLDER_PIECE = 10_000  # paths a set takes in one call (under a ms, the lock held)
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
    return np.concatenate([known.pending, pending_rows(table)[len(known.table) :]])


def fill_folders(table: SampleTable, known: SampleTable | None = None) -> None:
    """Fill the table's folder columns here, on a pool thread, in Python loops.

    :attr:`SampleTable.folders` sorts an object array: a million paths hold the GIL for ~1 s
    in one call, which the GUI thread waits out. Here no single call runs long, so the GUI
    thread takes the lock every few milliseconds. The paths come in browsing order (the catalog
    reads them so: by their bytes), so each folder's files are one run, found by bisection: the
    cost is per folder, not per file (at 1M files in 1,000 folders, 0.04 s instead of 0.8 s).
    Paths out of order take a loop over every path.

    ``known``: a table with its folders filled whose files ``table`` starts with (an appending
    read): only the files added since are walked (at 1M, 0.12 s less per read while listing).
    """
    if table is known and table._folders is not None:
        return  # nothing was added
    first = _files_known(table, known)
    if first == 0:
        table._folders = _folder_columns(table.relpaths)  # its cache
        return
    assert known is not None and known._folders is not None
    old_names, old_codes = known._folders
    new_names, new_codes = _folder_columns(table.relpaths[first:])
    names = sorted(set(old_names) | set(new_names))
    place = {name: i for i, name in enumerate(names)}
    old_to = np.array([place[name] for name in old_names], dtype=np.int32)
    new_to = np.array([place[name] for name in new_names], dtype=np.int32)
    table._folders = (names, np.concatenate([old_to[old_codes], new_to[new_codes]]))


def _files_known(table: SampleTable, known: SampleTable | None) -> int:
    """How many of ``table``'s first files are ``known``'s, with their folders filled (0: none
    to reuse)."""
    if known is None or known._folders is None or table.file_ids is None:
        return 0
    count = 0 if known.file_ids is None else len(known.file_ids)
    if not 0 < count < len(table.file_ids):
        return 0
    return count if np.array_equal(table.file_ids[:count], known.file_ids) else 0


def _folder_columns(relpaths: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """The distinct first folders of ``relpaths`` (sorted) and each path's index among them."""
    if not in_path_order(relpaths):
        return _folders_by_loop(relpaths)
    runs = _folder_runs(relpaths)
    names = sorted({head for head, _, _ in runs})
    code = {name: i for i, name in enumerate(names)}
    codes = np.empty(len(relpaths), dtype=np.int32)
    for head, first, end in runs:
        codes[first:end] = code[head]
    return names, codes


def _folders_by_loop(relpaths: Sequence[str]) -> tuple[list[str], np.ndarray]:
    heads = [p.partition("/")[0] if "/" in p else "" for p in relpaths]
    distinct: set[str] = set()
    for start in range(0, len(heads), FOLDER_PIECE):
        make_way()
        distinct.update(heads[start : start + FOLDER_PIECE])
    names = sorted(distinct)
    code = {name: i for i, name in enumerate(names)}
    return names, np.fromiter((code[head] for head in heads), dtype=np.int32, count=len(heads))


def _folder_runs(relpaths: Sequence[str]) -> list[tuple[str, int, int]]:
    """``(first folder, first row, end row)`` of each run of paths (in browsing order) with the
    same first folder; a file at the top is a run of one with folder ``""``."""
    runs = []
    row = 0
    while row < len(relpaths):
        head, slash, _ = relpaths[row].partition("/")
        if not slash:
            if runs and runs[-1][0] == "" and runs[-1][2] == row:  # files at the top, in a row
                runs[-1] = ("", runs[-1][1], row + 1)
            else:
                runs.append(("", row, row + 1))
            row += 1
            continue
        past = path_key(head + "0")  # "0" follows "/": past "head/..."
        end = bisect_left(relpaths, past, row, key=path_key)
        runs.append((head, row, end))
        row = end
    return runs


def read_project(project_dir: Path, first_files: int | None = None) -> ProjectData:
    """What the browser shows of the project: all of it, or with ``first_files`` and more than
    :data:`HEAD_ABOVE_FILES` files, the samples of its first ``first_files`` files in browsing
    order (``whole`` False)."""
    with Project.open(project_dir) as project:
        try:
            root: Path | None = project.dataset_root
        except SieveError:  # thumbnails from files are optional
            root = None
        if first_files is not None and _largest_file_id(project) <= HEAD_ABOVE_FILES:
            first_files = None  # small enough to read whole at once
        table = load_table(project, first_files)
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
            return _project_data(project, load_table(project), known.dataset_root)
        pending = appended_pending(table, known)
        return _project_data(project, table, known.dataset_root, pending, known.table)


def _project_data(
    project: Project,
    table: SampleTable,
    root: Path | None,
    pending: np.ndarray | None = None,
    known: SampleTable | None = None,
) -> ProjectData:
    """The rest of the project read with ``table``; ``pending`` when the caller has it; the
    folders of ``known``'s files (which ``table`` starts with) taken from it."""
    fill_folders(table, known)
    return ProjectData(
        table,
        root,
        project.tags(),
        tag_members(project),
        saved_selections(project),
        score_keys(project),
        pending_rows(table) if pending is None else pending,
    )
