"""Undoable tag edits: each command's write goes through a :class:`WriteQueue` and reverts exactly.

A write lands at once unless another writer (a job) holds the database; then it lands a moment
later, in order. So what a command must take back (the samples it tagged, a deleted tag's
members, a name it replaced) is read when its write lands, not when it is made. Commands know
their tag by id, so a later command still finds a tag that an earlier one renamed, or that an
undo re-created (a created tag's id is chosen up front; an undone delete keeps it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
from PySide6.QtGui import QUndoCommand

from app.core.store.project import Project, Tag
from app.engine.writes import WriteQueue
from app.gui_model.state import as_ids

Notify = Callable[[], None]


def quoted(name: str) -> str:
    return f"\u201c{name}\u201d"


def samples_text(count: int) -> str:
    return f"{count:,} sample" + ("" if count == 1 else "s")


def tagged_ids(project: Project, tag_id: int) -> np.ndarray:
    """The sorted ids of the samples carrying the tag."""
    return np.asarray(project.tagged(tag_id), dtype=np.int64)


class TagCommand(QUndoCommand):
    """A tag edit on ``project`` through ``writes``; ``notify`` runs after every write lands.

    Subclasses say what the edit does in ``apply`` and how to take it back in ``revert``.
    """

    apply: Callable[[], None]
    revert: Callable[[], None]

    def __init__(self, project: Project, writes: WriteQueue, notify: Notify, text: str) -> None:
        super().__init__(text)
        self.project = project
        self.writes = writes
        self._notify = notify

    def redo(self) -> None:
        self.writes.submit(self.project.db, self.apply, self._notify)

    def undo(self) -> None:
        self.writes.submit(self.project.db, self.revert, self._notify)


class CreateTagCommand(TagCommand):
    """Create a tag with an id chosen up front, so later edits can name it before it lands."""

    def __init__(self, project: Project, writes: WriteQueue, notify: Notify, tag: Tag) -> None:
        super().__init__(project, writes, notify, f"New tag {quoted(tag.name)}")
        self.tag = tag

    @property
    def tag_id(self) -> int:
        return self.tag.id

    def apply(self) -> None:
        self.project.create_tag(self.tag.name, self.tag.color, tag_id=self.tag.id)

    def revert(self) -> None:
        self.project.delete_tag(self.tag.id)


class RenameTagCommand(TagCommand):
    """Rename a tag; undo gives back the name it had when the rename landed."""

    def __init__(
        self, project: Project, writes: WriteQueue, notify: Notify, tag: Tag, name: str
    ) -> None:
        text = f"Rename tag {quoted(tag.name)} to {quoted(name)}"
        super().__init__(project, writes, notify, text)
        self.tag_id = tag.id
        self.old = tag.name
        self.new = name

    def apply(self) -> None:
        tag = self.project.tag(self.tag_id)
        if tag is not None:
            self.old = tag.name
        self.project.rename_tag(self.tag_id, self.new)

    def revert(self) -> None:
        self.project.rename_tag(self.tag_id, self.old)


class RecolorTagCommand(TagCommand):
    """Colour a tag; undo gives back the colour it had when the change landed."""

    def __init__(
        self, project: Project, writes: WriteQueue, notify: Notify, tag: Tag, color: str
    ) -> None:
        super().__init__(project, writes, notify, f"Colour tag {quoted(tag.name)}")
        self.tag_id = tag.id
        self.old = tag.color
        self.new = color

    def apply(self) -> None:
        tag = self.project.tag(self.tag_id)
        if tag is not None:
            self.old = tag.color
        self.project.set_tag_color(self.tag_id, self.new)

    def revert(self) -> None:
        self.project.set_tag_color(self.tag_id, self.old)


class DeleteTagCommand(TagCommand):
    """Delete a tag; undo restores its id, name, colour and exactly its members."""

    def __init__(self, project: Project, writes: WriteQueue, notify: Notify, tag: Tag) -> None:
        super().__init__(project, writes, notify, f"Delete tag {quoted(tag.name)}")
        self.tag = tag
        self.members = np.zeros(0, dtype=np.int64)

    def apply(self) -> None:
        tag = self.project.tag(self.tag.id)
        if tag is not None:
            self.tag, self.members = tag, tagged_ids(self.project, tag.id)
        self.project.delete_tag(self.tag.id)

    def revert(self) -> None:
        self.project.restore_tag(self.tag.id, self.tag.name, self.tag.color, self.members)


class _MembershipCommand(TagCommand):
    """Tag (``adds``) or untag samples; undo takes back exactly ``changed``.

    ``changed`` is read when the command is made; when edits were queued then, it is read again
    when its write first lands, after every edit queued before it.
    """

    adds = True
    verb = "Tag"

    def __init__(
        self,
        project: Project,
        writes: WriteQueue,
        notify: Notify,
        tag: Tag,
        sample_ids: Iterable[int] | np.ndarray,
    ) -> None:
        self.tag_id = tag.id
        self.ids = as_ids(sample_ids)
        self.changed = self._find_changed(project)
        text = f"{self.verb} {samples_text(len(self.changed))} {quoted(tag.name)}"
        super().__init__(project, writes, notify, text)
        self._found = writes.pending == 0  # nothing queued: the store is as it will be written

    def _find_changed(self, project: Project) -> np.ndarray:
        tagged = tagged_ids(project, self.tag_id)
        if self.adds:
            return np.setdiff1d(self.ids, tagged, assume_unique=True)
        return np.intersect1d(self.ids, tagged, assume_unique=True)

    def _write(self, add: bool, sample_ids: np.ndarray) -> None:
        if add:
            self.project.add_tag(self.tag_id, sample_ids.tolist())
        else:
            self.project.remove_tag(self.tag_id, sample_ids.tolist())

    def apply(self) -> None:
        if not self._found:
            self.changed = self._find_changed(self.project)
            self._found = True
        self._write(self.adds, self.changed)

    def revert(self) -> None:
        self._write(not self.adds, self.changed)


class AssignTagCommand(_MembershipCommand):
    """Tag samples; undo untags only those that did not carry the tag before."""


class UnassignTagCommand(_MembershipCommand):
    """Untag samples; undo tags again only those that carried the tag before."""

    adds = False
    verb = "Untag"
