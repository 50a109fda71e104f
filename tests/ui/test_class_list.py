"""The Label panel's class list: a dataset with a thousand folder classes lists a screenful."""

from __future__ import annotations

from app.core.active.labels import ClassCounts
from app.ui.active.classes import MAX_ROWS, ClassList


def test_a_thousand_folder_classes_list_the_first_ones_and_say_how_many_more(qtbot) -> None:
    classes = ClassList()
    qtbot.addWidget(classes)
    names = tuple(f"n{i:05d}" for i in range(1000))
    counts = ClassCounts(names, tuple(range(1000)), sum(range(1000)), sum(range(1000)))
    classes.show_classes(counts, True, True, ["#123456"] * 1000, 0)
    classes.show()
    assert len(classes.buttons) == MAX_ROWS == 30
    assert [b.text() for b in classes.buttons[:2]] == ["n00000", "n00001"]
    assert [label.text() for label in classes.count_labels[:3]] == ["0", "1", "2"]
    assert classes.more.isVisible() and classes.more.text() == "\u2026 and 970 more classes"
    few = ClassCounts(names[:3], (5, 6, 7), 18, 18)
    classes.show_classes(few, True, True, ["#123456"] * 3, 0)
    assert len(classes.buttons) == 3 and not classes.more.isVisible()
