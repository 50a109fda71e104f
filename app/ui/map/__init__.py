"""The embedding map panel."""

from app.ui.map.panel import MapPanel

__all__ = ["MapPanel"]
