"""The evaluation view: predictions against the ground truth (per-class AP table, confusion
matrix), "worst images first" for the grid, and a confusion cell's images selected."""

from app.ui.evaluation.panel import EvaluationPanel

__all__ = ["EvaluationPanel"]
