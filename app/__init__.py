"""Sieve: curate image and video datasets with self-supervised learning."""

__version__ = "0.1.0"
