"""The bridge between the Qt-free core and the GUI: core jobs run on QThreads."""

from app.engine.latest import LatestRunner
from app.engine.runner import JobRunner

__all__ = ["JobRunner", "LatestRunner"]
