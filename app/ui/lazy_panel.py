"""LazyPanel: a dock's content built the first time it is shown.

The training panel needs torch, which takes seconds to import; the window starts without it and
builds the panel only when the user first opens its tab.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget


class LazyPanel(QWidget):
    """Builds its panel soon after the first show (or on :meth:`panel`); emits ``built(panel)``.

    The first show only schedules the build, so the window paints before the import runs.
    """

    built = Signal(QWidget)

    def __init__(
        self, build: Callable[[], QWidget], waiting_text: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._build = build
        self._panel: QWidget | None = None
        self._waiting = QLabel(waiting_text)
        self._waiting.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.addWidget(self._waiting)

    @property
    def is_built(self) -> bool:
        return self._panel is not None

    def panel(self) -> QWidget:
        """The panel, built now if it was not yet."""
        if self._panel is None:
            self._panel = self._build()
            self._waiting.hide()
            self._layout.addWidget(self._panel)
            self.built.emit(self._panel)
        return self._panel

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._panel is None:
            QTimer.singleShot(0, self, self.panel)
