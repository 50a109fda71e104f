"""The filter bar's choices: folders and labels that arrive while a folder is listed are added at
the end; any other change refills the combo; the chosen filter stays chosen."""

from __future__ import annotations

from app.gui_model.state import AppState
from app.ui.browser.filter_bar import FilterBar


def offered(combo) -> list[str]:  # noqa: ANN001
    return [combo.itemText(i) for i in range(combo.count())]


def test_choices_that_grow_at_the_end_are_added_and_others_refill(qtbot) -> None:
    state = AppState()
    bar = FilterBar(state)
    qtbot.addWidget(bar)
    bar.set_choices(["a", "b"], ["a", "b"], [], [], [])
    first_b = bar.folder.findData("b")
    state.set_filter(state.filter.with_(folder="b"))
    removed: list[int] = []
    bar.folder.model().rowsRemoved.connect(lambda *_: removed.append(1))
    bar.set_choices(["a", "b", "c"], ["a", "b", "c"], [], [], [])
    assert removed == []  # added at the end, nothing refilled
    assert offered(bar.folder) == ["All folders", "a", "b", "c"]
    assert offered(bar.label) == ["All labels", "a", "b", "c"]
    assert bar.folder.findData("b") == first_b and bar.folder.currentData() == "b"
    bar.set_choices(["c", "a"], ["", "c"], [], [], [])  # not a growth: refilled
    assert removed
    assert offered(bar.label) == ["All labels", "c", "a"]
    assert [bar.folder.itemData(i) for i in range(bar.folder.count())] == [None, "", "c"]
    bar.set_choices([], [], [], [], [])
    assert offered(bar.label) == ["All labels"] and offered(bar.folder) == ["All folders"]
