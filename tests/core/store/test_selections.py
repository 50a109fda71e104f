"""Saved selections in the project store, and set operations with tags."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.errors import SieveError
from app.core.store import catalog
from app.core.store.selections import (
    combine,
    delete_selection,
    get_selection,
    list_selections,
    members_of,
    save_selection,
)


def test_a_selection_keeps_its_order_strategy_and_scores(embedded_project) -> None:
    project, _ = embedded_project
    ids = [row.id for row in project.samples()]
    picked = np.array([ids[5], ids[0], ids[9]])
    strategy = {"n": 3, "strategies": [{"kind": "diversity", "strength": 1.0}]}
    saved = save_selection(project, "first", picked, strategy, scores=np.array([1.0, 0.5, np.nan]))
    again = get_selection(project, "first")
    assert again.members.tolist() == picked.tolist() and again.strategy == strategy
    assert again.scores[:2].tolist() == [1.0, 0.5] and np.isnan(again.scores[2])
    assert saved.created and [s.name for s in list_selections(project)] == ["first"]
    assert catalog.saved_selections(project)["first"].tolist() == sorted(picked.tolist())


def test_names_are_unique_unless_overwriting(embedded_project) -> None:
    project, _ = embedded_project
    ids = [row.id for row in project.samples()]
    save_selection(project, "s", np.array(ids[:2]), {})
    with pytest.raises(SieveError, match="exists"):
        save_selection(project, "s", np.array(ids[2:4]), {})
    save_selection(project, "s", np.array(ids[2:4]), {}, overwrite=True)
    assert get_selection(project, "s").members.tolist() == ids[2:4]
    delete_selection(project, "s")
    with pytest.raises(SieveError, match="no selection named 's'"):
        get_selection(project, "s")


def test_bad_members_are_refused(embedded_project) -> None:
    project, _ = embedded_project
    ids = [row.id for row in project.samples()]
    with pytest.raises(SieveError, match="twice"):
        save_selection(project, "dup", np.array([ids[0], ids[0]]), {})
    with pytest.raises(SieveError, match="lacks"):
        save_selection(project, "ghost", np.array([ids[0], 99_999]), {})
    assert list_selections(project) == []


def test_union_intersection_difference_with_tags(embedded_project) -> None:
    project, _ = embedded_project
    ids = [row.id for row in project.samples()]
    save_selection(project, "picked", np.array([ids[4], ids[1], ids[7]]), {})
    project.add_tag(project.create_tag("labelled"), [ids[1], ids[2]])
    assert combine(project, "intersection", "picked", "tag:labelled").tolist() == [ids[1]]
    assert combine(project, "difference", "picked", "labelled").tolist() == [ids[4], ids[7]]
    assert combine(project, "union", "selection:picked", "labelled").tolist() == [
        ids[4],
        ids[1],
        ids[7],
        ids[2],
    ]
    assert members_of(project, "tag:labelled").tolist() == [ids[1], ids[2]]
    with pytest.raises(SieveError, match="no selection or tag"):
        members_of(project, "nothing")
    with pytest.raises(SieveError, match="unknown operation"):
        combine(project, "xor", "picked", "labelled")
