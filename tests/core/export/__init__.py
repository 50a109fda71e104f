"""Tests of app.core.export."""
