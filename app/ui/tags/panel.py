"""TagPanel: the tag dock. Create, rename, colour and delete tags; put them on the selection.

Every edit goes through :class:`TagEditor`, so it is one undo step on the shared QUndoStack and
is written to the project store at once. Number keys 1-9 toggle the first nine tags on the
selection once :meth:`TagPanel.install_number_shortcuts` has put them on a window.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from PySide6.QtCore import QModelIndex, QPoint, Qt, Signal
from PySide6.QtGui import QAction, QColor, QKeySequence, QShortcut, QUndoStack
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QColorDialog,
    QGridLayout,
    QInputDialog,
    QLabel,
    QListView,
    QMenu,
    QMessageBox,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core.errors import SieveError
from app.core.store.project import Project, Tag
from app.gui_model.state import AppState, Event
from app.ui.tags.commands import quoted
from app.ui.tags.editor import TagEditor
from app.ui.tags.menu import TagMenu, is_text_input
from app.ui.tags.model import NUMBER_KEYS, TagDelegate, TagIdRole, TagListModel

T = TypeVar("T")


class TagPanel(QWidget):
    """The project's tags with their colour, name, count and number key."""

    tags_changed = Signal()
    show_tag_requested = Signal(str)

    def __init__(
        self, state: AppState, undo_stack: QUndoStack, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.state = state
        self.undo_stack = undo_stack
        self.editor = TagEditor(undo_stack, self)
        self.editor.failed.connect(self._warn_later)
        self._project: Project | None = None
        self.shortcuts: list[QShortcut] = []

        self.model = TagListModel(self.editor, self)
        self.view = QListView()
        self.view.setModel(self.model)
        self.view.setItemDelegate(TagDelegate(self.view))
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
        )
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)

        self.new_action = self._action("&New tag\u2026", self.new_tag, "Create a tag")
        self.rename_action = self._action("&Rename\u2026", self.rename_current)
        self.color_action = self._action("&Colour\u2026", self.recolor_current)
        self.delete_action = self._action("&Delete\u2026", self.delete_current)
        self.assign_action = self._action(
            "&Assign to selection", self.assign_current, "Put the tag on the selected samples"
        )
        self.remove_action = self._action(
            "Re&move from selection", self.unassign_current, "Take the tag off the selection"
        )
        self.show_action = self._action("&Show only this tag", self._request_show)

        buttons = QGridLayout()
        buttons.setSpacing(4)
        for column, action in enumerate(
            (self.new_action, self.rename_action, self.color_action, self.delete_action)
        ):
            buttons.addWidget(self._button(action), 0, column)
        buttons.addWidget(self._button(self.assign_action), 1, 0, 1, 2)
        buttons.addWidget(self._button(self.remove_action), 1, 2, 1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.view, 1)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.hint.setEnabled(False)
        layout.addWidget(self.hint)
        layout.addLayout(buttons)

        self.editor.tags_changed.connect(self.tags_changed)
        self.editor.tags_changed.connect(self._update_actions)
        self.model.edit_failed.connect(self._warn)
        self.model.modelReset.connect(self._update_actions)
        self.view.selectionModel().currentChanged.connect(self._update_actions)
        unsubscribe = state.subscribe(self._on_state)
        self.destroyed.connect(lambda *_: unsubscribe())
        self._update_actions()

    # ----------------------------------------------------------------- project
    @property
    def project(self) -> Project | None:
        return self._project

    def set_project(self, project_dir: Path | None) -> None:
        """Edit the tags of the project in ``project_dir`` (None: no project).

        Opens a connection of its own on this (GUI) thread and clears the undo stack, whose
        commands belong to the previous project. Raises SieveError if there is no project there.
        """
        project = None if project_dir is None else Project.open(project_dir)
        old, self._project = self._project, project
        self.editor.set_project(project)  # writes the old project's queued edits first
        self.undo_stack.clear()
        if old is not None:
            old.close()

    def refresh(self) -> None:
        """Re-read the tags (after another connection, e.g. the CLI, changed them)."""
        self.model.refresh()
        self._update_actions()

    # ------------------------------------------------------------------- tags
    def current_tag(self) -> Tag | None:
        return self.model.tag_at(self.view.currentIndex().row())

    def select_tag(self, tag_id: int) -> None:
        """Make the tag the panel's current row."""
        row = self.model.row_of(tag_id)
        if row >= 0:
            self.view.setCurrentIndex(self.model.index(row))

    def assign_number(self, n: int) -> bool | None:
        """Toggle the ``n``-th tag (from 1) on the selection: off if all have it, else on.

        Returns the tag's new state on the selection, or None when there is no such tag or
        nothing is selected.
        """
        tag = self.model.tag_at(n - 1)
        return None if tag is None else self.toggle_tag(tag.id)

    def toggle_tag(self, tag_id: int) -> bool | None:
        """Toggle a tag on the selection; None when nothing is selected or the edit is refused."""
        if self._project is None or len(self.state.selected) == 0:
            return None
        return self._guarded(lambda: self.editor.toggle(tag_id, self.state.selected))

    def tag_menu(self, parent: QWidget | None = None) -> QMenu:
        """An "Assign tag" menu with a checkable entry per tag, rebuilt each time it opens."""
        return TagMenu(self, parent)

    def install_number_shortcuts(self, widget: QWidget) -> list[QShortcut]:
        """Number keys 1-9 on ``widget``'s window toggle the first nine tags on the selection.

        A WindowShortcut works wherever focus is in that window (grid, map, this panel). Text
        fields keep their digits: Qt offers the key to the focused widget first and line and
        text edits claim printable keys; :func:`is_text_input` checks once more on activation.
        """
        for n in range(1, NUMBER_KEYS + 1):
            shortcut = QShortcut(QKeySequence(Qt.Key.Key_0 + n), widget)
            shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(lambda n=n: self._number_key(n))
            self.shortcuts.append(shortcut)
        return self.shortcuts[-NUMBER_KEYS:]

    # ---------------------------------------------------------------- actions
    def new_tag(self, on_selection: bool = False) -> int | None:
        """Ask for a name and create a tag (put on the selection too if ``on_selection``)."""
        name, ok = QInputDialog.getText(self, "New tag", "Name of the new tag:")
        if not ok or not name.strip():
            return None
        ids = self.state.selected if on_selection else None
        tag_id = self._guarded(lambda: self.editor.create_tag(name, sample_ids=ids))
        if tag_id is not None:
            self.select_tag(tag_id)
        return tag_id

    def rename_current(self) -> None:
        tag = self.current_tag()
        if tag is None:
            return
        name, ok = QInputDialog.getText(
            self, "Rename tag", f"New name for {quoted(tag.name)}:", text=tag.name
        )
        if ok:
            self._guarded(lambda: self.editor.rename_tag(tag.id, name))

    def recolor_current(self) -> None:
        tag = self.current_tag()
        if tag is None:
            return
        title = f"Colour of {quoted(tag.name)}"
        color = QColorDialog.getColor(QColor(tag.color), self, title)
        if color.isValid():
            self._guarded(lambda: self.editor.recolor_tag(tag.id, color.name()))

    def delete_current(self) -> None:
        tag = self.current_tag()
        if tag is None:
            return
        answer = QMessageBox.question(
            self,
            "Delete tag",
            f"Delete the tag {quoted(tag.name)} from {tag.count:,} samples?\n"
            "Edit \u25b8 Undo brings it back.",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self._guarded(lambda: self.editor.delete_tag(tag.id))

    def assign_current(self) -> None:
        tag = self.current_tag()
        if tag is not None:
            self._guarded(lambda: self.editor.assign(tag.id, self.state.selected))

    def unassign_current(self) -> None:
        tag = self.current_tag()
        if tag is not None:
            self._guarded(lambda: self.editor.unassign(tag.id, self.state.selected))

    # ---------------------------------------------------------------- helpers
    def _number_key(self, n: int) -> None:
        if not is_text_input(QApplication.focusWidget()):
            self.assign_number(n)

    def _request_show(self) -> None:
        tag = self.current_tag()
        if tag is not None:
            self.show_tag_requested.emit(tag.name)

    def _guarded(self, edit: Callable[[], T]) -> T | None:
        """Run an edit; a refused one (SieveError) becomes a warning."""
        try:
            return edit()
        except SieveError as error:
            self._warn(str(error))
            return None

    def _warn(self, message: str) -> None:
        QMessageBox.warning(self, "Tags", message)

    def _warn_later(self, message: str) -> None:
        """A queued edit the store refused: a warning that does not stop the event loop."""
        box = QMessageBox(QMessageBox.Icon.Warning, "Tags", message, parent=self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def _on_state(self, event: Event) -> None:
        if event == "selection":
            self._update_actions()

    def _update_actions(self, *_: object) -> None:
        has_project = self._project is not None
        has_tag = has_project and self.current_tag() is not None
        has_selection = has_tag and len(self.state.selected) > 0
        self.new_action.setEnabled(has_project)
        for action in (self.rename_action, self.color_action, self.delete_action, self.show_action):
            action.setEnabled(has_tag)
        self.assign_action.setEnabled(has_selection)
        self.remove_action.setEnabled(has_selection)
        if not has_project:
            self.hint.setText("Open a project to tag its samples.")
        elif self.model.rowCount() == 0:
            self.hint.setText("No tags yet. New tag creates one; keys 1\u20139 then toggle it.")
        self.hint.setVisible(not has_project or self.model.rowCount() == 0)

    def _context_menu(self, pos: QPoint) -> None:
        index: QModelIndex = self.view.indexAt(pos)
        if index.isValid():
            self.view.setCurrentIndex(index)
        menu = QMenu(self)
        menu.addAction(self.new_action)
        if index.isValid() and index.data(TagIdRole) is not None:
            menu.addActions([self.rename_action, self.color_action, self.delete_action])
            menu.addSeparator()
            menu.addActions([self.assign_action, self.remove_action, self.show_action])
        menu.exec(self.view.viewport().mapToGlobal(pos))
        menu.deleteLater()

    def _action(self, text: str, slot: Callable[[], object], tip: str = "") -> QAction:
        action = QAction(text, self)
        action.setToolTip(tip or text.replace("&", "").rstrip("\u2026"))
        action.triggered.connect(lambda *_: slot())
        return action

    def _button(self, action: QAction) -> QToolButton:
        button = QToolButton()
        button.setDefaultAction(action)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        return button
