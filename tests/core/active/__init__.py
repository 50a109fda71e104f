"""Tests of app.core.active."""
