"""Saved selections: a name, the strategy that made it (JSON), its members in pick order.

A selection of objects (``kind`` ``"objects"``, made by ``sieve select --objects``) keeps its
picked objects in pick order (``objects``, ``object_scores``); its ``members`` are the images that
contain them (in order of their first picked object), so everything that reads a selection's
samples (tags, exports) takes those images.

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
SELECTION_KINDS = ("images", "objects")


@dataclass
class SavedSelection:
    """One saved selection; ``members`` are sample ids in pick order, ``scores`` per member."""

    id: int
    name: str
    strategy: dict[str, Any]
    created: str
    members: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    scores: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.float64))
    kind: str = "images"
    objects: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    """Object ids in pick order (a selection of objects; empty for one of images)."""
    object_scores: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.float64))


def save_selection(
    project: Project,
    name: str,
    sample_ids: np.ndarray,
    strategy: dict[str, Any],
    scores: np.ndarray | None = None,
    overwrite: bool = False,
    objects: np.ndarray | None = None,
    object_scores: np.ndarray | None = None,
) -> SavedSelection:
    """Store a selection; an existing name is refused unless ``overwrite``.

    With ``objects`` (object ids in pick order) it is a selection of objects whose members are
    ``sample_ids`` (see :func:`save_object_selection`), written in the same transaction."""
    name = name.strip()
    if not name:
        raise SieveError("a selection needs a name")
    members = _ranked(name, "sample", sample_ids, scores)
    picked = None if objects is None else _ranked(name, "object", objects, object_scores)
    with project.db:
        existing = project.db.execute("SELECT id FROM selections WHERE name = ?", (name,))
        if existing.fetchone() is not None:
            if not overwrite:
                raise SieveError(f"a selection named {name!r} exists: choose another name")
            project.db.execute("DELETE FROM selections WHERE name = ?", (name,))
        kind = "images" if objects is None else "objects"
        cursor = project.db.execute(
            "INSERT INTO selections(name, strategy, kind) VALUES (?, ?, ?)",
            (name, json.dumps(strategy), kind),
        )
        selection_id = int(cursor.lastrowid)
        if picked is not None:
            _insert_ranked(project, "selection_objects", selection_id, name, picked)
        _insert_ranked(project, "selection_members", selection_id, name, members)
    return get_selection(project, name)


def save_object_selection(
    project: Project,
    name: str,
    object_ids: np.ndarray,
    strategy: dict[str, Any],
    scores: np.ndarray | None = None,
    overwrite: bool = False,
) -> SavedSelection:
    """Store picked objects (in pick order) as a selection whose members are their images."""
    objects = np.asarray(object_ids, dtype=np.int64)
    samples = object_samples(project, objects)
    if (samples < 0).any():
        missing = int(objects[np.flatnonzero(samples < 0)[0]])
        raise SieveError(f"selection {name!r} names object {missing}, which this project lacks")
    _, first = np.unique(samples, return_index=True)
    images = samples[np.sort(first)]
    return save_selection(
        project, name, images, strategy, None, overwrite, objects=objects, object_scores=scores
    )


def object_samples(project: Project, object_ids: np.ndarray) -> np.ndarray:
    """Per object id: the sample it lies on (-1 for an unknown id)."""
    ids = np.asarray(object_ids, dtype=np.int64)
    found: dict[int, int] = {}
    for start in range(0, len(ids), 900):
        chunk = ids[start : start + 900].tolist()
        query = f"SELECT id, sample_id FROM objects WHERE id IN ({','.join('?' * len(chunk))})"
        found.update(project.db.execute(query, chunk).fetchall())
    return np.array([found.get(int(i), -1) for i in ids.tolist()], dtype=np.int64)


def selection_labels(project: Project, selection: SavedSelection) -> dict[str, int]:
    """``{class: count}`` of a selection of objects' picked objects ({} for one of images)."""
    query = (
        "SELECT o.label, COUNT(*) FROM selection_objects m JOIN objects o ON o.id = m.object_id "
        "WHERE m.selection_id = ? GROUP BY o.label ORDER BY o.label"
    )
    return dict(project.db.execute(query, (selection.id,)).fetchall())


_A = {"sample": "a sample", "object": "an object"}


@dataclass(frozen=True)
class _Ranked:
    """Members in pick order with their scores (NaN: none), checked once."""

    noun: str  # "sample" | "object": the member column is ``<noun>_id``
    ids: np.ndarray
    scores: np.ndarray


def _ranked(name: str, noun: str, ids: np.ndarray, scores: np.ndarray | None) -> _Ranked:
    ids = np.asarray(ids, dtype=np.int64)
    if len(np.unique(ids)) != len(ids):
        raise SieveError(f"selection {name!r} lists {_A[noun]} twice")
    values = np.full(len(ids), np.nan) if scores is None else np.asarray(scores, dtype=np.float64)
    if len(values) != len(ids):
        raise ValueError(f"{len(values)} scores for {len(ids)} {noun}s")
    return _Ranked(noun, ids, values)


def _insert_ranked(
    project: Project, table: str, selection_id: int, name: str, members: _Ranked
) -> None:
    """Write ``members`` into ``table`` (``selection_members`` or ``selection_objects``)."""
    column = f"{members.noun}_id"
    rows = (
        (selection_id, position, member, None if score != score else score)
        for position, (member, score) in enumerate(
            zip(members.ids.tolist(), members.scores.tolist(), strict=True)
        )
    )
    try:
        project.db.executemany(
            f"INSERT INTO {table}(selection_id, position, {column}, score) VALUES (?, ?, ?, ?)",
            rows,
        )
    except sqlite3.IntegrityError as error:
        raise SieveError(
            f"selection {name!r} names {_A[members.noun]} this project lacks"
        ) from error


def get_selection(project: Project, name: str) -> SavedSelection:
    row = project.db.execute(
        "SELECT id, name, strategy, created, kind FROM selections WHERE name = ?", (name,)
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
    selection = SavedSelection(row[0], row[1], json.loads(row[2]), row[3], ids, scores, row[4])
    if selection.kind == "objects":
        picked = project.db.execute(
            "SELECT object_id, score FROM selection_objects WHERE selection_id = ? "
            "ORDER BY position",
            (row[0],),
        ).fetchall()
        selection.objects = np.array([p[0] for p in picked], dtype=np.int64)
        selection.object_scores = np.array(
            [np.nan if p[1] is None else p[1] for p in picked], dtype=np.float64
        )
    return selection


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
