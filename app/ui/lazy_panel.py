"""LazyPanel: a dock's content built once it is first shown, its heavy imports done off-thread.

The training panel needs torch, which takes seconds to import; the window starts without it.
On the first show a worker thread imports the panel's modules while the window stays
responsive, then the panel is built on the GUI thread (cheap, as the modules are loaded).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

log = logging.getLogger("sieve")


class LazyPanel(QWidget):
    """Builds its panel after the first show (or at once on :meth:`panel`); emits ``built``."""

    built = Signal(QWidget)
    _imported = Signal()

    def __init__(
        self,
        build: Callable[[], QWidget],
        waiting_text: str,
        modules: tuple[str, ...] = (),
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._build = build
        self._modules = modules
        self._panel: QWidget | None = None
        self._loading = False
        self._waiting = QLabel(waiting_text)
        self._waiting.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.addWidget(self._waiting)
        self._imported.connect(self.panel, Qt.ConnectionType.QueuedConnection)

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
        if self._panel is None and not self._loading:
            self._loading = True
            threading.Thread(target=self._import, name="sieve-preload", daemon=True).start()

    def _import(self) -> None:
        """Import the panel's modules (worker thread); a failure surfaces when it is built."""
        for name in self._modules:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - the build on the GUI thread reports it
                log.exception("preloading %s failed", name)
        with contextlib.suppress(RuntimeError):  # the panel was deleted while importing
            self._imported.emit()
