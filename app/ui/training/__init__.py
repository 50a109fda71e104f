"""The training panel: settings, augmentation preview, live curves and the project's runs.

``TrainingPanel`` is loaded on first access: it needs torch, which takes seconds to import and
which the main window must not import at start-up. Create the panel when training is first shown.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.ui.training.panel import TrainingPanel

__all__ = ["TrainingPanel"]


def __getattr__(name: str) -> Any:
    if name == "TrainingPanel":
        return importlib.import_module("app.ui.training.panel").TrainingPanel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
