"""What Sieve remembers between sessions (QSettings): recent projects, layout, preferences."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

MAX_RECENT = 10
DEFAULT_THUMBNAIL_SIZE = 128


class Settings:
    """Typed access to the app's QSettings (organisation and app name set by the QApplication)."""

    def __init__(self, settings: QSettings | None = None) -> None:
        self.qt = settings or QSettings()

    def recent_projects(self) -> list[Path]:
        """Recent project folders, newest first, only those that still exist."""
        values = self.qt.value("recent/projects", []) or []
        if isinstance(values, str):
            values = [values]
        return [Path(value) for value in values if Path(value).exists()]

    def add_recent_project(self, path: Path) -> None:
        paths = [str(path)] + [str(p) for p in self.recent_projects() if p != path]
        self.qt.setValue("recent/projects", paths[:MAX_RECENT])

    def clear_recent_projects(self) -> None:
        self.qt.setValue("recent/projects", [])

    def thumbnail_size(self) -> int:
        return int(self.qt.value("view/thumbnail_size", DEFAULT_THUMBNAIL_SIZE))

    def set_thumbnail_size(self, size: int) -> None:
        self.qt.setValue("view/thumbnail_size", int(size))

    def window_state(self) -> tuple[QByteArray | None, QByteArray | None]:
        return self.qt.value("window/geometry"), self.qt.value("window/state")

    def save_window_state(self, geometry: QByteArray, state: QByteArray) -> None:
        self.qt.setValue("window/geometry", geometry)
        self.qt.setValue("window/state", state)
