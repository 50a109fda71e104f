"""Which table rows a :class:`Filter` shows, and in which order: numpy masks and sorts only."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from app.core.store.catalog import SampleTable
from app.gui_model.state import Filter

BASIC_SORTS = ("name", "label")


def member_mask(table: SampleTable, members: np.ndarray) -> np.ndarray:
    """Per row: whether its sample id is among ``members`` (sorted ids)."""
    if not len(members):
        return np.zeros(len(table), dtype=bool)
    pos = np.searchsorted(members, table.ids).clip(0, len(members) - 1)
    return members[pos] == table.ids


def filter_mask(
    table: SampleTable,
    flt: Filter,
    tag_members: Mapping[str, np.ndarray],
    saved_selections: Mapping[str, np.ndarray] | None = None,
) -> np.ndarray:
    """Per row: whether ``flt`` lets it through (every set criterion must hold)."""
    mask = np.ones(len(table), dtype=bool)
    if flt.broken is not None:  # True: only the unusable rows (broken or missing files)
        mask &= table.unusable if flt.broken else ~table.unusable
    if flt.labels:
        codes = [i for i, label in enumerate(table.labels) if label in flt.labels]
        mask &= np.isin(table.label_code, codes)
    if flt.folder is not None:
        folders = table.folders
        code = folders.index(flt.folder) if flt.folder in folders else -1
        mask &= table.folder_code() == code
    if flt.tag is not None:
        mask &= member_mask(table, tag_members.get(flt.tag, np.empty(0, np.int64)))
    if flt.selection is not None:
        members = (saved_selections or {}).get(flt.selection, np.empty(0, np.int64))
        mask &= member_mask(table, members)
    if flt.text.strip():
        mask &= table.text_mask(flt.text.strip())
    return mask


def sort_rows(
    table: SampleTable, rows: np.ndarray, sort: str, descending: bool, scores: np.ndarray | None
) -> np.ndarray:
    """``rows`` (ascending table rows) ordered by name, label or score; missing values last."""
    if sort == "name":
        return rows[::-1].copy() if descending else rows
    if sort == "label":
        key = table.label_code[rows].astype(np.int64)
        missing = key < 0
    elif scores is not None:
        key = scores[rows]
        missing = np.isnan(key)
    else:
        return rows[::-1].copy() if descending else rows
    present = rows[~missing]
    values = key[~missing]
    order = np.argsort(-values if descending else values, kind="stable")
    return np.concatenate([present[order], rows[missing]])


def apply_filter(
    table: SampleTable,
    flt: Filter,
    tag_members: Mapping[str, np.ndarray],
    saved_selections: Mapping[str, np.ndarray] | None = None,
    scores: np.ndarray | None = None,
) -> np.ndarray:
    """Table rows shown for ``flt``, in display order (int64).

    ``tag_members`` maps tag NAME (what :class:`Filter` holds) to sorted sample ids; build it
    from :func:`app.core.store.catalog.tag_members` with :func:`members_by_name`. ``scores`` is the
    per-row score for ``flt.sort`` when that is a score key (NaN sorts last).
    """
    rows = np.flatnonzero(filter_mask(table, flt, tag_members, saved_selections))
    return sort_rows(table, rows, flt.sort, flt.descending, scores)


def members_by_name(
    names: Mapping[int, str], members: Mapping[int, np.ndarray]
) -> dict[str, np.ndarray]:
    """Re-key tag members (tag id -> ids) by tag name, given tag id -> name."""
    return {name: members.get(tag_id, np.empty(0, np.int64)) for tag_id, name in names.items()}
