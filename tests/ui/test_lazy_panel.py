"""LazyPanel: nothing is imported or built until the panel is both shown and allowed."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel

from app.ui.lazy_panel import LazyPanel


def test_builds_only_when_shown_and_allowed(qtbot) -> None:
    built: list[QLabel] = []

    def build() -> QLabel:
        built.append(QLabel("the panel"))
        return built[-1]

    lazy = LazyPanel(build, "open a project first", "loading…", ("json",))
    qtbot.addWidget(lazy)
    lazy.show()
    lazy.set_shown(True)
    qtbot.wait(50)
    assert not lazy.is_built and lazy._waiting.text() == "open a project first"
    with qtbot.waitSignal(lazy.built, timeout=5000):
        lazy.allow()
    assert lazy.is_built and lazy.panel() is built[0] and len(built) == 1


def test_a_hidden_panel_waits_until_it_is_shown(qtbot) -> None:
    lazy = LazyPanel(lambda: QLabel("x"), "wait", "loading…")
    qtbot.addWidget(lazy)
    lazy.allow()
    qtbot.wait(50)
    assert not lazy.is_built
    with qtbot.waitSignal(lazy.built, timeout=5000):
        lazy.set_shown(True)
