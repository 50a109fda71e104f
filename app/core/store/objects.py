"""Objects: boxes (with an optional mask and score) on samples, grouped by annotation source.

A *source* is one set of annotations with a name: the ground truth imported from COCO, YOLO or
VOC, or a model's predictions (with scores). Several sources live side by side. A source is
written whole or not at all (:func:`replace_source`), so a failed import leaves the project as
it was. Boxes are in pixels of the sample's image: ``x, y`` the top-left corner, ``w, h`` the size.
A mask is stored as JSON: ``{"polygons": [[x0, y0, x1, y1, ...], ...]}`` or ``{"rle": {"size":
[h, w], "counts": ...}}`` (COCO's encodings).

Bulk readers return numpy columns (:class:`ObjectArrays`), never a Python object per box.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from app.core.errors import SieveError
from app.core.jobs import CancelToken, Job, Progress
from app.core.store.db import raw
from app.core.store.project import Project

SourceKind = Literal["ground_truth", "predictions"]
SOURCE_KINDS: tuple[str, ...] = ("ground_truth", "predictions")
_CHUNK = 900
_OBJECT_COLUMNS = "id, sample_id, source_id, label, x, y, w, h, score, iscrowd, mask"


@dataclass(frozen=True, slots=True)
class AnnotationSource:
    """A named set of objects and where it came from."""

    id: int
    name: str
    kind: str  # "ground_truth" | "predictions"
    format: str  # "coco" | "yolo" | "voc" | ...
    origin: str | None  # the file or folder it was imported from
    classes: tuple[str, ...]  # class names in their source order (category / class ids)
    created: str

    @property
    def is_ground_truth(self) -> bool:
        return self.kind == "ground_truth"


@dataclass(frozen=True, slots=True)
class NewObject:
    """An object to store: a box in pixels, optionally a score, crowd flag and mask."""

    sample_id: int
    label: str
    x: float
    y: float
    w: float
    h: float
    score: float | None = None
    iscrowd: bool = False
    mask: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ObjectRow:
    """A stored object."""

    id: int
    sample_id: int
    source_id: int
    label: str
    x: float
    y: float
    w: float
    h: float
    score: float | None
    iscrowd: bool
    mask: dict[str, Any] | None

    @property
    def box(self) -> tuple[float, float, float, float]:
        """``(x, y, w, h)`` in pixels."""
        return (self.x, self.y, self.w, self.h)


@dataclass(frozen=True)
class ObjectArrays:
    """One source's objects as columns, ordered by sample id then object id."""

    ids: np.ndarray  # int64
    sample_ids: np.ndarray  # int64
    labels: np.ndarray  # int32 codes into ``classes``
    classes: tuple[str, ...]  # sorted class names
    boxes: np.ndarray  # float32 N x 4: x, y, w, h in pixels
    scores: np.ndarray  # float32, NaN where the object has no score

    def __len__(self) -> int:
        return len(self.ids)


def sources(project: Project) -> list[AnnotationSource]:
    """Every annotation source, oldest first."""
    query = "SELECT id, name, kind, format, origin, classes, created FROM annotation_sources"
    return [_source(row) for row in project.db.execute(query + " ORDER BY id")]


def source(project: Project, name: str) -> AnnotationSource | None:
    """The source called ``name``, or None."""
    query = (
        "SELECT id, name, kind, format, origin, classes, created FROM annotation_sources "
        "WHERE name = ?"
    )
    row = project.db.execute(query, (name,)).fetchone()
    return None if row is None else _source(row)


def require_source(project: Project, name: str) -> AnnotationSource:
    """The source called ``name``; a clear error listing the others when there is none."""
    found = source(project, name)
    if found is None:
        known = ", ".join(s.name for s in sources(project)) or "none yet"
        raise SieveError(f"no annotation source named {name!r} (sources: {known})")
    return found


def ground_truth(project: Project) -> AnnotationSource | None:
    """The ground-truth source: the one named ``ground_truth`` if any, else the oldest one."""
    truths = [s for s in sources(project) if s.is_ground_truth]
    named = [s for s in truths if s.name == "ground_truth"]
    return (named or truths or [None])[0]


def replace_source(
    project: Project,
    name: str,
    kind: SourceKind,
    format: str,
    objects: Iterable[NewObject],
    origin: str | None = None,
    classes: Sequence[str] = (),
) -> int:
    """Store ``objects`` as the source ``name`` in one transaction, replacing any source of
    that name; return its id. If anything fails, the project keeps what it had."""
    _check_source(name, kind)
    with project.db:
        source_id = _new_source(project, name, kind, format, origin, classes)
        project.db.executemany(_INSERT, (_insert_row(obj, source_id) for obj in objects))
    return source_id


_INSERT = (
    "INSERT INTO objects(sample_id, source_id, label, x, y, w, h, score, iscrowd, mask) "
    "VALUES (?, ?, CAST(? AS TEXT), ?, ?, ?, ?, ?, ?, ?)"
)


def _check_source(name: str, kind: str) -> None:
    if kind not in SOURCE_KINDS:
        raise SieveError(f"unknown annotation kind {kind!r} (one of {', '.join(SOURCE_KINDS)})")
    if not name.strip():
        raise SieveError("an annotation source needs a name")


def _new_source(
    project: Project,
    name: str,
    kind: str,
    format: str,
    origin: str | None,
    classes: Sequence[str],
) -> int:
    """Replace the source ``name`` by an empty one (inside the caller's transaction)."""
    project.db.execute("DELETE FROM annotation_sources WHERE name = ?", (name,))
    cursor = project.db.execute(
        "INSERT INTO annotation_sources(name, kind, format, origin, classes) "
        "VALUES (?, ?, ?, CAST(? AS TEXT), ?)",
        (name, kind, format, raw(origin), json.dumps(list(classes))),
    )
    return int(cursor.lastrowid)


def write_source_job(
    project: Project,
    name: str,
    kind: SourceKind,
    format: str,
    chunks: Iterable[Sequence[NewObject]],
    total: int,
    origin: str | None = None,
    classes: Sequence[str] = (),
    cancel: CancelToken | None = None,
) -> Job[int]:
    """:func:`replace_source` as a job: ``chunks`` of objects (``total`` in all) are written in
    one transaction, with progress and a cancel check after each chunk; return the source id.
    If anything fails or the job is cancelled, the project keeps what it had."""
    _check_source(name, kind)
    done = 0
    yield Progress("store objects", 0, total, f"0 of {total:,} objects")
    with project.db:
        source_id = _new_source(project, name, kind, format, origin, classes)
        for chunk in chunks:
            if cancel is not None:
                cancel.raise_if_cancelled()
            project.db.executemany(_INSERT, (_insert_row(obj, source_id) for obj in chunk))
            done += len(chunk)
            yield Progress("store objects", done, total, f"{done:,} of {total:,} objects")
    return source_id


def annotation_summary(project: Project) -> dict[str, Any]:
    """What ``sieve info --json`` says of annotations: ``objects`` and ``object_labels`` of
    the ground truth (0 and {} when there is none), and every source with its object count."""
    truth = ground_truth(project)
    counts = dict(
        project.db.execute("SELECT source_id, COUNT(*) FROM objects GROUP BY source_id").fetchall()
    )
    return {
        "objects": counts.get(truth.id, 0) if truth else 0,
        "object_labels": label_counts(project, truth.id) if truth else {},
        "annotation_sources": [
            {
                "name": s.name,
                "kind": s.kind,
                "format": s.format,
                "objects": counts.get(s.id, 0),
                "classes": list(s.classes),
            }
            for s in sources(project)
        ],
    }


def delete_source(project: Project, name: str) -> bool:
    """Forget the source ``name`` and its objects; return whether there was one."""
    with project.db:
        cursor = project.db.execute("DELETE FROM annotation_sources WHERE name = ?", (name,))
    return cursor.rowcount > 0


def object_count(project: Project, source_id: int) -> int:
    query = "SELECT COUNT(*) FROM objects WHERE source_id = ?"
    return project.db.execute(query, (source_id,)).fetchone()[0]


def label_counts(project: Project, source_id: int) -> dict[str, int]:
    """Objects per class of one source, by class name."""
    query = "SELECT label, COUNT(*) FROM objects WHERE source_id = ? GROUP BY label ORDER BY label"
    return dict(project.db.execute(query, (source_id,)).fetchall())


def objects_of(
    project: Project, sample_id: int, source_ids: Sequence[int] | None = None
) -> list[ObjectRow]:
    """The objects on one sample (of the given sources, default all), by source then id."""
    query = f"SELECT {_OBJECT_COLUMNS} FROM objects WHERE sample_id = ?"
    args: list[int] = [sample_id]
    if source_ids is not None:
        if not source_ids:
            return []
        query += f" AND source_id IN ({','.join('?' * len(source_ids))})"
        args.extend(int(i) for i in source_ids)
    query += " ORDER BY source_id, id"
    return [_object(row) for row in project.db.execute(query, args)]


def objects_of_samples(
    project: Project, source_id: int, sample_ids: Sequence[int]
) -> dict[int, list[ObjectRow]]:
    """One source's objects on each of ``sample_ids`` (by id; samples without any left out)."""
    found: dict[int, list[ObjectRow]] = {}
    for start in range(0, len(sample_ids), _CHUNK):
        chunk = [int(i) for i in sample_ids[start : start + _CHUNK]]
        query = (
            f"SELECT {_OBJECT_COLUMNS} FROM objects WHERE source_id = ? AND sample_id IN "
            f"({','.join('?' * len(chunk))}) ORDER BY sample_id, id"
        )
        for row in project.db.execute(query, [source_id, *chunk]):
            found.setdefault(row[1], []).append(_object(row))
    return found


def objects_by_id(project: Project, object_ids: Sequence[int]) -> dict[int, ObjectRow]:
    """Objects by id (unknown ids are left out)."""
    found: dict[int, ObjectRow] = {}
    for start in range(0, len(object_ids), _CHUNK):
        chunk = [int(i) for i in object_ids[start : start + _CHUNK]]
        query = f"SELECT {_OBJECT_COLUMNS} FROM objects WHERE id IN ({','.join('?' * len(chunk))})"
        found.update((row[0], _object(row)) for row in project.db.execute(query, chunk))
    return found


def object_arrays(project: Project, source_id: int) -> ObjectArrays:
    """All objects of one source as numpy columns."""
    query = (
        "SELECT id, sample_id, label, x, y, w, h, score FROM objects WHERE source_id = ? "
        "ORDER BY sample_id, id"
    )
    rows = project.db.execute(query, (source_id,)).fetchall()
    if not rows:
        empty = np.zeros(0, np.int64)
        return ObjectArrays(
            empty,
            empty.copy(),
            np.zeros(0, np.int32),
            (),
            np.zeros((0, 4), np.float32),
            np.zeros(0, np.float32),
        )
    ids, sample_ids, labels, x, y, w, h, scores = zip(*rows, strict=True)
    classes, codes = np.unique(np.array(labels, dtype=object).astype(str), return_inverse=True)
    return ObjectArrays(
        ids=np.asarray(ids, np.int64),
        sample_ids=np.asarray(sample_ids, np.int64),
        labels=codes.astype(np.int32),
        classes=tuple(str(c) for c in classes),
        boxes=np.stack([x, y, w, h], axis=1).astype(np.float32),
        scores=np.array([np.nan if s is None else s for s in scores], np.float32),
    )


# group_concat hands a whole column to Python as one string that numpy parses in C (as the
# catalog does): no Python tuple per object, and Python's lock is free while SQLite works, so a
# reader thread does not stall the GUI thread. The table is scanned in storage order and sorted
# by numpy (an ordered read through an index visits rows at random). For drawing, coordinates
# can travel as integers in 1/1024 pixel and scores in millionths: SQLite prints integers several
# times faster than reals.
BOX_STEP = 1 / 1024  # object_columns(exact=False): box precision, in pixels
SCORE_STEP = 1e-6  # and score precision
_EXACT = ["x", "y", "w", "h", "IFNULL(score, 0)"]
_STEPPED = [f"CAST(round({c} * 1024) AS INTEGER)" for c in "xywh"] + [
    "CAST(round(IFNULL(score, 0) * 1000000) AS INTEGER)"
]
_COLUMNS = (
    "SELECT group_concat(id), group_concat(sample_id), group_concat(score IS NULL), {} "
    "FROM objects NOT INDEXED WHERE source_id = ?"
)
_LABEL_IDS = "SELECT label, group_concat(id) FROM objects WHERE source_id = ? GROUP BY label"


def object_columns(project: Project, source_id: int, exact: bool = True) -> ObjectArrays:
    """:func:`object_arrays`, read as one text per column parsed by numpy: for a million objects
    several times faster, without holding Python's lock for long. ``exact=False`` (for drawing):
    boxes to :data:`BOX_STEP` and scores to :data:`SCORE_STEP`, about twice as fast again."""
    values = _EXACT if exact else _STEPPED
    query = _COLUMNS.format(", ".join(f"group_concat({v})" for v in values))
    texts = project.db.execute(query, (source_id,)).fetchone()
    if not texts[0]:
        return object_arrays(project, source_id)  # no objects: the empty columns
    ids, sample_ids, unscored = (np.fromstring(t, dtype=np.int64, sep=",") for t in texts[:3])
    number = np.float64 if exact else np.int64
    x, y, w, h, scores = (np.fromstring(t, dtype=number, sep=",") for t in texts[3:])
    order = np.lexsort((ids, sample_ids))
    ids, sample_ids = ids[order], sample_ids[order]
    boxes = np.stack([x, y, w, h], axis=1)[order].astype(np.float64)
    scores = scores[order].astype(np.float64)
    if not exact:
        boxes *= BOX_STEP
        scores *= SCORE_STEP
    scores[unscored[order] == 1] = np.nan
    by_label = sorted(project.db.execute(_LABEL_IDS, (source_id,)).fetchall())
    labels = np.zeros(len(ids), np.int32)
    by_id = np.argsort(ids)
    for code, (_label, text) in enumerate(by_label):
        members = np.fromstring(text, dtype=np.int64, sep=",")
        labels[by_id[np.searchsorted(ids, members, sorter=by_id)]] = code
    return ObjectArrays(
        ids=ids,
        sample_ids=sample_ids,
        labels=labels,
        classes=tuple(str(label) for label, _ in by_label),
        boxes=boxes.astype(np.float32),
        scores=scores.astype(np.float32),
    )


def objects_per_sample(project: Project, source_id: int) -> dict[int, int]:
    """How many objects each sample has in one source (samples without any are left out)."""
    query = "SELECT sample_id, COUNT(*) FROM objects WHERE source_id = ? GROUP BY sample_id"
    return dict(project.db.execute(query, (source_id,)).fetchall())


def _insert_row(obj: NewObject, source_id: int) -> tuple[Any, ...]:
    mask = None if obj.mask is None else json.dumps(obj.mask, separators=(",", ":"))
    return (
        int(obj.sample_id),
        source_id,
        raw(obj.label),
        float(obj.x),
        float(obj.y),
        float(obj.w),
        float(obj.h),
        None if obj.score is None else float(obj.score),
        int(bool(obj.iscrowd)),
        mask,
    )


def _source(row: tuple[Any, ...]) -> AnnotationSource:
    source_id, name, kind, format, origin, classes, created = row
    return AnnotationSource(
        source_id, name, kind, format, origin, tuple(json.loads(classes)), created
    )


def _object(row: tuple[Any, ...]) -> ObjectRow:
    object_id, sample_id, source_id, label, x, y, w, h, score, iscrowd, mask = row
    return ObjectRow(
        object_id,
        sample_id,
        source_id,
        label,
        x,
        y,
        w,
        h,
        score,
        bool(iscrowd),
        None if mask is None else json.loads(mask),
    )
