"""Tests of app.core.embeddings."""
