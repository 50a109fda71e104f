"""Look and feel: the app icon, and a palette that follows the system's light or dark scheme."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPalette
from PySide6.QtWidgets import QApplication

from app.core.paths import resources_dir

ACCENT = QColor(45, 120, 200)


def app_icon() -> QIcon:
    """Sieve's icon at every size shipped in ``resources/icons``."""
    icon = QIcon()
    for path in sorted((resources_dir() / "icons").glob("sieve-*.png")):
        icon.addFile(str(path))
    return icon


def is_dark() -> bool:
    return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark


def dark_palette() -> QPalette:
    palette = QPalette()
    colours = {
        QPalette.ColorRole.Window: QColor(40, 42, 46),
        QPalette.ColorRole.WindowText: QColor(225, 228, 232),
        QPalette.ColorRole.Base: QColor(30, 32, 35),
        QPalette.ColorRole.AlternateBase: QColor(45, 47, 52),
        QPalette.ColorRole.ToolTipBase: QColor(55, 58, 64),
        QPalette.ColorRole.ToolTipText: QColor(235, 235, 235),
        QPalette.ColorRole.Text: QColor(225, 228, 232),
        QPalette.ColorRole.Button: QColor(50, 53, 58),
        QPalette.ColorRole.ButtonText: QColor(225, 228, 232),
        QPalette.ColorRole.BrightText: QColor(255, 90, 90),
        QPalette.ColorRole.Highlight: ACCENT,
        QPalette.ColorRole.HighlightedText: QColor(255, 255, 255),
        QPalette.ColorRole.Link: QColor(110, 170, 240),
        QPalette.ColorRole.PlaceholderText: QColor(140, 144, 150),
    }
    for role, colour in colours.items():
        palette.setColor(role, colour)
    for role in (
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
        QPalette.ColorRole.WindowText,
    ):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(120, 124, 130))
    return palette


def apply_theme(app: QApplication) -> None:
    """Fusion style with the system's scheme, kept in step when the user switches it."""
    app.setStyle("Fusion")
    app.setWindowIcon(app_icon())

    def follow_scheme(*_: object) -> None:
        app.setPalette(dark_palette() if is_dark() else app.style().standardPalette())

    follow_scheme()
    QGuiApplication.styleHints().colorSchemeChanged.connect(follow_scheme)
