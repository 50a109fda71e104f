"""Fixtures for GUI tests: a shown main window, small generated datasets, screenshots."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import QSettings

from app.ui.main_window import MainWindow
from app.ui.settings import Settings
from tests.factories import write_image

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220)}
PER_CLASS = 4


@pytest.fixture(autouse=True)
def _private_settings(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep every test's QSettings (recent projects, layout) out of the real user's."""
    folder = str(tmp_path_factory.mktemp("settings"))
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, folder)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))


@pytest.fixture
def window(qtbot, settings: Settings) -> Iterator[MainWindow]:
    window = MainWindow(settings=settings)
    qtbot.addWidget(window)
    window.resize(900, 600)
    window.show()
    qtbot.waitExposed(window)
    yield window
    window.shutdown()


@pytest.fixture
def colour_dataset(tmp_path: Path) -> Path:
    """``red/``, ``green/``, ``blue/`` with 4 solid images each, plus one broken ``red/bad.png``."""
    root = tmp_path / "colours"
    for name, colour in COLOURS.items():
        for i in range(PER_CLASS):
            write_image(root / name / f"{i:02d}.png", Image.new("RGB", (40 + i, 30), colour))
    (root / "red" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not an image")
    return root


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """Where tests save window grabs: ``$SIEVE_SCREENSHOTS`` if set, else the test's tmp dir."""
    folder = Path(os.environ.get("SIEVE_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(autouse=True)
def _quick_look_started_at_the_click(monkeypatch: pytest.MonkeyPatch) -> None:
    """The map panel starts its quick-look process ahead only in the tests of that (each would
    load torch and UMAP in a child); a click still starts it."""
    from app.ui.map import look_ahead

    monkeypatch.setattr(look_ahead, "PREWARM_DELAY_MS", None)
