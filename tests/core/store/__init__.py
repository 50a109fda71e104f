"""Tests of app.core.store."""
