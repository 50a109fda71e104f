"""The "Assign tag" menu for the grid's context menu and the Edit menu."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QComboBox,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)

from app.ui.tags.model import key_hint

if TYPE_CHECKING:
    from app.ui.tags.panel import TagPanel

SWATCH_PX = 14


def is_text_input(widget: QWidget | None) -> bool:
    """Whether ``widget`` takes typed text (digits there must not toggle tags)."""
    if isinstance(widget, QComboBox):
        return widget.isEditable()
    return isinstance(widget, (QLineEdit, QTextEdit, QPlainTextEdit, QAbstractSpinBox))


def swatch_icon(color: str) -> QIcon:
    """A round colour swatch for menus."""
    pixmap = QPixmap(SWATCH_PX, SWATCH_PX)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QColor(color).darker(140))
    painter.setBrush(QColor(color))
    painter.drawEllipse(1, 1, SWATCH_PX - 2, SWATCH_PX - 2)
    painter.end()
    return QIcon(pixmap)


class TagMenu(QMenu):
    """One checkable entry per tag (checked: every selected sample has it), rebuilt on show.

    Choosing an entry toggles that tag on the selection, like its number key.
    """

    def __init__(self, panel: TagPanel, parent: QWidget | None = None) -> None:
        super().__init__("Assign &tag", parent)
        self.panel = panel
        self.aboutToShow.connect(self.rebuild)
        self.rebuild()

    def rebuild(self) -> None:
        self.clear()
        panel = self.panel
        if panel.project is None:
            self.addAction("No project open").setEnabled(False)
            return
        selected = panel.state.selected
        for row, tag in enumerate(panel.editor.tags()):
            key = key_hint(row)
            action = self.addAction(
                swatch_icon(tag.color), f"{tag.name}\t{key}" if key else tag.name
            )
            action.setCheckable(True)
            action.setChecked(len(selected) > 0 and panel.editor.has_all(tag.id, selected))
            action.setEnabled(len(selected) > 0)
            action.setData(tag.id)
            action.triggered.connect(lambda *_, tag_id=tag.id: panel.toggle_tag(tag_id))
        if not self.isEmpty():
            self.addSeparator()
        new = self.addAction("New tag from selection\u2026")
        new.setEnabled(len(selected) > 0)
        new.triggered.connect(lambda *_: panel.new_tag(on_selection=True))
