"""One editor widget per kind of TrainConfig field: choices, ints, floats, auto floats, pairs.

Every editor has ``value()``, ``set_value(value)`` and a ``changed`` signal; auto-capable editors
also show what "auto" stands for (``set_auto``), e.g. the chosen method's learning rate.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from app.core.ranges import Range
from app.ui.training.validation import format_pairs, parse_pairs

AUTO = "auto"
INT_MAX = 2**31 - 1
FLOAT_MAX = 1e9
DECIMALS = 12
ANY = Range()


class FieldEditor(QWidget):
    """Base of the editors: a value, a change signal, and an optional "auto" description."""

    changed = Signal()

    def value(self) -> Any:
        raise NotImplementedError

    def set_value(self, value: Any) -> None:
        raise NotImplementedError

    def set_auto(self, value: Any) -> None:
        """Show what "auto" currently means (no-op for editors without an auto state)."""

    @staticmethod
    def _bare(layout: QHBoxLayout) -> QHBoxLayout:
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        return layout


class ChoiceEditor(FieldEditor):
    """A combo box of ``(label, value)`` items; an "auto" item reads "auto (<what it means>)"."""

    def __init__(self, items: list[tuple[str, str]], editable: bool = False) -> None:
        super().__init__()
        self.combo = QComboBox()
        self.combo.setEditable(editable)
        for label, value in items:
            self.combo.addItem(label, value)
        self._bare(QHBoxLayout(self)).addWidget(self.combo)
        self.combo.currentIndexChanged.connect(self.changed)
        if editable:
            self.combo.editTextChanged.connect(self.changed)

    def value(self) -> str:
        index = self.combo.currentIndex()
        if self.combo.isEditable():
            text = self.combo.currentText().strip()
            if index >= 0 and text == self.combo.itemText(index):
                return self.combo.itemData(index)
            return text
        return self.combo.itemData(index)

    def set_value(self, value: str) -> None:
        index = self.combo.findData(value)
        if index < 0:
            if self.combo.isEditable():
                self.combo.setEditText(value)
                return
            self.combo.addItem(f"{value} (not available here)", value)
            index = self.combo.count() - 1
        self.combo.setCurrentIndex(index)

    def set_auto(self, value: Any) -> None:
        index = self.combo.findData(AUTO)
        if index >= 0:
            self.combo.setItemText(index, f"{AUTO} ({value})")


class IntEditor(FieldEditor):
    """A spin box limited to the field's range."""

    def __init__(self, limits: Range = ANY) -> None:
        super().__init__()
        self.spin = QSpinBox()
        low, high = limits.clamp_bounds(1)
        self.spin.setRange(
            -INT_MAX if low is None else math.ceil(low),
            INT_MAX if high is None else math.floor(min(high, INT_MAX)),
        )
        self.spin.setAccelerated(True)
        self._bare(QHBoxLayout(self)).addWidget(self.spin)
        self.spin.valueChanged.connect(self.changed)

    def value(self) -> int:
        return self.spin.value()

    def set_value(self, value: int) -> None:
        self.spin.setValue(value)


class FloatSpinBox(QDoubleSpinBox):
    """A double spin box within a field's range that shows ``0.0005`` or ``1e-06`` rather than
    fixed decimals; it accepts only typed values inside the range (never NaN or infinity)."""

    def __init__(self, limits: Range = ANY) -> None:
        super().__init__()
        self.limits = limits
        self.setDecimals(DECIMALS)
        low, high = limits.clamp_bounds(10.0**-DECIMALS)
        self.setRange(-FLOAT_MAX if low is None else low, FLOAT_MAX if high is None else high)
        self.setStepType(QAbstractSpinBox.StepType.AdaptiveDecimalStepType)

    def textFromValue(self, value: float) -> str:
        return f"{value:.8g}"

    def valueFromText(self, text: str) -> float:
        try:
            return float(text)
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> object:
        stripped = text.strip()
        try:
            number = float(stripped)
        except ValueError:
            partial = stripped in ("", "-", ".") or stripped.lower().endswith(("e", "e-", "e+"))
            state = QValidator.State.Intermediate if partial else QValidator.State.Invalid
            return state, text, pos
        inside = self.limits.contains(number) and self.minimum() <= number <= self.maximum()
        return (QValidator.State.Acceptable if inside else QValidator.State.Invalid), text, pos


class FloatEditor(FieldEditor):
    def __init__(self, limits: Range = ANY) -> None:
        super().__init__()
        self.spin = FloatSpinBox(limits)
        self._bare(QHBoxLayout(self)).addWidget(self.spin)
        self.spin.valueChanged.connect(self.changed)

    def value(self) -> float:
        return self.spin.value()

    def set_value(self, value: float) -> None:
        self.spin.setValue(value)


class AutoFloatEditor(FieldEditor):
    """A float that may be None: "auto" ticked shows the method's value, greyed out."""

    def __init__(self, limits: Range = ANY) -> None:
        super().__init__()
        self.auto = QCheckBox(AUTO)
        self.auto.setToolTip("Use the method's default, shown greyed out")
        self.spin = FloatSpinBox(limits)
        layout = self._bare(QHBoxLayout(self))
        layout.addWidget(self.auto)
        layout.addWidget(self.spin, 1)
        self._auto_value = 0.0
        self.auto.toggled.connect(self._on_auto)
        self.spin.valueChanged.connect(self.changed)
        self.auto.setChecked(True)

    def _on_auto(self, auto: bool) -> None:
        self.spin.setEnabled(not auto)
        if auto:
            self.spin.setValue(self._auto_value)
        self.changed.emit()

    def value(self) -> float | None:
        return None if self.auto.isChecked() else self.spin.value()

    def set_value(self, value: float | None) -> None:
        self.auto.setChecked(value is None)
        if value is not None:
            self.spin.setValue(value)

    def set_auto(self, value: Any) -> None:
        self._auto_value = float(value)
        if self.auto.isChecked():
            self.spin.setValue(self._auto_value)

    def shown(self) -> float:
        """The number on screen (the auto value while "auto" is ticked)."""
        return self.spin.value()


class TextEditor(FieldEditor):
    def __init__(self) -> None:
        super().__init__()
        self.edit = QLineEdit()
        self._bare(QHBoxLayout(self)).addWidget(self.edit)
        self.edit.textChanged.connect(self.changed)

    def value(self) -> str:
        return self.edit.text().strip()

    def set_value(self, value: str) -> None:
        self.edit.setText(value)


class PairsEditor(FieldEditor):
    """``key=value, key=value`` for a dict of numbers; the placeholder shows the defaults."""

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what
        self.edit = QLineEdit()
        self.edit.setClearButtonEnabled(True)
        self._bare(QHBoxLayout(self)).addWidget(self.edit)
        self.edit.textChanged.connect(self.changed)

    def value(self) -> dict[str, float]:
        """The pairs entered; raises SieveError naming the bad one."""
        return parse_pairs(self.edit.text(), self.what)

    def set_value(self, value: dict[str, float]) -> None:
        self.edit.setText(format_pairs(value))

    def set_auto(self, value: Any) -> None:
        self.edit.setPlaceholderText(str(value))
        self.edit.setToolTip(f"Defaults: {value}" if value else "")
