"""The first folder of every path of a sample table, which is also each sample's label.

A sample's label is its file's first-level folder (:func:`~app.core.data.scan.label_of`; none
for a file at the top), so a table read from a project takes both from its paths, not from the
samples' label column: no label index to keep while a folder is listed (a tenth of a 1M
listing's time) and no label strings to read.

The paths come in browsing order (the catalog reads them so: by their UTF-8 bytes), so each
folder's files are one run, found by bisection: the cost is per folder, not per file (1M files
in 1,000 folders: 0.04 s, not 0.8 s). Paths out of order take a loop over every path. No single
call holds the interpreter lock long, so a window's GUI thread beside the reader takes it every
few milliseconds.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

import numpy as np

from app.core.jobs import make_way

FOLDER_PIECE = 10_000  # paths a set takes in one call (under a ms, the lock held)
ORDER_PIECE = 10_000  # paths sorted per call to check their order (0.15-0.5 ms)

Folders = tuple[list[str], np.ndarray]  # distinct first folders (sorted), each file's index


def path_key(relpath: str) -> bytes:
    """A path as SQLite orders it (its UTF-8 bytes; escaped bytes as they were)."""
    return relpath.encode("utf-8", "surrogateescape")


def in_path_order(relpaths: Sequence[str]) -> bool:
    """Whether ``relpaths`` come in browsing order (as SQLite sorts them: by their UTF-8 bytes),
    checked a piece at a time (no long call holding the interpreter lock)."""
    for start in range(0, len(relpaths), ORDER_PIECE):
        piece = relpaths[start : start + ORDER_PIECE + 1]
        keys = piece if "".join(piece).isascii() else [path_key(path) for path in piece]
        if keys != sorted(keys):
            return False
    return True


def folder_columns(relpaths: Sequence[str]) -> Folders:
    """The distinct first folders of ``relpaths`` (sorted; ``""`` for files at the top) and
    each path's index among them."""
    if not in_path_order(relpaths):
        return _folders_by_loop(relpaths)
    runs = _folder_runs(relpaths)
    names = sorted({head for head, _, _ in runs})
    code = {name: i for i, name in enumerate(names)}
    codes = np.empty(len(relpaths), dtype=np.int32)
    for head, first, end in runs:
        codes[first:end] = code[head]
    return names, codes


def joined_folders(first: Folders, then: Folders) -> Folders:
    """The folders of two runs of paths, one after the other (an appending read): no path is
    walked again; the codes are remapped (a new folder, or files at the top, may sort before
    the first run's)."""
    old_names, old_codes = first
    new_names, new_codes = then
    names = sorted(set(old_names) | set(new_names))
    place = {name: i for i, name in enumerate(names)}
    old_to = np.array([place[name] for name in old_names], dtype=np.int32)
    new_to = np.array([place[name] for name in new_names], dtype=np.int32)
    return names, np.concatenate([old_to[old_codes], new_to[new_codes]])


def labels_of(folders: Folders) -> tuple[list[str], np.ndarray]:
    """The labels (the folders but ``""``, sorted) and each file's label index (-1: at the top,
    no label)."""
    names, codes = folders
    if names and names[0] == "":  # "" sorts first
        return names[1:], codes - 1
    return list(names), codes


def _folders_by_loop(relpaths: Sequence[str]) -> Folders:
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
    runs: list[tuple[str, int, int]] = []
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
