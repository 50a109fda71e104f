"""MapPanel: the embedding map, wired to the shared app state.

The panel lays out the project's active embedding set on its own :class:`LatestRunner` (PCA at
once, UMAP animating in as it converges; a new request cancels the running one, whose late
layouts are dropped), colours it by
what the app state's ``colour_by`` names, and turns clicks and lassos into edits of the shared
selection, so the grid follows. A click also highlights the sample's nearest neighbours. The
embeddings chooser lists the finished sets; choosing one makes it the project's active set and
lays it out.

A quick look runs in the panel's own child process, which :class:`LookAhead` starts before the
click once the panel offers a quick look (a project with no map yet, its files listed, the panel
on screen; while the index decodes, the child loads below it) and lets go once a map is shown.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QPixmap, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.core.embeddings.neighbours import nearest_ids
from app.core.errors import SieveError
from app.core.store.embedding_sets import get_embedding_set, set_active
from app.core.store.project import THUMBS_NAME, Project
from app.core.store.thumbs import ThumbReader
from app.engine import LatestRunner
from app.engine.runner import JobFactory
from app.gui_model.map_sources import (
    NO_EMBEDDINGS,
    MapSource,
    embed_run_and_layout_job,
    layout_job,
    set_choices,
)
from app.gui_model.state import AppState, Event
from app.ui.index_gate import gate
from app.ui.job_progress import JobProgress
from app.ui.map.colouring import MapColouring
from app.ui.map.look_ahead import LookAhead
from app.ui.map.object_mode import install_object_map
from app.ui.map.quick_look import quick_look_job
from app.ui.scatter import EmbeddingScatter

NEIGHBOURS = 12
METHODS = {"UMAP": "umap", "PCA": "pca"}
COMBO_CHARS = 10  # the choosers' width; longer titles show in full in their lists
QUICK_LOOK = "Quick look"


class MapPanel(QWidget):
    """The map of the active embedding set; see the module docstring."""

    sample_clicked = Signal(int)
    train_requested = Signal()
    source_changed = Signal()

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.latest = LatestRunner(parent=self)  # the latest request wins; a cancelled job's
        self.runner = self.latest.runner  # reports are dropped (another project's or set's)
        self.ahead = LookAhead(self._offers_quick_look, self)
        self.look = self.ahead.process
        self._started_name = ""
        self._project_dir: Path | None = None
        self._source: MapSource | None = None
        self._vectors: np.ndarray | None = None
        self._thumbs: ThumbReader | None = None
        self._shown_layout = False
        self._shown_count = 0
        self._announced_set: int | None = None  # the set last announced by source_changed
        self.xy = np.empty((0, 2), dtype=np.float32)

        self.scatter = EmbeddingScatter()
        self.scatter.set_card_provider(self._card)
        self.set_box = QComboBox()
        self.set_box.setToolTip(
            "The active embedding set: the map, neighbours, scores and selection use it"
        )
        self.set_box.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.set_box.setMinimumContentsLength(COMBO_CHARS)
        self.caption = QLabel()
        self.colouring = MapColouring(state, self.caption.setText, COMBO_CHARS)
        self.colour_box = self.colouring.box
        self.method_box = QComboBox()
        self.method_box.addItems(list(METHODS))
        self.method_box.setToolTip("UMAP keeps neighbours together; PCA is instant and linear")
        self.k_box = QSpinBox()
        self.k_box.setRange(1, 200)
        self.k_box.setValue(NEIGHBOURS)
        self.k_box.setToolTip("How many nearest neighbours a click highlights")
        self.caption.setObjectName("map-caption")
        self.caption.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.weights_label = QLabel()
        self.weights_label.setObjectName("map-weights")
        self.weights_label.setWordWrap(True)
        self.weights_label.setToolTip(
            "Which backbone and weights made this quick look; train a model for a better map"
        )
        self.weights_label.hide()
        self.job_line = JobProgress(self.runner)

        self.empty_text = QLabel()
        self.empty_text.setWordWrap(True)
        self.empty_text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.train_button = QPushButton("Train a model…")
        self.quick_button = QPushButton("Quick look (pretrained or random weights)")
        self.quick_button.setToolTip(
            "Embed the thumbnails with a small ResNet-18 (64 px with ImageNet weights when "
            "they are cached on this computer, else 40 px with random weights) and map at once"
        )
        self.pages = QStackedWidget()
        self.pages.addWidget(self._empty_page())
        self.pages.addWidget(self.scatter)
        self._layout_widgets()
        self._connect()
        self.objects = install_object_map(self)
        self._show_empty("Open a dataset to see its map.")

    def _empty_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addStretch(1)
        layout.addWidget(self.empty_text)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.train_button)
        buttons.addWidget(self.quick_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        layout.addStretch(1)
        return page

    def _layout_widgets(self) -> None:
        data = self._bar(("Embeddings", self.set_box), ("Colour by", self.colour_box), stretch=1)
        view = self._bar(("Layout", self.method_box), ("Neighbours", self.k_box))
        view.addWidget(self.caption, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(data)
        layout.addLayout(view)
        layout.addWidget(self.weights_label)
        layout.addWidget(self.pages, 1)
        layout.addWidget(self.job_line)

    @staticmethod
    def _bar(*fields: tuple[str, QWidget], stretch: int = 0) -> QHBoxLayout:
        """A row of labelled fields; ``stretch``: how the fields share the row's spare width."""
        bar = QHBoxLayout()
        for text, widget in fields:
            bar.addWidget(QLabel(text))
            bar.addWidget(widget, stretch)
        return bar

    def _connect(self) -> None:
        self.state.subscribe(self._on_state)
        state = self.state
        state.subscribe(lambda e: self._on_indexing() if e == "indexing" else None)
        self.scatter.clicked.connect(self._on_clicked)
        self.scatter.lasso_selected.connect(self._on_lasso)
        self.scatter.selection_cleared.connect(self.state.clear_selection)
        self.set_box.activated.connect(self._on_set_chosen)
        self.method_box.activated.connect(lambda _: self.refresh())
        self.train_button.clicked.connect(self.train_requested)
        self.quick_button.clicked.connect(lambda: self.embed_and_map(None))
        self.runner.started.connect(self._on_started)
        self.latest.progress.connect(self._on_progress)
        self.latest.finished.connect(self._on_finished)
        self.latest.failed.connect(self._on_failed)

    # ------------------------------------------------------------------ public
    @property
    def source(self) -> MapSource | None:
        return self._source

    def set_project(self, path: Path | None) -> None:
        """Show ``path``'s map (computing it if needed); None clears the panel."""
        self._close_thumbs()
        self._project_dir = Path(path) if path is not None else None
        self.objects.set_project(self._project_dir)
        self._announced_set = None
        self._forget_layout()
        if path is None:
            self.latest.cancel()
            self.set_box.clear()
            self._show_empty("Open a dataset to see its map.")
            return
        self._thumbs = ThumbReader(self._project_dir / THUMBS_NAME)
        if self._fill_set_box() is None:  # nothing to lay out: no job (a fresh folder's case)
            self.latest.cancel()
            self._show_empty(NO_EMBEDDINGS)
            return
        self.refresh()

    def refresh(self) -> None:
        """Lay out the active embedding set again (a cached layout comes back at once)."""
        if self._project_dir is None:
            return
        project_dir, method = self._project_dir, self.method
        self._request(lambda cancel: layout_job(project_dir, method, cancel), f"{method} map")

    def embed_and_map(self, run_id: int | None) -> None:
        """Embed with training run ``run_id`` (None: a quick look) and lay the new set out."""
        if self._project_dir is None or (run_id is None and self.state.indexing):
            return
        project_dir, method, look = self._project_dir, self.method, self.look
        self._forget_layout()
        if run_id is None:
            self._request(
                lambda cancel: quick_look_job(project_dir, method, cancel, look), QUICK_LOOK
            )
            return
        self._request(
            lambda cancel: embed_run_and_layout_job(project_dir, run_id, method, cancel),
            "Embedding and mapping",
        )

    @property
    def method(self) -> str:
        return METHODS[self.method_box.currentText()]

    def shutdown(self) -> None:
        self.latest.shutdown()
        self.objects.shutdown()
        self.ahead.close()
        self._close_thumbs()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.ahead.schedule()

    # ----------------------------------------------------------- quick look ahead
    def _on_indexing(self) -> None:
        gate(self.quick_button, self.state, True)
        self.ahead.schedule()

    def _offers_quick_look(self) -> bool:
        """The panel shows its Quick look button on screen (able to start, or waiting for an
        index that has listed its files)."""
        return (
            self._project_dir is not None
            and self.pages.currentIndex() == 0
            and self.quick_button.isVisible()
            and not self.state.listing
        )

    # ----------------------------------------------------------------- running
    def _request(self, factory: JobFactory, name: str) -> None:
        """Start a job; the latest request wins over a running one."""
        self.latest.request(factory, name)

    @Slot(str)
    def _on_started(self, name: str) -> None:
        self._shown_layout = False
        self._started_name = name

    @Slot(object)
    def _on_progress(self, progress: Any) -> None:
        partial = progress.partial
        if not isinstance(partial, dict):
            return
        if partial.get("kind") == "layout":
            source = partial["source"]
            if self._source is None or self._source.set_id != source.set_id:
                self._take_source(source)
            self._show_layout(np.asarray(partial["xy"]), partial)

    @Slot(object)
    def _on_finished(self, result: Any) -> None:
        """Show the finished layout (UMAP's last epochs come after its last streamed frame).

        A map shown offers no quick look: the quick-look process is let go."""
        self._let_look_go()
        if self._source is None or not isinstance(result, np.ndarray):
            return
        if result.shape == (len(self._source.ids), 2):
            self._show_layout(result, {"method": self.method})

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        if self._source is None:
            self._show_empty(message)
        else:
            self.caption.setText(message)

    def _let_look_go(self) -> None:
        """Let the quick-look process go unless a quick look runs (it shows maps as it goes)."""
        if not (self.runner.is_busy and self._started_name == QUICK_LOOK):
            self.ahead.release()

    def _take_source(self, source: MapSource) -> None:
        self._let_look_go()
        changed = source.set_id != self._announced_set
        self._announced_set = source.set_id
        self._source = source
        self._vectors = source.vectors
        self._fill_set_box()
        self._fill_colours()
        self._show_weights(source.set_id)
        self._shown_layout = False
        if changed:
            self.source_changed.emit()

    def _show_layout(self, xy: np.ndarray, partial: dict[str, Any]) -> None:
        assert self._source is not None
        self.xy = xy
        if self._shown_layout and len(xy) == self._shown_count:
            self.scatter.set_positions(xy)
        else:
            categories, values = self.colouring.colours(self._project_dir, self._source)
            self.scatter.set_points(xy, categories=categories, values=values)
            self._shown_layout, self._shown_count = True, len(xy)
            self._sync_marks()
            self.pages.setCurrentWidget(self.scatter)
        epoch = partial.get("epoch")
        method = str(partial.get("method", "")).upper()
        where = f", epoch {epoch}" if epoch is not None else ""
        self.caption.setText(f"{len(xy):,} samples · {method}{where} · {self._source.set_name}")
        self.caption.setToolTip(self.caption.text())

    def _show_weights(self, set_id: int) -> None:
        """Say which backbone and weights made a quick-look set (hidden for other sets)."""
        assert self._project_dir is not None
        try:
            with Project.open(self._project_dir) as project:
                config = get_embedding_set(project, set_id).config
        except SieveError:
            config = {}
        text = str(config.get("source", "")) if config.get("quick") else ""
        self.weights_label.setText(text)
        self.weights_label.setVisible(bool(text))

    def _forget_layout(self) -> None:
        self.weights_label.hide()
        self._source = None
        self._vectors = None
        self._shown_layout = False

    def _show_empty(self, text: str) -> None:
        self.empty_text.setText(text)
        has_project = self._project_dir is not None
        self.train_button.setVisible(has_project)
        self.quick_button.setVisible(has_project)
        self.pages.setCurrentIndex(0)
        self.caption.clear()
        self.ahead.schedule()

    # ------------------------------------------------------------ embedding sets
    def _fill_set_box(self) -> int | None:
        """List the finished sets to choose from; the active set's id (None: there is none)."""
        assert self._project_dir is not None
        with Project.open(self._project_dir) as project:
            choices, active = set_choices(project)
        self.set_box.blockSignals(True)
        self.set_box.clear()
        for set_id, title in choices:
            self.set_box.addItem(title, set_id)
        self.set_box.setCurrentIndex(max(self.set_box.findData(active), 0))
        self.set_box.setEnabled(len(choices) > 1)
        self.set_box.blockSignals(False)
        return active

    @Slot(int)
    def _on_set_chosen(self, index: int) -> None:
        set_id = self.set_box.itemData(index)
        if self._project_dir is None or set_id is None:
            return
        if self._source is not None and self._source.set_id == set_id:
            return
        try:
            with Project.open(self._project_dir) as project:
                set_active(project, int(set_id))
        except SieveError as error:
            self.caption.setText(str(error))
            self._fill_set_box()
            return
        self.refresh()

    # ---------------------------------------------------------------- colours
    def refresh_colours(self) -> None:
        """Re-read what the map can colour by (tags or scores changed) and recolour."""
        self._fill_colours()
        self._recolour()

    def _fill_colours(self) -> None:
        if self._source is not None and self._project_dir is not None:
            self.colouring.fill(self._project_dir, self._source)

    def _recolour(self) -> None:
        if not self._shown_layout:
            return
        categories, values = self.colouring.colours(self._project_dir, self._source)
        self.scatter.set_colours(categories=categories, values=values)

    # ------------------------------------------------------- state <-> scatter
    def _rows(self, ids: np.ndarray) -> np.ndarray:
        """Map rows of sample ids (the set's ids are ascending); unknown ids are dropped."""
        if self._source is None or not len(ids):
            return np.empty(0, dtype=np.int64)
        known = self._source.ids
        position = np.searchsorted(known, ids).clip(0, max(len(known) - 1, 0))
        return position[known[position] == ids]

    def _sync_marks(self) -> None:
        self.scatter.set_selection(self._rows(self.state.selected))
        self.scatter.set_highlight(self._rows(self.state.highlighted))
        current = self.state.current
        rows = self._rows(np.array([current], dtype=np.int64)) if current is not None else []
        self.scatter.set_current(int(rows[0]) if len(rows) else None)

    def _on_state(self, event: Event) -> None:
        if not self._shown_layout:
            return
        if event == "colour_by":
            if not self.colouring.knows_chosen():
                self._fill_colours()  # a score or tag made since the map was shown
            self.colouring.show_chosen()
            self._recolour()
        elif event in ("selection", "highlight", "current"):
            self._sync_marks()
            if event == "selection" and self.state.colour_by == "selection":
                self._recolour()

    @Slot(int)
    def _on_clicked(self, row: int) -> None:
        if self._source is None or row < 0:
            return
        sample_id = int(self._source.ids[row])
        self.state.select([sample_id])
        self.state.set_current(sample_id)
        self.state.set_highlight(self.neighbours_of(sample_id))
        self.sample_clicked.emit(sample_id)

    def neighbours_of(self, sample_id: int) -> np.ndarray:
        """The ``k`` nearest samples of ``sample_id`` in the active set, best first."""
        if self._source is None or self._vectors is None:
            return np.empty(0, dtype=np.int64)
        found, _ = nearest_ids(self._vectors, self._source.ids, sample_id, self.k_box.value())
        return found

    @Slot(object, str)
    def _on_lasso(self, rows: np.ndarray, mode: str) -> None:
        if self._source is not None:
            self.state.select(self._source.ids[np.asarray(rows, dtype=np.int64)], mode)

    # --------------------------------------------------------------- hover card
    def _card(self, row: int) -> tuple[QPixmap | None, str]:
        if self._source is None or not 0 <= row < len(self._source.ids):
            return None, ""
        sample_id = int(self._source.ids[row])
        table_row = int(self._source.rows[row])
        name = self._source.table.name(table_row) if table_row >= 0 else f"sample {sample_id}"
        pixmap = None
        data = self._thumbs.get(sample_id) if self._thumbs is not None else None
        if data:
            pixmap = QPixmap()
            pixmap.loadFromData(data)
        return pixmap, name

    def _close_thumbs(self) -> None:
        if self._thumbs is not None:
            self._thumbs.close()
            self._thumbs = None
