"""The embedding map: a numpy-rasterised scatter of millions of points with lasso, box and pan."""

from app.ui.scatter.widget import EmbeddingScatter

__all__ = ["EmbeddingScatter"]
