"""The compact bar above the grid: name text, label, folder, tag, selection, broken, sort, size.

Every control edits :attr:`AppState.filter` (``state.set_filter(state.filter.with_(...))``);
the bar shows the state's filter back when it changes elsewhere, without echoing it.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QSignalBlocker, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLineEdit,
    QSizePolicy,
    QSlider,
    QToolButton,
    QWidget,
)

from app.gui_model.state import AppState, Filter
from app.ui.browser.delegate import DEFAULT_SIZE, MAX_SIZE, MIN_SIZE

DEBOUNCE_MS = 150
TOP_LEVEL = "(top level)"
BROKEN_CHOICES = (("All samples", None), ("Usable only", False), ("Broken or missing", True))


MIN_COMBO_CHARS = 4
MAX_COMBO_WIDTH = 170


def _combo(tip: str) -> QComboBox:
    combo = QComboBox()
    combo.setToolTip(tip)
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(MIN_COMBO_CHARS)  # long label names must not widen the bar
    combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
    combo.setMaximumWidth(MAX_COMBO_WIDTH)
    return combo


def _fill(combo: QComboBox, first: str, items: Sequence[tuple[str, object]]) -> None:
    with QSignalBlocker(combo):
        combo.clear()
        combo.addItem(first, None)
        for text, data in items:
            combo.addItem(text, data)


def _choose(combo: QComboBox, data: object) -> None:
    with QSignalBlocker(combo):
        found = combo.findData(data) if data is not None else 0
        combo.setCurrentIndex(max(0, found))


class FilterBar(QWidget):
    """Filter and sort controls for one :class:`AppState`; ``size_changed`` for the slider."""

    size_changed = Signal(int)

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.text = QLineEdit(placeholderText="Filter by name…", clearButtonEnabled=True)
        self.text.setMinimumWidth(80)
        self.label = _combo("Show one label")
        self.folder = _combo("Show one top-level folder")
        self.tag = _combo("Show samples with this tag")
        self.selection = _combo("Show a saved selection")
        self.broken = _combo("Show broken samples, usable ones or both")
        for text, value in BROKEN_CHOICES:
            self.broken.addItem(text, value)
        self.sort = _combo("Sort by")
        self.descending = QToolButton(text="↓", checkable=True, toolTip="Descending order")
        self.size = QSlider(Qt.Orientation.Horizontal, toolTip="Thumbnail size")
        self.size.setRange(MIN_SIZE, MAX_SIZE)
        self.size.setSingleStep(16)
        self.size.setPageStep(32)
        self.size.setValue(DEFAULT_SIZE)
        self.size.setFixedWidth(80)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addWidget(self.text, 2)
        for widget in (self.label, self.folder, self.tag, self.selection, self.broken, self.sort):
            layout.addWidget(widget, 1)
        layout.addWidget(self.descending)
        layout.addWidget(self.size)
        self._debounce = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._debounce.timeout.connect(self._text_settled)
        self.text.textChanged.connect(self._debounce.start)
        self.label.currentIndexChanged.connect(self._combo_changed)
        self.folder.currentIndexChanged.connect(self._combo_changed)
        self.tag.currentIndexChanged.connect(self._combo_changed)
        self.selection.currentIndexChanged.connect(self._combo_changed)
        self.broken.currentIndexChanged.connect(self._combo_changed)
        self.sort.currentIndexChanged.connect(self._combo_changed)
        self.descending.toggled.connect(self._combo_changed)
        self.size.valueChanged.connect(self.size_changed)
        self._offered: dict[QComboBox, list[tuple[str, object]]] = {}
        self.set_choices([], [], [], [], [])

    def set_choices(
        self,
        labels: Sequence[str],
        folders: Sequence[str],
        tags: Sequence[str],
        selections: Sequence[str],
        score_keys: Sequence[str],
    ) -> None:
        """What the combos offer (after a project loads or its tags change)."""
        self._offer(self.label, "All labels", [(label, label) for label in labels])
        self._offer(self.folder, "All folders", [(f or TOP_LEVEL, f) for f in folders])
        self._offer(self.tag, "All tags", [(tag, tag) for tag in tags])
        self._offer(self.selection, "All (no saved selection)", [(s, s) for s in selections])
        self.selection.setVisible(bool(selections))
        sorts = [("Sort: name", "name"), ("Sort: label", "label")]
        _fill(self.sort, "", sorts + [(f"Sort: {key}", key) for key in score_keys])
        with QSignalBlocker(self.sort):
            self.sort.removeItem(0)
        self.show_filter(self.state.filter)

    def _offer(self, combo: QComboBox, first: str, items: list[tuple[str, object]]) -> None:
        """``first`` then ``items``. Items that only follow those offered are added at the end:
        while a folder is listed its folders and labels arrive in order, and refilling a
        thousand of them at each growth of the grid cost the GUI thread seconds at 1M files."""
        before = self._offered.get(combo)
        if before is not None and items[: len(before)] == before:
            with QSignalBlocker(combo):
                for text, data in items[len(before) :]:
                    combo.addItem(text, data)
        else:
            _fill(combo, first, items)
        self._offered[combo] = items

    def show_filter(self, flt: Filter) -> None:
        """Make the controls show ``flt`` (without editing the state)."""
        if self.text.text() != flt.text and not self._debounce.isActive():
            with QSignalBlocker(self.text):
                self.text.setText(flt.text)
        _choose(self.label, next(iter(flt.labels)) if len(flt.labels) == 1 else None)
        _choose(self.folder, flt.folder)
        _choose(self.tag, flt.tag)
        _choose(self.selection, flt.selection)
        with QSignalBlocker(self.broken):
            self.broken.setCurrentIndex([v for _, v in BROKEN_CHOICES].index(flt.broken))
        _choose(self.sort, flt.sort)
        with QSignalBlocker(self.descending):
            self.descending.setChecked(flt.descending)

    def set_size(self, px: int) -> None:
        with QSignalBlocker(self.size):
            self.size.setValue(px)

    def _text_settled(self) -> None:
        self.state.set_filter(self.state.filter.with_(text=self.text.text()))

    def _combo_changed(self, *_: object) -> None:
        label = self.label.currentData()
        self.state.set_filter(
            self.state.filter.with_(
                labels=frozenset() if label is None else frozenset({label}),
                folder=self.folder.currentData(),
                tag=self.tag.currentData(),
                selection=self.selection.currentData(),
                broken=self.broken.currentData(),
                sort=self.sort.currentData() or "name",
                descending=self.descending.isChecked(),
            )
        )
