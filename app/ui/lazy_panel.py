"""LazyPanel: a dock's content built once it is shown and wanted, its heavy imports off-thread.

The training panel needs torch, which takes seconds to import; the window starts without it.
Once the panel is both shown (:meth:`set_shown`: its dock's tab is the current one) and
allowed (:meth:`allow`: a project is open, so indexing is over), a worker thread imports its
modules, then the panel is built on the GUI thread (cheap, as the modules are loaded). Loading
a C extension holds the GIL, so even off-thread the import costs the GUI short stalls: it
must not overlap the start-up or indexing.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
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
        loading_text: str,
        modules: tuple[str, ...] = (),
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._build = build
        self._modules = modules
        self._loading_text = loading_text
        self._panel: QWidget | None = None
        self._allowed = False
        self._shown = False
        self._loading = False
        self._waiting = QLabel(waiting_text)
        self._waiting.setWordWrap(True)
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

    def allow(self) -> None:
        """From now on, being shown loads the panel (now, if it is shown)."""
        self._allowed = True
        if self._shown:
            self._start_loading()

    def set_shown(self, shown: bool) -> None:
        """Whether the user sees the panel (its dock's tab is the current one)."""
        self._shown = shown
        if shown and self._allowed:
            self._start_loading()

    def _start_loading(self) -> None:
        if self._panel is None and not self._loading:
            self._loading = True
            self._waiting.setText(self._loading_text)
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
