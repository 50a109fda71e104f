"""Tests of app.gui_model."""
