"""The map panel's embeddings chooser switches the active set and redraws the map; a score from
another set than the active one is marked stale in the colour-by list."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.core.embeddings.scores import score_job
from app.core.jobs import CancelToken, run_job
from app.core.store.embedding_sets import (
    active_embedding_set,
    create_embedding_set,
    finish_embedding_set,
)
from app.core.store.project import Project
from app.gui_model.state import AppState
from app.ui.map import MapPanel


@pytest.fixture
def two_sets(embedded_project):
    """Scores from set 1, then a second set (4-D, active) over the same samples."""
    project, first = embedded_project
    run_job(score_job(project, first, CancelToken()))
    ids = first.ids()
    vectors = np.random.default_rng(1).standard_normal((len(ids), 4)).astype(np.float32)
    second = create_embedding_set(project, {"source": "second vectors"})
    finish_embedding_set(project, second, ids, vectors)
    return project, first, second


@pytest.fixture
def panel(qtbot, two_sets) -> Iterator[MapPanel]:
    project, _, second = two_sets
    widget = MapPanel(AppState())
    qtbot.addWidget(widget)
    widget.resize(760, 520)
    widget.show()
    qtbot.waitExposed(widget)
    widget.method_box.setCurrentText("PCA")
    widget.set_project(project.path)
    qtbot.waitUntil(
        lambda: not widget.runner.is_busy and widget.source is not None and len(widget.xy) == 12,
        timeout=20_000,
    )
    assert widget.source.set_id == second.id
    yield widget
    widget.shutdown()


def colour_titles(panel: MapPanel) -> list[str]:
    return [panel.colour_box.itemText(i) for i in range(panel.colour_box.count())]


def test_the_chooser_lists_the_finished_sets_with_the_active_one_current(
    panel: MapPanel, two_sets
) -> None:
    project, first, second = two_sets
    titles = [panel.set_box.itemText(i) for i in range(panel.set_box.count())]
    assert titles == [
        f"Set {first.id}: random test vectors (12)",
        f"Set {second.id}: second vectors (12)",
    ]
    assert panel.set_box.currentData() == second.id and panel.set_box.isEnabled()


def test_choosing_a_set_makes_it_active_and_redraws_the_map(
    qtbot, panel: MapPanel, two_sets, screenshots
) -> None:
    project, first, second = two_sets
    stale = f"Score: typicality (stale: set {first.id})"
    assert stale in colour_titles(panel)
    panel.state.set_colour_by("score:typicality")
    assert panel.colour_box.currentText() == stale
    panel.grab().save(str(screenshots / "map_set_chooser_stale.png"))
    with qtbot.waitSignal(panel.source_changed, timeout=20_000):
        panel.set_box.setFocus()
        QTest.keyClick(panel.set_box, Qt.Key.Key_Up)
    qtbot.waitUntil(lambda: not panel.runner.is_busy, timeout=20_000)
    assert panel.set_box.currentData() == first.id
    assert panel.source.set_id == first.id and panel.source.vectors.shape == (12, 8)
    assert f"set {first.id}" in panel.caption.text()
    with Project.open(project.path) as reopened:
        assert active_embedding_set(reopened).id == first.id
    assert "Score: typicality" in colour_titles(panel)
    assert not any("stale" in title for title in colour_titles(panel))
    panel.grab().save(str(screenshots / "map_set_chooser.png"))
