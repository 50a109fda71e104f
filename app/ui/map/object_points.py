"""ObjectMap: the active object set's crops as points, wired to the shared app state.

Every point is an object. Hovering shows its crop (cut from its image's stored thumbnail) with
its class, score and image; a click selects its image, makes it current, focuses the object
(the detail view outlines its box), highlights its nearest objects (saying how many have
another class) and asks for the detail view (``object_clicked``); a lasso
selects the images that contain the lassoed objects, so the grid shows them. Points are
coloured by class, score, label disagreement or folder. The layout runs on the map's own
:class:`JobRunner` (PCA at once, UMAP as it converges), cached in the set's folder.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.core.embeddings.neighbours import nearest_ids
from app.core.errors import SieveError
from app.core.store.project import THUMBS_NAME
from app.core.store.thumbs import ThumbReader
from app.engine import LatestRunner
from app.gui_model.object_map import (
    COLOUR_KEYS,
    ObjectMapSource,
    box_in_thumbnail,
    images_of,
    label_errors_job,
    object_colour_data,
    object_layout_job,
)
from app.gui_model.state import AppState
from app.ui.scatter import EmbeddingScatter

CROP_SIDE = 112  # the hover card's crop, logical pixels


class ObjectMap(QWidget):
    """The object map; see the module docstring."""

    object_clicked = Signal(int, int)  # object id, sample id

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self._latest = LatestRunner(parent=self)  # a new request waits for the cancelled job
        self.runner = self._latest.runner
        self.method = "pca"
        self.neighbours = 12  # how many nearest objects a click highlights
        self.source: ObjectMapSource | None = None
        self.xy = np.empty((0, 2), dtype=np.float32)
        self._project_dir: Path | None = None
        self._thumbs: ThumbReader | None = None
        self._shown = False
        self.scatter = EmbeddingScatter()
        self.scatter.set_card_provider(self._card)
        self.colour_box = QComboBox()
        self.colour_box.setToolTip("Colour the objects by class, score, label disagreement, folder")
        for key, title in COLOUR_KEYS:
            self.colour_box.addItem(title, key)
        self.caption = QLabel()
        self.caption.setObjectName("object-map-caption")
        self.caption.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.errors_button = QPushButton("Find label errors")
        self.errors_button.setToolTip(
            "Score every object by the share of its nearest objects with another class "
            "(possibly mislabelled when high) and colour the map by it"
        )
        self.empty = QLabel()
        self.empty.setWordWrap(True)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Objects by"))
        bar.addWidget(self.colour_box)
        bar.addWidget(self.caption, 1)
        bar.addWidget(self.errors_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.empty)
        layout.addWidget(self.scatter, 1)
        self.scatter.hide()
        self.scatter.clicked.connect(self._on_clicked)
        self.scatter.lasso_selected.connect(self._on_lasso)
        self.colour_box.activated.connect(lambda _: self._recolour())
        self.errors_button.clicked.connect(self.find_label_errors)
        self._latest.progress.connect(self._on_progress)
        self._latest.finished.connect(self._on_finished)
        self._latest.failed.connect(self._on_failed)
        state.subscribe(self._on_state)

    # ------------------------------------------------------------------ public
    def set_project(self, path: Path | None) -> None:
        """Forget the shown map; the next :meth:`refresh` lays out ``path``'s object set."""
        self._latest.cancel()
        self._close_thumbs()
        self._project_dir = Path(path) if path is not None else None
        self.source, self._shown = None, False
        self.scatter.hide()
        self.empty.setText("Open a dataset to see its objects." if path is None else "")
        self.empty.show()
        if path is not None:
            self._thumbs = ThumbReader(self._project_dir / THUMBS_NAME)

    def refresh(self, method: str | None = None) -> None:
        """Lay out the active object set with ``method`` (``"pca"`` or ``"umap"``)."""
        if self._project_dir is None:
            return
        self.method = method or self.method
        project_dir, chosen = self._project_dir, self.method
        self._shown = False
        self._latest.request(
            lambda cancel: object_layout_job(project_dir, chosen, cancel), "objects"
        )

    def find_label_errors(self) -> None:
        """Score label disagreement on the map's runner, then colour the map by it."""
        if self._project_dir is None:
            return
        project_dir = self._project_dir
        self._latest.request(lambda cancel: label_errors_job(project_dir, cancel), "label errors")

    def shutdown(self) -> None:
        self._latest.shutdown()
        self._close_thumbs()

    @property
    def colour_key(self) -> str:
        return str(self.colour_box.currentData())

    def set_colour_key(self, key: str) -> None:
        self.colour_box.setCurrentIndex(max(self.colour_box.findData(key), 0))
        self._recolour()

    # ----------------------------------------------------------------- layouts
    @Slot(object)
    def _on_progress(self, progress: Any) -> None:
        partial = progress.partial
        if isinstance(partial, dict) and partial.get("kind") == "object_layout":
            self.source = partial["source"]
            self._show(np.asarray(partial["xy"]), str(partial.get("method", self.method)))

    @Slot(object)
    def _on_finished(self, result: Any) -> None:
        if isinstance(result, int):  # label errors were scored: show them
            self.colour_box.setCurrentIndex(self.colour_box.findData("label_disagreement"))
            self.refresh()
            return
        count = -1 if self.source is None else len(self.source.ids)
        if isinstance(result, np.ndarray) and result.shape == (count, 2):
            self._show(result, self.method)

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        if not self._shown:
            self.scatter.hide()
            self.empty.setText(message)
            self.empty.show()
        else:
            self.caption.setText(message)

    def _show(self, xy: np.ndarray, method: str) -> None:
        assert self.source is not None
        self.xy = xy
        if self._shown:
            self.scatter.set_positions(xy)
        else:
            categories, values = self._colours()
            self.scatter.set_points(xy, categories=categories, values=values)
            self._shown = True
            self._sync_selection()
            self.empty.hide()
            self.scatter.show()
        source = self.source
        self.caption.setText(
            f"{len(xy):,} objects of {source.source_name} · {method.upper()} · set {source.set_id}"
        )
        self.caption.setToolTip(source.set_name)

    # ---------------------------------------------------------------- colours
    def _colours(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        if self.source is None:
            return None, None
        try:
            return object_colour_data(self.source, self.colour_key)
        except SieveError as error:
            self.caption.setText(str(error))
            return object_colour_data(self.source, "class")

    def _recolour(self) -> None:
        if self._shown:
            categories, values = self._colours()
            self.scatter.set_colours(categories=categories, values=values)

    # ------------------------------------------------------- state <-> scatter
    def _sync_selection(self) -> None:
        """Mark the objects on the selected images."""
        if self.source is None:
            return
        self.scatter.set_selection(
            np.flatnonzero(np.isin(self.source.sample_ids, self.state.selected))
        )

    def _on_state(self, event: str) -> None:
        if self._shown and event == "selection":
            self._sync_selection()

    @Slot(int)
    def _on_clicked(self, row: int) -> None:
        if self.source is None or not 0 <= row < len(self.source.ids):
            return
        focus = self.source.focus(row)
        self.state.set_focused_object(focus)
        self.state.select([focus.sample_id])
        self.state.set_current(focus.sample_id)
        self.scatter.set_current(row)
        self.highlight_neighbours(row)
        self.object_clicked.emit(focus.object_id, focus.sample_id)

    def highlight_neighbours(self, row: int) -> np.ndarray:
        """Highlight the :attr:`neighbours` nearest objects of point ``row``; their rows."""
        assert self.source is not None
        source = self.source
        found, _ = nearest_ids(source.vectors, source.ids, int(source.ids[row]), self.neighbours)
        rows = np.searchsorted(source.ids, found)
        self.scatter.set_highlight(rows)
        own = source.labels[row]
        differ = int((source.labels[rows] != own).sum())
        self.caption.setText(
            f"object {int(source.ids[row])} ({source.classes[int(own)]}): {differ} of its "
            f"{len(rows)} nearest objects have another class"
        )
        return rows

    @Slot(object, str)
    def _on_lasso(self, rows: np.ndarray, mode: str) -> None:
        if self.source is not None:
            self.state.select(images_of(self.source, rows), mode)

    # --------------------------------------------------------------- hover card
    def _card(self, row: int) -> tuple[QPixmap | None, str]:
        if self.source is None or not 0 <= row < len(self.source.ids):
            return None, ""
        return self.crop_pixmap(row), self.source.describe(row)

    def crop_pixmap(self, row: int) -> QPixmap | None:
        """Point ``row``'s object cut from its image's stored thumbnail (None without one)."""
        assert self.source is not None
        focus = self.source.focus(row)
        data = self._thumbs.get(focus.sample_id) if self._thumbs is not None else None
        if not data:
            return None
        try:
            thumb = Image.open(io.BytesIO(data)).convert("RGB")
        except OSError:
            return None
        size = focus.image_size if all(focus.image_size) else thumb.size
        crop = thumb.crop(box_in_thumbnail(focus.box, size, thumb.size))
        scale = CROP_SIDE / max(crop.size)
        crop = crop.resize(
            (max(1, round(crop.width * scale)), max(1, round(crop.height * scale))),
            Image.Resampling.BILINEAR,
        )
        buffer = io.BytesIO()
        crop.save(buffer, format="PNG")
        pixmap = QPixmap()
        pixmap.loadFromData(buffer.getvalue())
        return pixmap

    def _close_thumbs(self) -> None:
        if self._thumbs is not None:
            self._thumbs.close()
            self._thumbs = None
