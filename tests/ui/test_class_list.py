"""The Label panel's class list: a dataset with a thousand folder classes lists a screenful,
made a few rows per turn of the event loop."""

from __future__ import annotations

from app.core.active.labels import ClassCounts
from app.ui.active.classes import MAX_ROWS, ROWS_PER_TURN, ClassList

NAMES = tuple(f"n{i:05d}" for i in range(1000))


def test_a_thousand_folder_classes_list_the_first_ones_and_say_how_many_more(qtbot) -> None:
    classes = ClassList()
    qtbot.addWidget(classes)
    counts = ClassCounts(NAMES, tuple(range(1000)), sum(range(1000)), sum(range(1000)))
    classes.show_classes(counts, True, True, ["#123456"] * 1000, 0)
    classes.show()
    qtbot.waitUntil(lambda: not classes.building)
    assert len(classes.buttons) == MAX_ROWS == 30
    assert [b.text() for b in classes.buttons[:2]] == ["n00000", "n00001"]
    assert [label.text() for label in classes.count_labels[:3]] == ["0", "1", "2"]
    assert classes.count_labels[-1].text() == "29"
    assert classes.more.isVisible() and classes.more.text() == "\u2026 and 970 more classes"
    few = ClassCounts(NAMES[:3], (5, 6, 7), 18, 18)
    classes.show_classes(few, True, True, ["#123456"] * 3, 0)
    assert len(classes.buttons) == 3 and not classes.more.isVisible()


def test_rows_are_made_a_few_per_turn_and_show_the_latest_counts(qtbot) -> None:
    classes = ClassList()
    qtbot.addWidget(classes)
    classes.show()
    first = ClassCounts(NAMES, tuple(range(1000)), 0, 0)
    classes.show_classes(first, True, True, ["#123456"] * 1000, 0)
    assert len(classes.buttons) == ROWS_PER_TURN < MAX_ROWS  # the rest in later turns
    assert classes.building and classes.more.text() == "\u2026 and 970 more classes"
    later = ClassCounts(NAMES, tuple(range(1000, 2000)), 0, 0)  # new counts while building
    classes.show_classes(later, True, True, ["#123456"] * 1000, 0)
    qtbot.waitUntil(lambda: not classes.building)
    assert [label.text() for label in classes.count_labels] == [
        f"{n:,}" for n in range(1000, 1000 + MAX_ROWS)
    ]


def test_classes_shown_while_rows_are_made_replace_them(qtbot) -> None:
    classes = ClassList()
    qtbot.addWidget(classes)
    many = ClassCounts(NAMES, tuple(range(1000)), 0, 0)
    classes.show_classes(many, True, True, ["#123456"] * 1000, 0)
    other = ClassCounts(("cat", "dog"), (4, 5), 9, 9)
    classes.show_classes(other, False, True, ["#ff0000", "#00ff00"], 2)
    qtbot.wait(50)  # the first classes' pending turns make nothing
    assert [b.text() for b in classes.buttons] == ["1   cat", "2   dog"]
    assert [label.text() for label in classes.count_labels] == ["4", "5"]
    assert not classes.building and all(b.isEnabled() for b in classes.buttons)
