"""Saved selections: a name, the strategy that made it (JSON), its members in pick order.

Set operations combine selections and tags: an operand is ``selection:NAME``, ``tag:NAME`` or a
bare name (a selection if one has it, else a tag). Results keep the first operand's order.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.core.errors import SieveError
from app.core.store.project import Project

OPERATIONS = ("union", "intersection", "difference")


@dataclass
class SavedSelection:
    """One saved selection; ``members`` are sample ids in pick order, ``scores`` per member."""

    id: int
    name: str
    strategy: dict[str, Any]
    created: str
    members: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    scores: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.float64))


def save_selection(
    project: Project,
    name: str,
    sample_ids: np.ndarray,
    strategy: dict[str, Any],
    scores: np.ndarray | None = None,
    overwrite: bool = False,
) -> SavedSelection:
    """Store a selection; an existing name is refused unless ``overwrite``."""
    name = name.strip()
    if not name:
        raise SieveError("a selection needs a name")
    ids = np.asarray(sample_ids, dtype=np.int64)
    if len(np.unique(ids)) != len(ids):
        raise SieveError(f"selection {name!r} lists a sample twice")
    values = np.full(len(ids), np.nan) if scores is None else np.asarray(scores, dtype=np.float64)
    if len(values) != len(ids):
        raise ValueError(f"{len(values)} scores for {len(ids)} members")
    with project.db:
        existing = project.db.execute("SELECT id FROM selections WHERE name = ?", (name,))
        if existing.fetchone() is not None:
            if not overwrite:
                raise SieveError(f"a selection named {name!r} exists: choose another name")
            project.db.execute("DELETE FROM selections WHERE name = ?", (name,))
        cursor = project.db.execute(
            "INSERT INTO selections(name, strategy) VALUES (?, ?)", (name, json.dumps(strategy))
        )
        selection_id = int(cursor.lastrowid)
        try:
            project.db.executemany(
                "INSERT INTO selection_members(selection_id, position, sample_id, score) "
                "VALUES (?, ?, ?, ?)",
                (
                    (selection_id, position, sample_id, None if score != score else score)
                    for position, (sample_id, score) in enumerate(
                        zip(ids.tolist(), values.tolist(), strict=True)
                    )
                ),
            )
        except sqlite3.IntegrityError as error:
            raise SieveError(f"selection {name!r} names a sample this project lacks") from error
    return get_selection(project, name)


def get_selection(project: Project, name: str) -> SavedSelection:
    row = project.db.execute(
        "SELECT id, name, strategy, created FROM selections WHERE name = ?", (name,)
    ).fetchone()
    if row is None:
        known = ", ".join(s.name for s in list_selections(project)) or "none yet"
        raise SieveError(f"no selection named {name!r} (selections: {known})")
    members = project.db.execute(
        "SELECT sample_id, score FROM selection_members WHERE selection_id = ? ORDER BY position",
        (row[0],),
    ).fetchall()
    ids = np.array([m[0] for m in members], dtype=np.int64)
    scores = np.array([np.nan if m[1] is None else m[1] for m in members], dtype=np.float64)
    return SavedSelection(row[0], row[1], json.loads(row[2]), row[3], ids, scores)


def list_selections(project: Project) -> list[SavedSelection]:
    """Every saved selection, oldest first (members included)."""
    names = [row[0] for row in project.db.execute("SELECT name FROM selections ORDER BY id")]
    return [get_selection(project, name) for name in names]


def delete_selection(project: Project, name: str) -> None:
    get_selection(project, name)
    with project.db:
        project.db.execute("DELETE FROM selections WHERE name = ?", (name,))


def members_of(project: Project, operand: str) -> np.ndarray:
    """Sample ids of ``selection:NAME`` (pick order), ``tag:NAME`` (id order) or a bare name."""
    kind, _, name = operand.partition(":")
    if not name:
        kind, name = "", operand
    if kind not in ("", "selection", "tag"):
        raise SieveError(f"{operand!r}: write selection:NAME or tag:NAME")
    if kind in ("", "selection"):
        exists = project.db.execute("SELECT 1 FROM selections WHERE name = ?", (name,)).fetchone()
        if exists or kind == "selection":
            return get_selection(project, name).members
    tag_id = project.tag_id(name)
    if tag_id is None:
        raise SieveError(f"no selection or tag named {name!r}")
    return np.array(sorted(project.tagged(tag_id)), dtype=np.int64)


def combine(project: Project, operation: str, first: str, second: str) -> np.ndarray:
    """``first`` op ``second`` over sample ids, in ``first``'s order (then ``second``'s)."""
    if operation not in OPERATIONS:
        raise SieveError(f"unknown operation {operation!r}: {', '.join(OPERATIONS)}")
    a, b = members_of(project, first), members_of(project, second)
    in_b = np.isin(a, b)
    if operation == "intersection":
        return a[in_b]
    if operation == "difference":
        return a[~in_b]
    return np.concatenate([a, b[~np.isin(b, a)]])
