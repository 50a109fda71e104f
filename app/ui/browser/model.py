"""The browser's list model: a view of a :class:`SampleTable` through an array of table rows.

Row ``r`` of the model is table row ``order[r]``; nothing is held per sample but numpy columns,
so every ``data()`` call is O(1). The grid paints from :meth:`BrowserModel.cell`: one call per cell
instead of a ``data()`` call per role (each crosses from Python into Qt and back).

The row count is a number: :class:`~app.ui.browser.grid_view.GridView` places cells by
arithmetic and asks the model only about the cells it paints, so a reset or an insertion costs
the same at a million rows as at ten (no list of a million strings crosses into Qt).

While a background index runs, :meth:`BrowserModel.grow` takes a newer table and inserts the new
rows where they belong (one insertion per run of new rows, never a reset of the whole model), and
``pending`` marks the rows listed but not decoded yet (they wait for the index's thumbnail).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Slot,
)
from PySide6.QtGui import QPixmap

from app.core.data.scan import readable_name
from app.core.store.catalog import SampleTable, empty_table
from app.core.store.project import MISSING_REASON, THUMBS_NAME
from app.ui.browser.loader import ThumbnailLoader
from app.ui.placeholders import broken_pixmap, loading_pixmap, missing_pixmap

SampleIdRole = Qt.ItemDataRole.UserRole + 1
BrokenRole = Qt.ItemDataRole.UserRole + 2
TableRowRole = Qt.ItemDataRole.UserRole + 3
MissingRole = Qt.ItemDataRole.UserRole + 4
PLACEHOLDER_SIZE = 128
AnyIndex = QModelIndex | QPersistentModelIndex


MAX_INSERT_RUNS = 256


class Cell(NamedTuple):
    """What the grid paints for one row."""

    name: str
    sample_id: int
    broken: bool
    missing: bool
    thumbnail: QPixmap | None
    """The loaded thumbnail; None while it loads (it is then requested), or broken or missing."""
    reason: str
    """Why the sample is broken ("" when it is not)."""


@dataclass(frozen=True)
class Growth:
    """A newer table and how the shown order grows: new rows at ``starts`` (``counts`` each)."""

    table: SampleTable
    pending: np.ndarray
    order: np.ndarray
    position: np.ndarray
    starts: np.ndarray
    counts: np.ndarray


def positions(table_rows: int, order: np.ndarray) -> np.ndarray:
    """Table row -> model row (-1 where hidden)."""
    position = np.full(table_rows, -1, dtype=np.int64)
    position[order] = np.arange(len(order), dtype=np.int64)
    return position


def plan_growth(
    old_ids: np.ndarray, table: SampleTable, pending: np.ndarray, order: np.ndarray
) -> Growth | None:
    """How to go from showing ``old_ids`` to ``table.ids[order]`` by insertions only.

    None when a shown row went away or moved, or when the new rows are scattered in more than
    :data:`MAX_INSERT_RUNS` places (then a reset is cheaper). Runs on any thread.
    """
    new_ids = table.ids[order]
    kept = np.isin(new_ids, old_ids, assume_unique=True)
    if int(kept.sum()) != len(old_ids) or not np.array_equal(new_ids[kept], old_ids):
        return None
    added = np.flatnonzero(~kept)
    if len(added):
        breaks = np.flatnonzero(np.diff(added) != 1) + 1
        starts = added[np.r_[0, breaks]]
        counts = np.diff(np.r_[np.r_[0, breaks], len(added)])
    else:
        starts = counts = np.empty(0, dtype=np.int64)
    if len(starts) > MAX_INSERT_RUNS:
        return None
    table.row_of(np.empty(0, dtype=np.int64))  # the id index, built here rather than on the GUI
    return Growth(table, pending, order, positions(len(table), order), starts, counts)


class BrowserModel(QAbstractListModel):
    """Samples in the filtered order; thumbnails from a :class:`ThumbnailLoader`."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.table: SampleTable = empty_table()
        self.order = np.empty(0, dtype=np.int64)
        self._position = np.empty(0, dtype=np.int64)  # table row -> model row, -1 if hidden
        self.pending = np.zeros(0, dtype=bool)  # per table row: listed, not decoded yet
        self._for_source: tuple[SampleTable, np.ndarray] = (self.table, self.pending)
        self.version = 0  # bumped whenever the shown rows change
        self._loader: ThumbnailLoader | None = None
        self._root: Path | None = None
        self._rows = 0  # rows shown (Qt's row count)

    @property
    def loader(self) -> ThumbnailLoader | None:
        return self._loader

    def set_table(
        self, project_dir: Path | None, table: SampleTable, dataset_root: Path | None = None
    ) -> None:
        """Browse ``table`` (no rows shown until :meth:`set_order`); thumbnails from the project.

        With ``dataset_root``, images missing from the thumbnail cache are made from their file.
        """
        self._close_loader()
        self.table = table
        table.row_of(np.empty(0, dtype=np.int64))  # build the id index here, not on a pool thread
        self.set_pending(np.zeros(len(table), dtype=bool))
        self._root = dataset_root
        self.order = np.empty(0, dtype=np.int64)
        self._position = np.full(len(table), -1, dtype=np.int64)
        if project_dir is not None:
            source = self._source if dataset_root is not None else None
            self._loader = ThumbnailLoader(Path(project_dir) / THUMBS_NAME, source, parent=self)
            self._loader.ready.connect(self._on_thumbnails_ready)
        self._reset_rows(0)

    def set_order(self, rows: np.ndarray) -> None:
        """Show these table rows, in this order."""
        self.order = np.asarray(rows, dtype=np.int64)
        self._position = positions(len(self.table), self.order)
        self.version += 1
        self._reset_rows(len(self.order))

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else self._rows

    def _reset_rows(self, rows: int) -> None:
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

    def set_pending(self, pending: np.ndarray) -> None:
        """Which table rows are listed but not decoded yet (no thumbnail from their file)."""
        self.pending = pending
        self._for_source = (self.table, pending)

    def replace_table(self, table: SampleTable, pending: np.ndarray) -> None:
        """A newer table of the same project (keeps the loader); call :meth:`set_order` next."""
        table.row_of(np.empty(0, dtype=np.int64))
        self.table = table
        self.set_pending(pending)
        self.order = np.empty(0, dtype=np.int64)
        self._position = np.full(len(table), -1, dtype=np.int64)

    def grow(self, growth: Growth) -> None:
        """Show a newer table whose order keeps every shown row: insert only the new rows."""
        self.table = growth.table
        self.set_pending(growth.pending)
        self.order = growth.order
        self._position = growth.position
        self.version += 1
        for first, count in zip(growth.starts.tolist(), growth.counts.tolist(), strict=True):
            self.beginInsertRows(QModelIndex(), first, first + count - 1)
            self._rows += count
            self.endInsertRows()

    def retry_thumbnails(self, sample_ids: np.ndarray) -> None:
        """Ask again for the thumbnails of these usable samples that have none loaded yet
        (nothing is repainted meanwhile: a row repaints when its thumbnail comes)."""
        loader = self._loader
        if loader is None or not len(sample_ids):
            return
        rows = self.table.row_of(sample_ids)
        rows = rows[rows >= 0]
        usable = self.table.ids[rows[~(self.table.broken[rows] | self.table.missing[rows])]]
        lacking = [i for i in usable.tolist() if not loader.holds(i)]
        if lacking:
            loader.retry_missing()
            for sample_id in lacking:
                loader.pixmap(sample_id)

    def clear(self) -> None:
        self.set_table(None, empty_table())

    def close(self) -> None:
        """Stop the thumbnail loader (before the model goes away)."""
        self._close_loader()

    def sample_id(self, row: int) -> int:
        return int(self.table.ids[self.order[row]])

    def sample_ids(self, first: int = 0, last: int | None = None) -> np.ndarray:
        """Sample ids of model rows ``first..last`` (inclusive; default all)."""
        stop = len(self.order) if last is None else last + 1
        return self.table.ids[self.order[first:stop]]

    def row_of_sample(self, sample_id: int) -> int:
        """The model row showing ``sample_id``, or -1."""
        return int(self.rows_of_samples(np.array([sample_id]))[0])

    def rows_of_samples(self, ids: np.ndarray) -> np.ndarray:
        """Model rows of sample ids, -1 for those not shown."""
        table_rows = self.table.row_of(ids)
        return np.where(table_rows >= 0, self._position[table_rows.clip(0)], -1)

    def shown_mask(self, ids: np.ndarray) -> np.ndarray:
        """Per id: whether the model shows it."""
        return self.rows_of_samples(ids) >= 0

    def refresh_thumbnails(self) -> None:
        """Read the thumbnails again (after a thumbnail job) and repaint."""
        if self._loader is not None and len(self.order):
            self._loader.reload()
            roles = [Qt.ItemDataRole.DecorationRole]
            self.dataChanged.emit(self.index(0), self.index(len(self.order) - 1), roles)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row = index.row()
        if not index.isValid() or not 0 <= row < len(self.order):
            return None
        table_row = int(self.order[row])
        if role == Qt.ItemDataRole.DisplayRole:
            return readable_name(self.table.name(table_row))
        if role == Qt.ItemDataRole.DecorationRole:
            return self._decoration(table_row)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.tooltip(table_row)
        if role == SampleIdRole:
            return int(self.table.ids[table_row])
        if role == BrokenRole:
            return bool(self.table.broken[table_row])
        if role == MissingRole:
            return bool(self.table.missing[table_row])
        if role == TableRowRole:
            return table_row
        return None

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        """Selectable and enabled; never editable, dragged or dropped on."""
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (
            Qt.ItemFlag.ItemIsSelectable
            | Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemNeverHasChildren
        )

    def setData(self, index: AnyIndex, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:  # noqa: N802
        return False

    def tooltip(self, table_row: int) -> str:
        """Name, label and size, or why the sample is missing or broken."""
        table = self.table
        name = readable_name(table.name(table_row))
        if table.missing[table_row]:
            return f"{name}\nmissing: {MISSING_REASON}"
        if table.broken[table_row]:
            return f"{name}\nbroken: {self._broken_reason(int(table.ids[table_row]))}"
        code = int(table.label_code[table_row])
        lines = [name, f"label: {table.labels[code] if code >= 0 else '(none)'}"]
        if table.width[table_row] and table.height[table_row]:
            lines.append(f"{table.width[table_row]} × {table.height[table_row]}")
        if table.frame[table_row] >= 0:
            relpath = table.relpaths[table.file_index[table_row]]
            lines.append(f"frame {table.frame[table_row]} of {relpath}")
        return "\n".join(lines)

    def cell(self, row: int) -> Cell | None:
        """Everything the grid paints for model row ``row``; None outside the rows."""
        if not 0 <= row < len(self.order):
            return None
        table_row = int(self.order[row])
        table = self.table
        sample_id = int(table.ids[table_row])
        name = readable_name(table.name(table_row))
        if table.missing[table_row]:
            return Cell(name, sample_id, False, True, None, "")
        if table.broken[table_row]:
            return Cell(name, sample_id, True, False, None, self._broken_reason(sample_id))
        return Cell(name, sample_id, False, False, self.thumbnail(table_row), "")

    def _broken_reason(self, sample_id: int) -> str:
        return self.table.reason.get(sample_id, "unreadable")

    def thumbnail(self, table_row: int) -> Any:
        """The loaded thumbnail pixmap, or None (it is then requested)."""
        if self._loader is None or self.table.broken[table_row] or self.table.missing[table_row]:
            return None
        return self._loader.pixmap(int(self.table.ids[table_row]))

    def _decoration(self, table_row: int) -> Any:
        if self.table.missing[table_row]:
            return missing_pixmap(PLACEHOLDER_SIZE)
        if self.table.broken[table_row]:
            return broken_pixmap(PLACEHOLDER_SIZE)
        pixmap = self.thumbnail(table_row)
        return pixmap if pixmap is not None else loading_pixmap(PLACEHOLDER_SIZE)

    def _source(self, sample_id: int) -> Path | None:
        """On a pool thread: the image file of a usable, indexed image sample (frames have none).

        A pending row has none: the index makes its thumbnail (visible rows first).
        """
        table, pending = self._for_source
        row = int(table.row_of(np.array([sample_id]))[0])
        if row < 0 or self._root is None or table.frame[row] >= 0:
            return None
        if table.broken[row] or table.missing[row] or pending[row]:
            return None
        return self._root / table.relpaths[table.file_index[row]]

    def _close_loader(self) -> None:
        if self._loader is not None:
            self._loader.ready.disconnect(self._on_thumbnails_ready)
            self._loader.close()
            self._loader.deleteLater()
            self._loader = None

    @Slot(list)
    def _on_thumbnails_ready(self, sample_ids: list[int]) -> None:
        rows = self.rows_of_samples(np.asarray(sample_ids, dtype=np.int64))
        rows = rows[rows >= 0]
        if len(rows):
            roles = [Qt.ItemDataRole.DecorationRole]
            self.dataChanged.emit(self.index(int(rows.min())), self.index(int(rows.max())), roles)
