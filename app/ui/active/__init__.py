"""Active learning in the GUI: label, fit the probe, colour by uncertainty, pick the next batch."""

from app.ui.active.panel import ActiveLearningPanel

__all__ = ["ActiveLearningPanel"]
