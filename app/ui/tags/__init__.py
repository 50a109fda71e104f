"""Tags: the tag dock, its undoable edits and the "Assign tag" menu."""

from app.ui.tags.editor import PALETTE, TagEditor
from app.ui.tags.panel import TagPanel

__all__ = ["PALETTE", "TagEditor", "TagPanel"]
