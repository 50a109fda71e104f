"""Dialogs: import a torchvision dataset, preferences, keyboard shortcuts."""
