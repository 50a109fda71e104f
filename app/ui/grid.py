"""The sample grid: one virtualised QListView in icon mode over a list model of samples.

No widget per item: the view paints only visible rows, asking the model for their decoration,
which comes from the :class:`ThumbnailLoader` (a placeholder until it has loaded).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, QSize, Qt, Slot
from PySide6.QtWidgets import QAbstractItemView, QListView, QWidget

from app.core.store.project import SampleRow
from app.ui.placeholders import broken_pixmap, loading_pixmap
from app.ui.thumbs import ThumbnailLoader

ICON_SIZE = 128
SampleRole = Qt.ItemDataRole.UserRole + 1
AnyIndex = QModelIndex | QPersistentModelIndex


def tooltip(row: SampleRow) -> str:
    """Path, label and size, or why the sample is broken."""
    if row.status != "ok":
        return f"{row.name}\nbroken: {row.reason or 'unreadable'}"
    lines = [row.name, f"label: {row.label or '(none)'}"]
    if row.width and row.height:
        lines.append(f"{row.width} × {row.height}")
    if row.frame is not None:
        lines.append(f"frame {row.frame} of {row.relpath}")
    return "\n".join(lines)


class SampleListModel(QAbstractListModel):
    """The project's samples in browsing order; thumbnails via a :class:`ThumbnailLoader`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._samples: list[SampleRow] = []
        self._loader: ThumbnailLoader | None = None
        self._sorted_ids = np.empty(0, dtype=np.int64)
        self._rows_by_id = np.empty(0, dtype=np.int64)

    @property
    def loader(self) -> ThumbnailLoader | None:
        return self._loader

    def set_samples(self, samples: Sequence[SampleRow], loader: ThumbnailLoader | None) -> None:
        """Show ``samples``; the model takes ``loader`` over and disposes of the previous one."""
        self.beginResetModel()
        if self._loader is not None and self._loader is not loader:
            self._loader.ready.disconnect(self._on_thumbnails_ready)
            self._loader.close()
            self._loader.deleteLater()
        self._samples = list(samples)
        ids = np.fromiter((row.id for row in self._samples), np.int64, len(self._samples))
        self._rows_by_id = np.argsort(ids, kind="stable")
        self._sorted_ids = ids[self._rows_by_id]
        if loader is not None and loader is not self._loader:
            loader.ready.connect(self._on_thumbnails_ready)
        self._loader = loader
        self.endResetModel()

    def sample(self, row: int) -> SampleRow:
        return self._samples[row]

    def rows_of(self, sample_ids: Sequence[int]) -> np.ndarray:
        """Row numbers of the given sample ids (ids not shown are left out)."""
        query = np.asarray(sample_ids, dtype=np.int64)
        if not len(self._sorted_ids):
            return np.empty(0, dtype=np.int64)
        pos = np.searchsorted(self._sorted_ids, query).clip(0, len(self._sorted_ids) - 1)
        return self._rows_by_id[pos[self._sorted_ids[pos] == query]]

    def refresh_thumbnails(self) -> None:
        """Look again for missing thumbnails and repaint (after a thumbnail job)."""
        if self._loader is not None and self._samples:
            self._loader.retry_missing()
            last = self.index(len(self._samples) - 1)
            self.dataChanged.emit(self.index(0), last, [Qt.ItemDataRole.DecorationRole])

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._samples)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._samples):
            return None
        row = self._samples[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return row.name
        if role == Qt.ItemDataRole.DecorationRole:
            return self._decoration(row)
        if role == Qt.ItemDataRole.ToolTipRole:
            return tooltip(row)
        if role == SampleRole:
            return row
        return None

    def _decoration(self, row: SampleRow) -> Any:
        if row.status != "ok":
            return broken_pixmap(ICON_SIZE)
        pixmap = self._loader.pixmap(row.id) if self._loader is not None else None
        return pixmap if pixmap is not None else loading_pixmap(ICON_SIZE)

    @Slot(list)
    def _on_thumbnails_ready(self, sample_ids: list[int]) -> None:
        rows = self.rows_of(sample_ids)
        if len(rows):
            first, last = self.index(int(rows.min())), self.index(int(rows.max()))
            self.dataChanged.emit(first, last, [Qt.ItemDataRole.DecorationRole])


class SampleGrid(QListView):
    """A wrapping grid of thumbnails with names, laid out in batches."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setUniformItemSizes(True)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(2000)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setWrapping(True)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setIconSize(QSize(ICON_SIZE, ICON_SIZE))
        line = self.fontMetrics().height()
        self.setGridSize(QSize(ICON_SIZE + 24, ICON_SIZE + line + 14))
