"""Undoable tag edits: each command writes to the project store at once and reverts exactly.

Commands know their tag by id, so a later command in the stack still finds a tag that an earlier
one renamed, or that an undo re-created (a re-done create and an undone delete keep the tag's id).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
from PySide6.QtGui import QUndoCommand

from app.core.store.project import Project, Tag
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
    """A tag edit on ``project``; ``notify`` runs after every redo and undo.

    Subclasses say what the edit does in ``apply`` and how to take it back in ``revert``.
    """

    apply: Callable[[], None]
    revert: Callable[[], None]

    def __init__(self, project: Project, notify: Notify, text: str) -> None:
        super().__init__(text)
        self.project = project
        self._notify = notify

    def redo(self) -> None:
        self.apply()
        self._notify()

    def undo(self) -> None:
        self.revert()
        self._notify()


class CreateTagCommand(TagCommand):
    """Create a tag; a redo after an undo brings it back with the same id."""

    def __init__(self, project: Project, notify: Notify, name: str, color: str) -> None:
        super().__init__(project, notify, f"New tag {quoted(name)}")
        self.name = name
        self.color = color
        self.tag_id: int | None = None

    def apply(self) -> None:
        if self.tag_id is None:
            self.tag_id = self.project.create_tag(self.name, self.color)
        else:
            self.project.restore_tag(self.tag_id, self.name, self.color)

    def revert(self) -> None:
        assert self.tag_id is not None
        self.project.delete_tag(self.tag_id)


class RenameTagCommand(TagCommand):
    def __init__(self, project: Project, notify: Notify, tag: Tag, name: str) -> None:
        super().__init__(project, notify, f"Rename tag {quoted(tag.name)} to {quoted(name)}")
        self.tag_id = tag.id
        self.old = tag.name
        self.new = name

    def apply(self) -> None:
        self.project.rename_tag(self.tag_id, self.new)

    def revert(self) -> None:
        self.project.rename_tag(self.tag_id, self.old)


class RecolorTagCommand(TagCommand):
    def __init__(self, project: Project, notify: Notify, tag: Tag, color: str) -> None:
        super().__init__(project, notify, f"Colour tag {quoted(tag.name)}")
        self.tag_id = tag.id
        self.old = tag.color
        self.new = color

    def apply(self) -> None:
        self.project.set_tag_color(self.tag_id, self.new)

    def revert(self) -> None:
        self.project.set_tag_color(self.tag_id, self.old)


class DeleteTagCommand(TagCommand):
    """Delete a tag; undo restores its id, name, colour and exactly its members."""

    def __init__(self, project: Project, notify: Notify, tag: Tag) -> None:
        super().__init__(project, notify, f"Delete tag {quoted(tag.name)}")
        self.tag = tag
        self.members = tagged_ids(project, tag.id)

    def apply(self) -> None:
        self.project.delete_tag(self.tag.id)

    def revert(self) -> None:
        self.project.restore_tag(self.tag.id, self.tag.name, self.tag.color, self.members)


class AssignTagCommand(TagCommand):
    """Tag samples; undo untags only those that did not carry the tag before."""

    def __init__(
        self, project: Project, notify: Notify, tag: Tag, sample_ids: Iterable[int] | np.ndarray
    ) -> None:
        ids = as_ids(sample_ids)
        self.tag_id = tag.id
        self.changed = np.setdiff1d(ids, tagged_ids(project, tag.id), assume_unique=True)
        text = f"Tag {samples_text(len(self.changed))} {quoted(tag.name)}"
        super().__init__(project, notify, text)

    def apply(self) -> None:
        self.project.add_tag(self.tag_id, self.changed.tolist())

    def revert(self) -> None:
        self.project.remove_tag(self.tag_id, self.changed.tolist())


class UnassignTagCommand(TagCommand):
    """Untag samples; undo tags again only those that carried the tag before."""

    def __init__(
        self, project: Project, notify: Notify, tag: Tag, sample_ids: Iterable[int] | np.ndarray
    ) -> None:
        ids = as_ids(sample_ids)
        self.tag_id = tag.id
        self.changed = np.intersect1d(ids, tagged_ids(project, tag.id), assume_unique=True)
        text = f"Untag {samples_text(len(self.changed))} {quoted(tag.name)}"
        super().__init__(project, notify, text)

    def apply(self) -> None:
        self.project.remove_tag(self.tag_id, self.changed.tolist())

    def revert(self) -> None:
        self.project.add_tag(self.tag_id, self.changed.tolist())
