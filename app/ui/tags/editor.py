"""TagEditor: checks a tag edit, pushes it as an undoable command and says when tags changed.

Writes go through a :class:`WriteQueue`, so an edit made while a job writes to the project never
freezes the window: it lands a moment later, in order, and ``tags_changed`` follows it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QColor, QUndoStack

from app.core.errors import SieveError
from app.core.store.project import Project, Tag
from app.engine.writes import WriteQueue
from app.gui_model.state import as_ids
from app.ui.tags.commands import (
    AssignTagCommand,
    CreateTagCommand,
    DeleteTagCommand,
    RecolorTagCommand,
    RenameTagCommand,
    UnassignTagCommand,
    quoted,
    samples_text,
    tagged_ids,
)

# Mid-tone colours (Tableau 10 minus grey) that read on light and dark backgrounds alike.
PALETTE: tuple[str, ...] = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
)


class TagEditor(QObject):
    """Edits the tags of one project through ``undo_stack``; bad input raises SieveError."""

    tags_changed = Signal()
    failed = Signal(str)

    def __init__(self, undo_stack: QUndoStack, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.undo_stack = undo_stack
        self.writes = WriteQueue(parent=self)
        self.writes.failed.connect(self.failed)
        self._project: Project | None = None
        self._last_id = 0
        self._unlanded: dict[int, Tag] = {}

    @property
    def project(self) -> Project | None:
        return self._project

    def set_project(self, project: Project | None) -> None:
        """Edit ``project`` from now on (the caller owns and closes it).

        Edits still waiting for the old project's lock are written first.
        """
        if not self.writes.flush():
            self.failed.emit("some tag edits could not be saved: the project stayed locked")
        self._project = project
        self._last_id = 0
        self._unlanded.clear()
        self.tags_changed.emit()

    # ---------------------------------------------------------------- reading
    def tags(self) -> list[Tag]:
        """Tags in creation order, so number keys stay put when a tag is renamed."""
        if self._project is None:
            return []
        return sorted(self._project.tags(), key=lambda tag: tag.id)

    def tag(self, tag_id: int) -> Tag:
        tag = self._open().tag(tag_id) or self._unlanded.get(tag_id)
        if tag is None:
            raise SieveError(f"there is no tag with id {tag_id}")
        return tag

    def next_color(self) -> str:
        """The first palette colour no tag uses yet, else the palette cycled."""
        tags = self.tags()
        used = {tag.color.lower() for tag in tags}
        free = [color for color in PALETTE if color not in used]
        return free[0] if free else PALETTE[len(tags) % len(PALETTE)]

    def has_all(self, tag_id: int, sample_ids: Iterable[int] | np.ndarray) -> bool:
        """Whether every one of ``sample_ids`` (at least one) carries the tag."""
        ids = as_ids(sample_ids)
        tagged = tagged_ids(self._open(), tag_id)
        return len(ids) > 0 and bool(np.isin(ids, tagged, assume_unique=True).all())

    # ---------------------------------------------------------------- editing
    def create_tag(
        self,
        name: str,
        color: str | None = None,
        sample_ids: Iterable[int] | np.ndarray | None = None,
    ) -> int:
        """Create a tag (on ``sample_ids`` too, as one undo step); return its id."""
        project = self._open()
        name = self._free_name(name)
        self._last_id = max(project.next_tag_id(), self._last_id + 1)
        tag = Tag(self._last_id, name, _color(color or self.next_color()), 0)
        self._unlanded[tag.id] = tag
        command = CreateTagCommand(project, self.writes, self._landed(tag.id), tag)
        ids = None if sample_ids is None else as_ids(sample_ids)
        if ids is None or len(ids) == 0:
            self.undo_stack.push(command)
            return tag.id
        self.undo_stack.beginMacro(f"New tag {quoted(name)} on {samples_text(len(ids))}")
        try:
            self.undo_stack.push(command)
            self.assign(tag.id, ids)
        finally:
            self.undo_stack.endMacro()
        return tag.id

    def rename_tag(self, tag_id: int, name: str) -> bool:
        """Rename a tag; False when the name is unchanged."""
        tag = self.tag(tag_id)
        if name.strip() == tag.name:
            return False
        name = self._free_name(name)
        self.undo_stack.push(RenameTagCommand(self._open(), self.writes, self._notify, tag, name))
        return True

    def recolor_tag(self, tag_id: int, color: str) -> bool:
        """Give a tag a colour (any form QColor reads); False when it is unchanged."""
        tag = self.tag(tag_id)
        color = _color(color)
        if color == tag.color.lower():
            return False
        self.undo_stack.push(RecolorTagCommand(self._open(), self.writes, self._notify, tag, color))
        return True

    def delete_tag(self, tag_id: int) -> None:
        command = DeleteTagCommand(self._open(), self.writes, self._notify, self.tag(tag_id))
        self.undo_stack.push(command)

    def assign(self, tag_id: int, sample_ids: Iterable[int] | np.ndarray) -> int:
        """Tag samples; return how many were newly tagged (no undo step when none)."""
        command = AssignTagCommand(
            self._open(), self.writes, self._notify, self.tag(tag_id), sample_ids
        )
        if len(command.changed):
            self.undo_stack.push(command)
        return len(command.changed)

    def unassign(self, tag_id: int, sample_ids: Iterable[int] | np.ndarray) -> int:
        """Untag samples; return how many lost the tag (no undo step when none)."""
        command = UnassignTagCommand(
            self._open(), self.writes, self._notify, self.tag(tag_id), sample_ids
        )
        if len(command.changed):
            self.undo_stack.push(command)
        return len(command.changed)

    def toggle(self, tag_id: int, sample_ids: Iterable[int] | np.ndarray) -> bool:
        """Untag the samples if all carry the tag, else tag them all; return the tag's new state."""
        ids = as_ids(sample_ids)
        if self.has_all(tag_id, ids):
            self.unassign(tag_id, ids)
            return False
        self.assign(tag_id, ids)
        return True

    # ---------------------------------------------------------------- helpers
    def _open(self) -> Project:
        if self._project is None:
            raise SieveError("open a project first")
        return self._project

    def _free_name(self, name: str) -> str:
        name = name.strip()
        if not name:
            raise SieveError("a tag needs a name")
        waiting = any(tag.name == name for tag in self._unlanded.values())
        if waiting or self._open().tag_id(name) is not None:
            raise SieveError(f"a tag named {quoted(name)} exists already")
        return name

    def _notify(self) -> None:
        self.tags_changed.emit()

    def _landed(self, tag_id: int) -> Callable[[], None]:
        """After a create's write: the tag is read from the store from now on."""

        def notify() -> None:
            self._unlanded.pop(tag_id, None)
            self._notify()

        return notify


def _color(color: str) -> str:
    qcolor = QColor(color)
    if not qcolor.isValid():
        raise SieveError(f"not a colour: {color!r}")
    return qcolor.name()
