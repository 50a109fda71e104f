"""The tag list: a small model over the project's tags and a delegate that draws one row.

A row shows the number key that toggles the tag (1-9 for the first nine), a colour swatch, the
name and how many samples carry it. Editing a row's name renames the tag through the editor.
"""

from __future__ import annotations

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRect,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from app.core.errors import SieveError
from app.core.store.project import Tag
from app.ui.tags.editor import TagEditor

NUMBER_KEYS = 9
TagIdRole = Qt.ItemDataRole.UserRole + 1
CountRole = Qt.ItemDataRole.UserRole + 2
KeyRole = Qt.ItemDataRole.UserRole + 3
ColorRole = Qt.ItemDataRole.UserRole + 4

Index = QModelIndex | QPersistentModelIndex


def key_hint(row: int) -> str:
    """``"1"``..``"9"`` for the first nine rows, else ``""``."""
    return str(row + 1) if row < NUMBER_KEYS else ""


class TagListModel(QAbstractListModel):
    """The editor's tags in creation order; ``edit_failed(message)`` when a rename is refused."""

    edit_failed = Signal(str)

    def __init__(self, editor: TagEditor, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.editor = editor
        self._tags: list[Tag] = []
        editor.tags_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        """Re-read the tags; rows keep their place (and the view its selection) when ids do."""
        tags = self.editor.tags()
        if [tag.id for tag in tags] == [tag.id for tag in self._tags]:
            self._tags = tags
            if tags:
                self.dataChanged.emit(self.index(0), self.index(len(tags) - 1))
            return
        self.beginResetModel()
        self._tags = tags
        self.endResetModel()

    def tag_at(self, row: int) -> Tag | None:
        return self._tags[row] if 0 <= row < len(self._tags) else None

    def row_of(self, tag_id: int) -> int:
        return next((row for row, tag in enumerate(self._tags) if tag.id == tag_id), -1)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._tags)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        tag = self.tag_at(index.row()) if index.isValid() else None
        if tag is None:
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return tag.name
        if role == Qt.ItemDataRole.ToolTipRole:
            key = key_hint(index.row())
            hint = f" \u2014 press {key} to toggle it on the selection" if key else ""
            return f"{tag.name}: {tag.count:,} samples{hint}"
        values = {TagIdRole: tag.id, CountRole: tag.count, KeyRole: key_hint(index.row())}
        if role == ColorRole:
            return QColor(tag.color)
        return values.get(role)

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEditable

    def setData(self, index: Index, value: object, role: int = Qt.ItemDataRole.EditRole) -> bool:
        tag = self.tag_at(index.row()) if index.isValid() else None
        if tag is None or role != Qt.ItemDataRole.EditRole:
            return False
        try:
            return self.editor.rename_tag(tag.id, str(value))
        except SieveError as error:
            self.edit_failed.emit(str(error))
            return False


class TagDelegate(QStyledItemDelegate):
    """Paints ``[key] (swatch) name .... count``; the name editor sits over the name only."""

    PAD = 6
    KEY = 18
    SWATCH = 14

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        return QSize(160, max(26, option.fontMetrics.height() + 10))

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        style = opt.widget.style() if opt.widget is not None else None
        if style is not None:
            style.drawPrimitive(
                QStyle.PrimitiveElement.PE_PanelItemViewItem, opt, painter, opt.widget
            )
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        text = opt.palette.color(role)
        muted = QColor(text)
        muted.setAlphaF(0.6)
        rect = opt.rect
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        key = index.data(KeyRole)
        top = rect.center().y() - self.KEY // 2 + 1
        key_rect = QRect(rect.left() + self.PAD, top, self.KEY, self.KEY)
        if key:
            painter.setPen(muted)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(key_rect.adjusted(0, 0, -1, -1), 4, 4)
            painter.drawText(key_rect, Qt.AlignmentFlag.AlignCenter, key)
        swatch = QRect(
            key_rect.right() + self.PAD + 2,
            rect.center().y() - self.SWATCH // 2 + 1,
            self.SWATCH,
            self.SWATCH,
        )
        colour = index.data(ColorRole)
        painter.setPen(colour.darker(140))
        painter.setBrush(colour)
        painter.drawEllipse(swatch.adjusted(0, 0, -1, -1))
        count = f"{index.data(CountRole):,}"
        count_width = opt.fontMetrics.horizontalAdvance(count)
        count_rect = QRect(
            rect.right() - self.PAD - count_width, rect.top(), count_width, rect.height()
        )
        painter.setPen(muted)
        painter.drawText(
            count_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, count
        )
        name_rect = self._name_rect(rect)
        name_rect.setRight(count_rect.left() - self.PAD)
        name = opt.fontMetrics.elidedText(
            index.data(Qt.ItemDataRole.DisplayRole), Qt.TextElideMode.ElideRight, name_rect.width()
        )
        painter.setPen(text)
        painter.drawText(
            name_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, name
        )
        painter.restore()

    def updateEditorGeometry(
        self, editor: QWidget, option: QStyleOptionViewItem, index: Index
    ) -> None:
        editor.setGeometry(self._name_rect(option.rect).adjusted(-3, 2, 0, -2))

    def _name_rect(self, rect: QRect) -> QRect:
        left = rect.left() + 3 * self.PAD + self.KEY + self.SWATCH + 4
        return QRect(left, rect.top(), rect.right() - self.PAD - left, rect.height())
