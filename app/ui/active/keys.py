"""NumberKeys: keys 1-9 pressed in the panel label the selection, ahead of window shortcuts."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication, QWidget
from shiboken6 import isValid

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
    the focused widget's keyboard search or a window shortcut (text fields keep their digits).

    Filtered are the watched widget itself and, while the focus is below it, the focused
    widget: a filter on every child ran Python for each of their events (polish, layout, paint),
    and while another thread held the interpreter lock each such call waited for it (4-5 ms
    each, hundreds when the class list was rebuilt as a project opened).
    """

    def __init__(self, on_key: Callable[[int], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._on_key = on_key
        self._roots: list[QWidget] = []
        self._filtered: QWidget | None = None
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.focusChanged.connect(self._on_focus_changed)

    def watch(self, widget: QWidget) -> None:
        """Take digit keys typed in ``widget`` or any widget below it, also those added later."""
        self._roots.append(widget)
        widget.installEventFilter(self)
        self._on_focus_changed(None, QApplication.focusWidget())

    def _on_focus_changed(self, _old: QWidget | None, new: QWidget | None) -> None:
        if self._filtered is not None and isValid(self._filtered):
            self._filtered.removeEventFilter(self)
        self._filtered = new if new is not None and self._below_a_root(new) else None
        if self._filtered is not None:
            self._filtered.installEventFilter(self)

    def _below_a_root(self, widget: QWidget) -> bool:
        return any(
            isValid(root) and root is not widget and root.isAncestorOf(widget)
            for root in self._roots
        )

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
