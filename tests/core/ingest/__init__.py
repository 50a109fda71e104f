"""Tests of app.core.ingest."""
