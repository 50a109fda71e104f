"""The browser's list model: a view of a :class:`SampleTable` through an array of table rows.

Row ``r`` of the model is table row ``order[r]``; nothing is held per sample but numpy columns,
so every ``data()`` call is O(1).

The row count lives in C++: the model is a QStringListModel of null strings (one shared empty
QString per row). Qt's list layout and selection call ``rowCount()`` and ``index()`` for every
row, and a Python override of either costs about 2 s per layout at a million rows; this way
they never leave C++ and only ``data()`` for painted cells reaches Python.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QStringListModel, Qt, Slot

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


class BrowserModel(QStringListModel):
    """Samples in the filtered order; thumbnails from a :class:`ThumbnailLoader`."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.table: SampleTable = empty_table()
        self.order = np.empty(0, dtype=np.int64)
        self._position = np.empty(0, dtype=np.int64)  # table row -> model row, -1 if hidden
        self._loader: ThumbnailLoader | None = None
        self._root: Path | None = None

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
        self._root = dataset_root
        self.order = np.empty(0, dtype=np.int64)
        self._position = np.full(len(table), -1, dtype=np.int64)
        if project_dir is not None:
            source = self._source if dataset_root is not None else None
            self._loader = ThumbnailLoader(Path(project_dir) / THUMBS_NAME, source, parent=self)
            self._loader.ready.connect(self._on_thumbnails_ready)
        self.setStringList([])

    def set_order(self, rows: np.ndarray) -> None:
        """Show these table rows, in this order."""
        self.order = np.asarray(rows, dtype=np.int64)
        self._position = np.full(len(self.table), -1, dtype=np.int64)
        self._position[self.order] = np.arange(len(self.order), dtype=np.int64)
        self.setStringList([""] * len(self.order))  # resets the model

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
            reason = table.reason.get(int(table.ids[table_row]), "unreadable")
            return f"{name}\nbroken: {reason}"
        code = int(table.label_code[table_row])
        lines = [name, f"label: {table.labels[code] if code >= 0 else '(none)'}"]
        if table.width[table_row] and table.height[table_row]:
            lines.append(f"{table.width[table_row]} × {table.height[table_row]}")
        if table.frame[table_row] >= 0:
            relpath = table.relpaths[table.file_index[table_row]]
            lines.append(f"frame {table.frame[table_row]} of {relpath}")
        return "\n".join(lines)

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
        """On a pool thread: the image file of a usable image sample (frames have none)."""
        rows = self.table.row_of(np.array([sample_id]))
        row = int(rows[0])
        if row < 0 or self._root is None or self.table.frame[row] >= 0:
            return None
        if self.table.broken[row] or self.table.missing[row]:
            return None
        return self._root / self.table.relpaths[self.table.file_index[row]]

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
