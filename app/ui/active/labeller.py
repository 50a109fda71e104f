"""Labeller: puts a class tag on samples as one undo step, so every sample keeps one class."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from app.core.store.project import Project
from app.gui_model.state import as_ids
from app.ui.tags.commands import quoted, samples_text, tagged_ids
from app.ui.tags.editor import TagEditor

TO_LABEL_TAG = "to-label"


class Labeller(QObject):
    """Class and queue tag edits through a :class:`TagEditor` on the shared undo stack.

    ``changed`` follows every tag change it makes: once per edit, and per command on undo/redo.
    """

    changed = Signal()

    def __init__(self, undo_stack: QUndoStack, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.undo_stack = undo_stack
        self.editor = TagEditor(undo_stack, self)
        self._quiet = False
        self.editor.tags_changed.connect(self._on_tags_changed)

    @property
    def project(self) -> Project | None:
        return self.editor.project

    def set_project(self, project: Project | None) -> None:
        """Edit ``project`` from now on (the caller owns and closes it)."""
        with self._one_change(notify=False):
            self.editor.set_project(project)

    @contextmanager
    def _one_change(self, notify: bool = True) -> Iterator[None]:
        """Hold back ``changed`` inside the block; emit it once afterwards (if ``notify``)."""
        self._quiet = True
        try:
            yield
        finally:
            self._quiet = False
        if notify:
            self.changed.emit()

    def _on_tags_changed(self) -> None:
        if not self._quiet:
            self.changed.emit()

    def ensure_tag(self, name: str) -> int:
        """The id of the tag ``name``, created (one undo step) if there is none."""
        tag_id = self.editor.project.tag_id(name) if self.editor.project else None
        return self.editor.create_tag(name) if tag_id is None else tag_id

    def label(self, sample_ids: np.ndarray, name: str, classes: Sequence[str]) -> int:
        """Give ``sample_ids`` the class ``name``: its tag on, the other classes' tags and
        :data:`TO_LABEL_TAG` off, as one undo step. Returns how many samples changed."""
        project = self.editor.project
        ids = as_ids(sample_ids)
        if project is None or not len(ids):
            return 0
        drop = [other for other in (*classes, TO_LABEL_TAG) if other != name]
        drop_ids = [tag_id for tag_id in map(project.tag_id, drop) if tag_id is not None]
        own = project.tag_id(name)
        missing = ids if own is None else np.setdiff1d(ids, tagged_ids(project, own))
        moving = [np.intersect1d(ids, tagged_ids(project, tag_id)) for tag_id in drop_ids]
        changed = np.union1d(missing, np.concatenate([np.zeros(0, np.int64), *moving]))
        if not len(changed):
            return 0
        with self._one_change(), self._macro(f"Label {samples_text(len(ids))} {quoted(name)}"):
            class_id = self.ensure_tag(name)
            for tag_id, members in zip(drop_ids, moving, strict=True):
                if len(members):
                    self.editor.unassign(tag_id, members)
            self.editor.assign(class_id, ids)
        return len(changed)

    def queue(self, sample_ids: np.ndarray) -> int:
        """Tag ``sample_ids`` :data:`TO_LABEL_TAG` (one undo step); returns how many were new."""
        project = self.editor.project
        ids = as_ids(sample_ids)
        if project is None or not len(ids):
            return 0
        tag_id = project.tag_id(TO_LABEL_TAG)
        new = ids if tag_id is None else np.setdiff1d(ids, tagged_ids(project, tag_id))
        if not len(new):
            return 0
        with (
            self._one_change(),
            self._macro(f"Tag {samples_text(len(new))} {quoted(TO_LABEL_TAG)}"),
        ):
            self.editor.assign(self.ensure_tag(TO_LABEL_TAG), new)
        return len(new)

    @contextmanager
    def _macro(self, text: str) -> Iterator[None]:
        self.undo_stack.beginMacro(text)
        try:
            yield
        finally:
            self.undo_stack.endMacro()
