"""The detail view: the current sample at full resolution, its information and neighbours.

It shows whatever ``AppState.current`` is and steps through the grid's filtered order with the
arrow keys, Page Up / Down, Home and End; Esc or Back asks the main window for the grid again.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QImage, QKeyEvent, QShowEvent
from PySide6.QtWidgets import QLabel, QScrollArea, QSplitter, QToolBar, QVBoxLayout, QWidget

from app.core.store.metadata import adjacent_frame
from app.core.store.project import Project, SampleRow
from app.gui_model.state import AppState, Event
from app.ui.detail.image_view import ImageView
from app.ui.detail.info import InfoPanel
from app.ui.detail.loader import FullImageLoader
from app.ui.detail.neighbours import NeighbourStrip
from app.ui.detail.objects_overlay import ObjectsOverlay

LOADING = "Loading…"
_BACK_KEYS = (Qt.Key.Key_Left, Qt.Key.Key_Up, Qt.Key.Key_PageUp)
_FORWARD_KEYS = (Qt.Key.Key_Right, Qt.Key.Key_Down, Qt.Key.Key_PageDown)


class DetailView(QWidget):
    """Image view, info panel, neighbour strip and a toolbar, driven by the shared state."""

    close_requested = Signal()

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.project: Project | None = None
        self.order = np.empty(0, dtype=np.int64)
        self.row: SampleRow | None = None
        self._stale = True
        self.image_view = ImageView()
        self.info = InfoPanel()
        self.neighbours = NeighbourStrip()
        self.loader = FullImageLoader(self)
        self.position = QLabel()
        self.toolbar = self._build_toolbar()
        self.objects = ObjectsOverlay(self.image_view, lambda: self.project and self.project.path)
        info_scroll = QScrollArea()
        info_scroll.setWidget(self.info)
        info_scroll.setWidgetResizable(True)
        info_scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.image_view)
        side = QSplitter(Qt.Orientation.Vertical)
        side.addWidget(info_scroll)
        side.addWidget(self.objects.panel)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 1)
        splitter.setSizes([700, 280])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.toolbar)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.neighbours)
        self.setFocusProxy(self.image_view)
        self.loader.loaded.connect(self._on_loaded)
        self.loader.failed.connect(self._on_failed)
        self.neighbours.chosen.connect(self.state.set_current)
        self.neighbours.found.connect(self.state.set_highlight)
        self._unsubscribe = state.subscribe(self._on_state)
        self._update_actions()

    def _build_toolbar(self) -> QToolBar:
        bar = QToolBar()
        add = bar.addAction
        self.back_action = add("Back", self.close_requested.emit)
        self.back_action.setToolTip("Back to the grid (Esc)")
        bar.addSeparator()
        self.previous_action = add("Previous", lambda: self.step(-1))
        self.previous_action.setToolTip("Previous sample in the grid's order (Left, Up, Page Up)")
        self.next_action = add("Next", lambda: self.step(1))
        self.next_action.setToolTip("Next sample in the grid's order (Right, Down, Page Down)")
        bar.addWidget(self.position)
        bar.addSeparator()
        self.fit_action = add("Fit", self.image_view.fit)
        self.fit_action.setToolTip("Fit the image into the view (0 or F)")
        self.actual_action = add("1:1", self.image_view.actual_size)
        self.actual_action.setToolTip("One image pixel per screen pixel (1); zoom with + / -")
        bar.addSeparator()
        self.previous_frame_action = add("Previous frame", lambda: self.step_frame(-1))
        self.previous_frame_action.setToolTip("The previous sampled frame of this video")
        self.next_frame_action = add("Next frame", lambda: self.step_frame(1))
        self.next_frame_action.setToolTip("The next sampled frame of this video")
        return bar

    # --------------------------------------------------------------------- API
    def set_project(self, project_dir: Path | None) -> None:
        """Show samples of the project in ``project_dir`` (None: no project)."""
        self.loader.set_root(None)
        self.neighbours.set_project(None)
        if self.project is not None:
            self.project.close()
        self.project = None if project_dir is None else Project.open(project_dir)
        if self.project is not None:
            self.loader.set_root(self.project.dataset_root)
        self.neighbours.set_project(self.project)
        self.refresh()

    def set_order(self, ids: np.ndarray) -> None:
        """The grid's current (filtered, sorted) order of sample ids, for stepping."""
        self.order = np.asarray(ids, dtype=np.int64)
        self._update_actions()

    def current_position(self) -> int | None:
        """Where the current sample is in the order, if it is there."""
        found = np.flatnonzero(self.order == self.state.current) if self.order.size else []
        return int(found[0]) if len(found) else None

    def go_to(self, position: int) -> None:
        """Make the sample at ``position`` of the order current (clamped to the ends)."""
        if self.order.size:
            position = min(max(position, 0), len(self.order) - 1)
            self.state.set_current(int(self.order[position]))

    def step(self, delta: int) -> None:
        """Move ``delta`` samples through the order (from outside it: to the first or last)."""
        position = self.current_position()
        if position is None:
            self.go_to(0 if delta > 0 else len(self.order) - 1)
        else:
            self.go_to(position + delta)

    def step_frame(self, delta: int) -> None:
        """Show the neighbouring sampled frame of the same video."""
        if self.project is not None and self.row is not None and self.row.frame is not None:
            sample_id = adjacent_frame(self.project, self.row.id, delta)
            if sample_id is not None:
                self.state.set_current(sample_id)

    def refresh(self) -> None:
        """Show the current sample again (e.g. after its tags changed)."""
        self._stale = not self.isVisible()
        if self._stale:
            return
        sample_id = self.state.current
        self.row = None
        self.objects.clear()
        if self.project is not None and sample_id is not None:
            self.row = self.project.samples_by_id([sample_id]).get(sample_id)
        self.info.show_sample(self.project, self.row)
        self._update_actions()
        if self.row is None:
            self.loader.cancel()
            self.neighbours.show_for(None)
            gone = sample_id is not None and self.project is not None
            self.image_view.show_message(
                f"sample {sample_id} is not in this project" if gone else ""
            )
            return
        if self.row.status not in ("ok", "pending"):  # a listed file decodes from its original
            self.loader.cancel()
            self.image_view.show_message(f"{self.row.status}: {self.row.reason or 'unreadable'}")
        else:
            self.image_view.show_message(LOADING)
            self.loader.request(self.row)
        self.neighbours.show_for(self.row.id)

    def shutdown(self) -> None:
        """Stop the workers, close the project and stop listening (before dropping the view)."""
        self._unsubscribe()
        self.loader.close()
        self.objects.shutdown()
        self.neighbours.shutdown()
        if self.project is not None:
            self.project.close()
            self.project = None

    # ------------------------------------------------------------------ events
    def _on_state(self, event: Event) -> None:
        if event == "current":
            self.refresh()

    @Slot(int, QImage)
    def _on_loaded(self, sample_id: int, image: QImage) -> None:
        if self.row is not None and sample_id == self.row.id:
            self.image_view.set_image(image)
            self.objects.show_for(sample_id)

    @Slot(int, str)
    def _on_failed(self, sample_id: int, reason: str) -> None:
        if self.row is not None and sample_id == self.row.id:
            self.image_view.show_message(f"broken: {reason}")

    def _update_actions(self) -> None:
        position = self.current_position()
        count = len(self.order)
        self.position.setText(f"  {'–' if position is None else position + 1} / {count}  ")
        self.previous_action.setEnabled(count > 0 and position != 0)
        self.next_action.setEnabled(count > 0 and position != count - 1)
        is_frame = self.row is not None and self.row.frame is not None
        self.previous_frame_action.setVisible(is_frame)
        self.next_frame_action.setVisible(is_frame)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in _BACK_KEYS:
            self.step(-1)
        elif key in _FORWARD_KEYS:
            self.step(1)
        elif key == Qt.Key.Key_Home:
            self.go_to(0)
        elif key == Qt.Key.Key_End:
            self.go_to(len(self.order) - 1)
        elif key == Qt.Key.Key_Escape:
            self.close_requested.emit()
        else:
            super().keyPressEvent(event)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self.refresh()
