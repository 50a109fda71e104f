"""ClassList: the label source, one button per class with its key and count, and the totals."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core.active.labels import ClassCounts
from app.core.jobs import foreground
from app.ui.active.keys import NUMBER_KEYS
from app.ui.tags.commands import quoted
from app.ui.tags.menu import swatch_icon

FOLDERS, TAGS = 0, 1


ROWS_PER_TURN = 8  # class rows made per turn of the event loop (30 at once: 20-36 ms of its time)
MAX_ROWS = 30  # classes listed at most (an ImageNet layout has 1,000 folders; 2,000 widgets
# laid out over and over stall the window for seconds when the project opens)


class ClassList(QWidget):
    """Shows classes; says what the user asked for through signals, decides nothing itself."""

    label_clicked = Signal(int)
    remove_clicked = Signal(str)
    add_clicked = Signal()
    source_chosen = Signal(bool)  # True: folder names

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source = QComboBox()
        self.source.addItem("Folder names", True)
        self.source.addItem("Tags (classes you define)", False)
        self.source.setToolTip("Where the labels come from")
        self.source.activated.connect(lambda i: self.source_chosen.emit(self.source.itemData(i)))
        self.add_button = QPushButton("Add class\u2026")
        self.add_button.setToolTip("A class is a tag: a new one, or one you have already")
        self.add_button.clicked.connect(self.add_clicked)
        self.grid = QGridLayout()
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setHorizontalSpacing(6)
        self.grid.setVerticalSpacing(3)
        self.grid.setColumnStretch(0, 1)
        self.more = QLabel()
        self.more.setEnabled(False)
        self.more.setVisible(False)
        self.totals = QLabel()
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.hint.setEnabled(False)
        self._icons: dict[str, QIcon] = {}  # a swatch per colour, drawn once
        self.buttons: list[QToolButton] = []
        self.count_labels: list[QLabel] = []
        self._shape: tuple[Any, ...] = ()  # (from folders, names, colours) of the rows
        self._shown = (ClassCounts((), (), 0, 0), False, 0)  # (counts, from folders, selected)
        self._building = 0  # bumped when other classes are shown: stale turns stop

        source_row = QHBoxLayout()
        source_row.addWidget(QLabel("Labels from"))
        source_row.addWidget(self.source, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(source_row)
        layout.addLayout(self.grid)
        layout.addWidget(self.more)
        layout.addWidget(self.add_button)
        layout.addWidget(self.totals)
        layout.addWidget(self.hint)

    def show_classes(
        self,
        counts: ClassCounts,
        from_folders: bool,
        folders_available: bool,
        colours: Sequence[str],
        selected: int,
    ) -> None:
        """Show ``counts``; class buttons label the ``selected`` samples (tag classes only).

        New rows are made :data:`ROWS_PER_TURN` at a time, one turn of the event loop each.
        """
        self.source.setCurrentIndex(FOLDERS if from_folders else TAGS)
        self.source.model().item(FOLDERS).setEnabled(folders_available or from_folders)
        self._shown = (counts, from_folders, selected)
        shape = (from_folders, counts.names[:MAX_ROWS], tuple(colours[:MAX_ROWS]))
        if shape != self._shape:
            self._shape = shape
            self._remove_rows()
            self._building += 1
            self._add_rows(self._building)
        else:
            self._fill_rows(0)
        hidden = len(counts.names) - len(shape[1])
        self.more.setText(f"\u2026 and {hidden:,} more classes" if hidden > 0 else "")
        self.more.setVisible(hidden > 0)
        self.add_button.setVisible(not from_folders)
        self.totals.setText(
            f"{counts.labelled:,} labelled \u00b7 {counts.unlabelled:,} unlabelled"
            + (f" \u00b7 {selected:,} selected" if selected else "")
        )
        self.hint.setText(self._hint(counts, from_folders, selected))
        self.hint.setVisible(bool(self.hint.text()))

    @property
    def building(self) -> bool:
        """Whether rows of the classes shown are still to be made."""
        return len(self.buttons) < len(self._shape[1]) if self._shape else False

    def _hint(self, counts: ClassCounts, from_folders: bool, selected: int) -> str:
        if from_folders:
            return "Folder names label the samples. Choose Tags to label by hand."
        if not counts.names:
            return "Add a class for each kind of sample; then select samples and press its key."
        if not selected:
            return "Select samples in the grid or on the map, then press a class key (1\u20139)."
        return ""

    def _swatch(self, colour: str) -> QIcon:
        if colour not in self._icons:
            self._icons[colour] = swatch_icon(colour)
        return self._icons[colour]

    def _remove_rows(self) -> None:
        while self.grid.count():
            item = self.grid.takeAt(0)
            if item.widget() is not None:
                item.widget().hide()  # deleteLater waits for the event loop
                item.widget().deleteLater()
        self.buttons, self.count_labels = [], []

    def _add_rows(self, building: int) -> None:
        """Make the next rows of the classes shown, then come back in a turn of its own."""
        if building != self._building:  # other classes are shown since
            return
        from_folders, names, colours = self._shape
        first = len(self.buttons)
        with foreground():  # widgets made: the window's background readers wait
            for i in range(first, min(len(names), first + ROWS_PER_TURN)):
                self._add_row(i, names[i], colours[i], from_folders)
        self._fill_rows(first)
        if self.building:
            QTimer.singleShot(0, self, partial(self._add_rows, building))

    def _add_row(self, i: int, name: str, colour: str, from_folders: bool) -> None:
        key = f"{i + 1}   " if i < NUMBER_KEYS and not from_folders else ""
        button = QToolButton()
        button.setIcon(self._swatch(colour))
        button.setText(f"{key}{name}")
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        button.clicked.connect(lambda *_, i=i: self.label_clicked.emit(i))
        count = QLabel()
        count.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        count.setMinimumWidth(count.fontMetrics().horizontalAdvance("888,888"))
        self.grid.addWidget(button, i, 0)
        self.grid.addWidget(count, i, 1)
        if not from_folders:
            remove = QToolButton()
            remove.setText("\u2715")
            remove.setAutoRaise(True)
            remove.setToolTip(f"Stop using {quoted(name)} as a class (the tag stays)")
            remove.clicked.connect(lambda *_, name=name: self.remove_clicked.emit(name))
            self.grid.addWidget(remove, i, 2)
        self.buttons.append(button)
        self.count_labels.append(count)

    def _fill_rows(self, first: int) -> None:
        """Counts, tooltips and whether they label, for the rows from ``first`` on."""
        counts, from_folders, selected = self._shown
        for i in range(first, len(self.buttons)):
            button = self.buttons[i]
            self.count_labels[i].setText(f"{counts.counts[i]:,}")
            button.setEnabled(not from_folders and selected > 0)
            if not from_folders:
                key = f" (key {i + 1})" if i < NUMBER_KEYS else ""
                what = f"the {selected:,} selected samples" if selected else "the selected samples"
                button.setToolTip(f"Label {what} {quoted(counts.names[i])}{key}")
