"""Tests of app.core.selection."""
