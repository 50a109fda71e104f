"""The selection panel: compose strategies, run, inspect (picks, coverage, classes), export."""

from app.ui.selection.panel import SelectionPanel

__all__ = ["SelectionPanel"]
