"""Where Sieve finds its bundled resources and keeps per-user data."""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_NAME = "Sieve"


def resources_dir() -> Path:
    """The ``resources/`` folder: next to the ``app`` package, or inside a PyInstaller bundle."""
    override = os.environ.get("SIEVE_RESOURCES")
    if override:
        return Path(override)
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"


def user_data_dir() -> Path:
    """Per-user data (demo project, logs): ``$SIEVE_DATA_DIR`` or the platform's convention."""
    override = os.environ.get("SIEVE_DATA_DIR")
    if override:
        return Path(override)
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming"))
        return base / APP_NAME
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / APP_NAME
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "sieve"


def user_cache_dir() -> Path:
    """Per-user caches that may be deleted at any time (compiled numba code, ...)."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
        return base / APP_NAME / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / APP_NAME
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sieve"
