"""Editable strategy rows: a kind, what it refers to (a tag or a score) and a strength each.

A row turns into one strategy entry of :class:`app.core.selection.spec.SelectSpec` and back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core.errors import SieveError
from app.ui.compact import compact

# (shown text, row kind, tooltip)
KINDS: tuple[tuple[str, str, str], ...] = (
    ("Diversity", "diversity", "Far from every other pick (k-center greedy)"),
    ("Typicality", "typicality", "In dense regions: like many other samples"),
    ("Similar to selection", "similar_selection", "Like the samples selected now"),
    ("Similar to tag", "similar_tag", "Like the samples with a tag"),
    ("Weight by score", "weight", "High values of a stored score first"),
    ("Random", "random", "A random preference (seeded)"),
)
NEEDS_TARGET = {"similar_tag": "tag", "weight": "score"}


class StrategyRow(QWidget):
    """One strategy: kind, target (tag or score, when the kind needs one), strength, remove."""

    edited = Signal()
    remove_requested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = compact(QComboBox())
        for text, kind, tip in KINDS:
            self.kind.addItem(text, kind)
            self.kind.setItemData(self.kind.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.target = compact(QComboBox(), 6)
        self.target.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.strength = QDoubleSpinBox()
        self.strength.setRange(-10.0, 10.0)
        self.strength.setSingleStep(0.5)
        self.strength.setDecimals(1)
        self.strength.setValue(1.0)
        self.strength.setToolTip(
            "Strength: the exponent of this strategy's score; negative prefers the opposite, "
            "0 switches it off"
        )
        self.remove = QToolButton(text="\u2715", toolTip="Remove this strategy")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.kind, 2)
        layout.addWidget(self.target, 2)
        layout.addWidget(self.strength)
        layout.addWidget(self.remove)
        self._tags: list[str] = []
        self._scores: list[str] = []
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.target.currentIndexChanged.connect(self.edited)
        self.strength.valueChanged.connect(self.edited)
        self.remove.clicked.connect(lambda: self.remove_requested.emit(self))
        self._kind_changed()

    def row_kind(self) -> str:
        return self.kind.currentData()

    def set_choices(self, tags: Sequence[str], scores: Sequence[str]) -> None:
        """The tags and score keys a row may refer to; keeps the current one when still there."""
        self._tags, self._scores = list(tags), list(scores)
        self._fill_targets(self.target.currentText())

    def entry(self, selected: np.ndarray) -> dict[str, Any]:
        """The strategy entry (``selected``: the sample ids a "similar to selection" row uses)."""
        kind, strength = self.row_kind(), float(self.strength.value())
        if kind == "random":
            return {"kind": "random", "strength": strength}
        if kind in ("diversity", "typicality"):
            return {"kind": kind, "strength": strength}
        if kind == "similar_selection":
            if not len(selected):
                raise SieveError("select some samples first (similar to selection)")
            return {"kind": "similarity", "samples": selected.tolist(), "strength": strength}
        target = self.target.currentData()
        if target is None:
            raise SieveError(
                f"choose which {NEEDS_TARGET[kind]} the {self.kind.currentText()!r} row uses"
            )
        if kind == "similar_tag":
            return {"kind": "similarity", "query": f"tag:{target}", "strength": strength}
        return {"kind": "weight", "score": target, "strength": strength}

    def set_entry(self, entry: dict[str, Any]) -> None:
        """Show a strategy entry (as in a preset or a saved selection's strategy)."""
        kind, target = entry.get("kind", "diversity"), None
        if kind == "similarity":
            query = str(entry.get("query", ""))
            kind = "similar_tag" if query.startswith("tag:") else "similar_selection"
            target = query.partition(":")[2] or None
        elif kind == "weight":
            target = entry.get("score")
        with QSignalBlocker(self.kind), QSignalBlocker(self.strength):
            self.kind.setCurrentIndex(max(0, self.kind.findData(kind)))
            self.strength.setValue(float(entry.get("strength", 1.0)))
        self._kind_changed(emit=False)
        if target is not None:
            with QSignalBlocker(self.target):
                self.target.setCurrentIndex(max(0, self.target.findData(target)))

    def _kind_changed(self, *_: object, emit: bool = True) -> None:
        self._fill_targets(None)
        self.strength.setEnabled(self.row_kind() != "random")
        if emit:
            self.edited.emit()

    def _fill_targets(self, keep: str | None) -> None:
        needs = NEEDS_TARGET.get(self.row_kind())
        names = self._tags if needs == "tag" else self._scores if needs == "score" else []
        with QSignalBlocker(self.target):
            self.target.clear()
            for name in names:
                self.target.addItem(name, name)
            if needs and not names:
                self.target.addItem(f"no {needs}s yet", None)
            if keep is not None and self.target.findData(keep) >= 0:
                self.target.setCurrentIndex(self.target.findData(keep))
        self.target.setVisible(needs is not None)


class StrategyList(QWidget):
    """The rows plus an "Add strategy" button; ``edited`` on any change a user makes."""

    edited = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[StrategyRow] = []
        self._tags: list[str] = []
        self._scores: list[str] = []
        self._rows_layout = QVBoxLayout()
        self._rows_layout.setContentsMargins(0, 0, 0, 0)
        self._rows_layout.setSpacing(2)
        self.add_button = QPushButton("+ Add strategy")
        self.add_button.setToolTip("Combine another strategy with these (their scores multiply)")
        self.add_button.clicked.connect(self._add_clicked)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self._rows_layout)
        layout.addWidget(self.add_button)

    def set_choices(self, tags: Sequence[str], scores: Sequence[str]) -> None:
        self._tags, self._scores = list(tags), list(scores)
        for row in self.rows:
            row.set_choices(tags, scores)

    def entries(self, selected: np.ndarray) -> list[dict[str, Any]]:
        return [row.entry(selected) for row in self.rows]

    def set_entries(self, entries: Sequence[dict[str, Any]]) -> None:
        """Replace the rows by ``entries`` (without emitting ``edited``)."""
        for row in list(self.rows):
            self._drop(row)
        for entry in entries:
            self.add_row().set_entry(entry)

    def add_row(self) -> StrategyRow:
        row = StrategyRow(self)
        row.set_choices(self._tags, self._scores)
        row.edited.connect(self.edited)
        row.remove_requested.connect(self._remove_clicked)
        self.rows.append(row)
        self._rows_layout.addWidget(row)
        return row

    def _add_clicked(self) -> None:
        self.add_row()
        self.edited.emit()

    def _remove_clicked(self, row: StrategyRow) -> None:
        self._drop(row)
        self.edited.emit()

    def _drop(self, row: StrategyRow) -> None:
        self.rows.remove(row)
        self._rows_layout.removeWidget(row)
        row.setParent(None)
        row.deleteLater()
