"""A strip of the current sample's nearest neighbours, each a button that opens it.

The search (numpy over the memory-mapped embeddings) and the thumbnail reads run on a worker
thread with their own connections; only the answer for the sample still shown is used.
"""

from __future__ import annotations

import logging
import sqlite3
from functools import partial
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, QThreadPool, Signal, Slot
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QScrollArea, QToolButton, QVBoxLayout, QWidget

from app.core.embeddings.neighbours import load_embeddings, nearest_ids, usable_rows
from app.core.errors import SieveError
from app.core.store.embedding_sets import active_embedding_set
from app.core.store.project import THUMBS_NAME, Project
from app.core.store.thumbs import ThumbCache
from app.ui.thumbnail_image import decode_thumbnail

log = logging.getLogger("sieve")

K = 12
ICON = 80
HINT = "Neighbours appear once embeddings exist (train and embed first)"


class NeighbourStrip(QWidget):
    """Up to ``k`` neighbour thumbnails; ``chosen`` names a clicked one, ``found`` all of them."""

    chosen = Signal(int)
    found = Signal(object)  # np.ndarray of neighbour ids, best first
    _answered = Signal(int, object, object, list, str)  # id, ids, sims, QImages, problem

    def __init__(self, k: int = K, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.k = k
        self._project: Project | None = None
        self._wanted: int | None = None
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self.hint = QLabel(HINT)
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setWordWrap(True)
        self.buttons: list[QToolButton] = []
        self._row = QHBoxLayout()
        self._row.setContentsMargins(4, 4, 4, 4)
        self._row.addStretch(1)
        holder = QWidget()
        holder.setLayout(self._row)
        self._scroll = QScrollArea()
        self._scroll.setWidget(holder)
        self._scroll.setWidgetResizable(True)
        self._scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.hint)
        layout.addWidget(self._scroll)
        self.setFixedHeight(ICON + 48)
        self._answered.connect(self._on_answered)
        self._show_hint(HINT)

    def set_project(self, project: Project | None) -> None:
        """Search ``project``'s embeddings (the strip does not own the project)."""
        self._wanted = None
        self._pool.clear()
        self._pool.waitForDone()
        self._project = project
        self._clear()
        self._show_hint(HINT)

    def show_for(self, sample_id: int | None) -> None:
        """Find and show the neighbours of ``sample_id`` (the hint when there are no embeddings)."""
        self._wanted = sample_id
        self._pool.clear()
        if self._project is None or sample_id is None:
            self._clear()
            return
        embedding_set = active_embedding_set(self._project)
        if embedding_set is None:
            self._clear()
            self._show_hint(HINT)
            return
        self._pool.start(partial(self._search, self._project.path, embedding_set.folder, sample_id))

    def neighbour_ids(self) -> list[int]:
        """The ids shown, best first."""
        return [button.property("sample_id") for button in self.buttons]

    def shutdown(self) -> None:
        """Stop searching and wait for the worker."""
        self.set_project(None)

    def _search(self, project_dir: Path, embeddings_dir: Path, sample_id: int) -> None:
        """On the worker thread: search, then read and decode the thumbnails."""
        if self._wanted != sample_id:
            return
        try:
            loaded = load_embeddings(embeddings_dir)
            if loaded is None:
                self._answered.emit(sample_id, None, None, [], HINT)
                return
            with Project.open(project_dir) as project:
                usable = usable_rows(project, loaded[1])
            ids, sims = nearest_ids(*loaded, sample_id, self.k, usable)
            cache = ThumbCache(project_dir / THUMBS_NAME)
            try:
                data = cache.get_many(ids.tolist())
            finally:
                cache.close()
            images = [decode_thumbnail(data.get(int(i)), ICON) for i in ids]
            self._answered.emit(sample_id, ids, sims, images, "")
        except (SieveError, OSError, ValueError, sqlite3.Error) as error:
            log.warning("cannot find the neighbours of sample %s: %s", sample_id, error)
            problem = f"cannot find neighbours: {error}"
            self._answered.emit(sample_id, None, None, [], problem)

    @Slot(int, object, object, list, str)
    def _on_answered(
        self,
        sample_id: int,
        ids: np.ndarray | None,
        sims: np.ndarray | None,
        images: list[QImage | None],
        problem: str,
    ) -> None:
        if sample_id != self._wanted or self._project is None:
            return
        self._clear()
        if ids is None or sims is None:
            self._show_hint(problem)
            return
        if not len(ids):
            self._show_hint("This sample has no embedding (embed the dataset again)")
            return
        names = self._project.samples_by_id(ids.tolist())
        for position, (neighbour, similarity, image) in enumerate(
            zip(ids.tolist(), sims.tolist(), images, strict=True)
        ):
            row = names.get(neighbour)
            name = row.name if row is not None else f"sample {neighbour}"
            button = self._button(neighbour, similarity, image, name)
            self._row.insertWidget(position, button)
            self.buttons.append(button)
        self.hint.hide()
        self._scroll.show()
        self.found.emit(np.asarray(ids, dtype=np.int64))

    def _button(
        self, sample_id: int, similarity: float, image: QImage | None, name: str
    ) -> QToolButton:
        button = QToolButton()
        button.setProperty("sample_id", sample_id)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        button.setAutoRaise(True)
        button.setIconSize(QSize(ICON, ICON))
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
        button.setText(f"{similarity:.3f}")
        if image is not None:
            button.setIcon(QIcon(QPixmap.fromImage(image)))
        button.setToolTip(f"{name}\ncosine similarity {similarity:.4f}")
        button.clicked.connect(partial(self.chosen.emit, sample_id))
        return button

    def _clear(self) -> None:
        for button in self.buttons:
            self._row.removeWidget(button)
            button.hide()
            button.deleteLater()
        self.buttons = []

    def _show_hint(self, text: str) -> None:
        self.hint.setText(text)
        self.hint.show()
        self._scroll.hide()
