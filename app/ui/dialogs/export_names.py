"""File > Export > Names of the selected (or shown) samples: a text file, one name a line."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
from PySide6.QtWidgets import QFileDialog

from app.ui.opening import export_names_job

if TYPE_CHECKING:
    from app.ui.main_window import MainWindow


def export_names(window: MainWindow, which: Literal["selected", "shown"]) -> None:
    """Ask where, then write the names of the ``which`` samples on the window's runner."""
    if window.project is None:
        return
    ids = window.state.selected if which == "selected" else window.browser.order_ids()
    if len(ids) == 0:
        window.show_error(f"there are no {which} samples to export", "")
        return
    path, _ = QFileDialog.getSaveFileName(
        window, f"Export the names of the {which} samples", f"{which}.txt", "Text (*.txt)"
    )
    if path:
        ids, project_dir = np.array(ids), window.project.path
        window.start_job(
            lambda cancel: export_names_job(project_dir, ids, path, cancel),
            "Exporting names",
            lambda count: window.statusBar().showMessage(f"Exported {count:,} names", 5000),
        )
