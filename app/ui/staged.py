"""Handing an opened project to the window's panels one turn of the event loop at a time.

Each panel's ``set_project`` opens connections, starts a job or lays out widgets: a few to
fifteen milliseconds. Done back to back they add up to one long stall of the event loop; a turn
each lets the window paint (and the heartbeat of a scroll run) between them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer


def set_project_in_turns(
    owner: QObject,
    panels: Sequence[Any],
    path: Path,
    still_wanted: Callable[[], bool],
    then: Callable[[], None],
) -> None:
    """``panel.set_project(path)`` for each of ``panels`` in a turn of its own, as long as
    ``still_wanted()`` (another project shown, the window shut down: the rest is dropped);
    then ``then()``. The turns end with ``owner``."""
    if not still_wanted():
        return
    if not panels:
        then()
        return
    panels[0].set_project(path)
    rest = partial(set_project_in_turns, owner, panels[1:], path, still_wanted, then)
    QTimer.singleShot(0, owner, rest)
