"""Wiring of the object views into the main window: the "Objects" dock (class histogram) and
View ▸ Show boxes on thumbnails, both fed by the browser's :class:`ObjectLayer`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QMenu

from app.ui.objects.histogram import ClassHistogram

if TYPE_CHECKING:
    from app.ui.main_window import MainWindow

BOXES_TEXT = "Show &boxes on thumbnails"
BOXES_KEY = "view/thumbnail_boxes"  # remembered between sessions
DOCK_HEIGHT = 300


class ObjectsUi(QObject):
    """The histogram dock and the thumbnail-boxes toggle of one window."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        browser = window.browser
        self.layer = browser.objects
        self.histogram = ClassHistogram(window.state, self.layer, browser.order_ids)
        self.dock = QDockWidget("Objects", window)
        self.dock.setObjectName("dock-objects")
        self.dock.setWidget(self.histogram)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        self.dock.hide()
        self.boxes_action = QAction(BOXES_TEXT, self, checkable=True)
        self.boxes_action.setToolTip("Draw the ground truth's boxes over the grid's thumbnails")
        self.boxes_action.setChecked(bool(window.settings.qt.value(BOXES_KEY, False, type=bool)))
        self.show_boxes(self.boxes_action.isChecked())
        self.boxes_action.toggled.connect(self.show_boxes)
        view_menu = _menu(window, "&View")
        if view_menu is not None:
            view_menu.addSeparator()
            view_menu.addAction(self.dock.toggleViewAction())
            view_menu.addAction(self.boxes_action)
        browser.counts_changed.connect(lambda *_: self.histogram.schedule())
        self.layer.sources_changed.connect(self._on_sources)
        self.layer.index_loaded.connect(self._on_index)

    def show_boxes(self, on: bool) -> None:
        """Draw (or stop drawing) the ground truth's boxes on the thumbnails."""
        self.window.settings.qt.setValue(BOXES_KEY, on)
        boxes = self.window.browser.view.delegate.boxes
        boxes.enabled = on
        if on:
            boxes.set_index(self.layer.index(None))  # None while loading: set once loaded
        self.window.browser.view.viewport().update()

    def shutdown(self) -> None:
        self.histogram.shutdown()

    def _on_sources(self) -> None:
        self.window.browser.view.delegate.boxes.set_index(None)
        detail = self.window.detail
        if self.layer.sources and detail.row is not None and detail.image_view.pixmap():
            detail.objects.show_for(detail.row.id)  # e.g. after an import: the new boxes
        if self.layer.sources:
            if self.dock.isHidden():
                self.dock.show()
                self.window.resizeDocks([self.dock], [DOCK_HEIGHT], Qt.Orientation.Vertical)
            if self.boxes_action.isChecked():
                self.show_boxes(True)

    def _on_index(self, name: str) -> None:
        if name == self.layer.truth and self.boxes_action.isChecked():
            self.show_boxes(True)


def install_objects(window: MainWindow) -> ObjectsUi:
    """Add the object views to ``window`` (after its menus are built)."""
    return ObjectsUi(window)


def _menu(window: MainWindow, title: str) -> QMenu | None:
    for action in window.menuBar().actions():
        if action.text() == title and action.menu() is not None:
            return action.menu()
    return None
