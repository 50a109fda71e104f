"""NumberKeys: keys 1-9 pressed in the panel label the selection, ahead of window shortcuts."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QWidget

from app.ui.tags.menu import is_text_input

NUMBER_KEYS = 9


def number_of(event: QKeyEvent) -> int | None:
    """1..9 for an unmodified (or keypad) digit key, else None."""
    modifiers = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
    if modifiers != Qt.KeyboardModifier.NoModifier:
        return None
    n = event.key() - Qt.Key.Key_0
    return n if 1 <= n <= NUMBER_KEYS else None


class NumberKeys(QObject):
    """Watches a widget and its children: a digit key calls ``on_key(n)`` instead of reaching
    the focused widget's keyboard search or a window shortcut (text fields keep their digits)."""

    def __init__(self, on_key: Callable[[int], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._on_key = on_key

    def watch(self, widget: QWidget) -> None:
        """Filter ``widget`` and every widget below it (call again for children added later)."""
        for watched in (widget, *widget.findChildren(QWidget)):
            watched.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind not in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress):
            return False
        n = number_of(event)  # type: ignore[arg-type]
        if n is None or (isinstance(watched, QWidget) and is_text_input(watched)):
            return False
        if kind == QEvent.Type.ShortcutOverride:
            event.accept()  # the key press comes next, to the focused widget
        else:
            self._on_key(n)
        return True
