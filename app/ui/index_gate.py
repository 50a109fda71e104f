"""Buttons that need the whole index wait while a background index runs, and say why.

A panel calls :func:`gate` where it would call ``setEnabled``: the button is enabled only when the
panel allows it and :attr:`AppState.indexing` is None; while it waits, its tooltip names the
reason ("indexing: 12,345 of 100,000 files left") and its own tooltip comes back afterwards.
Once every file is thumbnailed the index measures the images' statistics: only what reads them
(the quality checks) still waits then.
"""

from __future__ import annotations

from PySide6.QtWidgets import QAbstractButton

from app.gui_model.state import AppState

_OWN_TIP = "sieve_own_tooltip"


def gate(button: QAbstractButton, state: AppState, allowed: bool, statistics: bool = False) -> None:
    """Enable ``button`` when ``allowed`` and no index runs (with ``statistics``: nor measures the
    images, after thumbnailing them); else show why it waits."""
    own = button.property(_OWN_TIP)
    if own is None:
        own = button.toolTip()
        button.setProperty(_OWN_TIP, own)
    waiting = state.statistics_wait if statistics else state.indexing
    button.setEnabled(allowed and waiting is None)
    if waiting is None:
        button.setToolTip(own)
    else:
        button.setToolTip(f"Waits for the index to finish ({waiting})")
