"""Widgets that fit a narrow dock: combo boxes sized by a few characters, not their longest item."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox

COMBO_CHARS = 10


def compact(combo: QComboBox, chars: int = COMBO_CHARS) -> QComboBox:
    """Let ``combo`` shrink to about ``chars`` characters (its popup still shows whole items)."""
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(chars)
    return combo
