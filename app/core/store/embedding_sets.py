"""Embedding sets: rows of the ``runs`` table (kind ``embed``) with their arrays in a folder.

A set lives in ``<project>/embeddings/set-<id>/``:

- ``vectors.npy``: N x D float32, L2-normalised rows;
- ``ids.npy``: N int64 sample ids, ascending; row ``i`` of ``vectors`` belongs to ``ids[i]``;
- ``center.npy``: for sets Sieve embedded, the mean that was taken off every row (see
  :func:`finish_embedding_set`);
- ``partial/``: finished batches of an embedding job that has not completed yet;
- the faiss index and cached 2-D maps, written by ``neighbors`` and ``maps``.

One set is *active*: the one neighbours, maps, scores and selection use when no set is named.
It is the one named by the ``embeddings.active`` metadata key, else the newest finished set.

A set's ``kind`` (its config's ``kind`` key) is ``images`` (one row per sample; sets made before
kinds existed are image sets) or ``objects`` (one row per object of an annotation source: its ids
are OBJECT ids, see ``app/core/embeddings/objects.py``). The active set is always an image set;
the active object set is named by ``embeddings.active_objects``, else the newest finished one.

Scores computed from a set (typicality, uniqueness, the probe's uncertainty, ...) are stored per
sample; the project metadata key ``scores.<key>.set`` records the set each came from, so a
reader can tell a score computed from another set than the active one (:func:`stale_scores`).

Samples leave a project (their files deleted, missing or broken) while their sets keep their
rows: readers take :meth:`EmbeddingSet.live`, the rows whose samples are still usable, and never
rewrite the arrays, so a file that comes back under its old sample id gets its row back.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.core.errors import SieveError
from app.core.store.arrays import ArrayStore
from app.core.store.project import Project

KIND = "embed"
FINISHED = "finished"
ACTIVE_KEY = "embeddings.active"
ACTIVE_OBJECTS_KEY = "embeddings.active_objects"
KIND_KEY = "kind"
IMAGES = "images"
OBJECTS = "objects"
SET_KINDS = (IMAGES, OBJECTS)
OBJECTS_SOURCE_KEY = "objects_source_id"  # an object set's annotation source id
SCORE_SOURCE_PREFIX = "scores."
SCORE_SOURCE_SUFFIX = ".set"
FOLDER = "embeddings"
VECTORS = "vectors"
IDS = "ids"
CENTER = "center"


@dataclass
class EmbeddingSet:
    """One set of embeddings: what produced it (``config``), its status and its arrays."""

    id: int
    folder: Path
    config: dict[str, Any] = field(default_factory=dict)
    status: str = "created"
    metrics: dict[str, Any] = field(default_factory=dict)
    created: str = ""

    @property
    def arrays(self) -> ArrayStore:
        return ArrayStore(self.folder)

    @property
    def finished(self) -> bool:
        return self.status == FINISHED

    @property
    def kind(self) -> str:
        """``"images"`` (rows are samples) or ``"objects"`` (rows are objects)."""
        return str(self.config.get(KIND_KEY, IMAGES))

    @property
    def of_objects(self) -> bool:
        return self.kind == OBJECTS

    def vectors(self, mmap: bool = True) -> np.ndarray:
        """N x D float32 rows (memory-mapped by default)."""
        return self._load(VECTORS, mmap)

    def ids(self) -> np.ndarray:
        """N int64 ids in row order: sample ids, or object ids for an object set."""
        return self._load(IDS, False)

    def live(self, project: Project, mmap: bool = True) -> LiveRows:
        """The rows whose samples are usable in ``project`` now (the arrays stay untouched).

        For an object set: the rows whose objects still exist on usable samples."""
        ids, vectors = self.ids(), self.vectors(mmap)
        if self.of_objects:
            unit = "object"
            usable = usable_object_ids(project, int(self.config.get(OBJECTS_SOURCE_KEY, -1)))
        else:
            unit, usable = "sample", usable_sample_ids(project)
        keep = np.isin(ids, usable)
        if keep.all():
            return LiveRows(self.id, np.arange(len(ids), dtype=np.int64), ids, vectors, 0, unit)
        if not keep.any():
            raise SieveError(
                f"none of the {len(ids):,} {unit}s of embedding set {self.id} is left in the "
                "project: embed again"
            )
        rows = np.flatnonzero(keep)
        dropped = len(ids) - len(rows)
        return LiveRows(self.id, rows, ids[rows], np.asarray(vectors[rows]), dropped, unit)

    def to_set_space(self, vectors: np.ndarray) -> np.ndarray:
        """Backbone outputs (rows) made comparable with this set's rows: normalised, centred."""
        vectors = l2_normalise(np.atleast_2d(vectors))
        center = self.arrays.load(CENTER)
        return vectors if center is None else l2_normalise(vectors - center)

    def _load(self, name: str, mmap: bool) -> np.ndarray:
        array = self.arrays.load(name, mmap=mmap)
        if array is None:
            raise SieveError(f"embedding set {self.id} has no {name} ({self.status}): embed again")
        return array

    def describe(self) -> str:
        source = self.config.get("source", "?")
        dim = self.metrics.get("dim", "?")
        count = self.metrics.get("count", "?")
        return f"set {self.id}: {source}, {count} x {dim}, {self.status}"


@dataclass(frozen=True, eq=False)
class LiveRows:
    """The rows of a set whose samples are usable: what every reader of a set works on.

    ``rows``: their positions in the set's arrays (ascending); ``ids``: their sample ids;
    ``vectors``: their vectors (the set's own memory map when no row was dropped);
    ``dropped``: how many rows belong to samples that are gone; ``unit``: ``"sample"``, or
    ``"object"`` for an object set (``ids`` are then object ids).
    """

    set_id: int
    rows: np.ndarray
    ids: np.ndarray
    vectors: np.ndarray
    dropped: int
    unit: str = "sample"

    @property
    def note(self) -> str:
        """One line for the user when rows were dropped, else ``""``."""
        if not self.dropped:
            return ""
        if self.unit == "object":
            gone = "object" if self.dropped == 1 else "objects"
            return (
                f"embedding set {self.set_id}: {self.dropped:,} {gone} dropped (deleted, or on "
                "an image that is gone)"
            )
        if self.dropped == 1:
            what = "1 row dropped (its sample is gone from the project)"
        else:
            what = f"{self.dropped:,} rows dropped (their samples are gone from the project)"
        return f"embedding set {self.set_id}: {what}"


def usable_sample_ids(project: Project) -> np.ndarray:
    """Ascending ids of the samples a set's rows may stand for: status ok, file ok, present and
    decoded (a file missing at the last index keeps its samples, unusable until it comes back;
    a file listed but not yet decoded is "pending", unusable until the index validates it)."""
    query = (
        "SELECT s.id FROM samples s JOIN files f ON f.id = s.file_id "
        "WHERE s.status = 'ok' AND f.status = 'ok' AND NOT f.missing AND NOT f.pending "
        "ORDER BY s.id"
    )
    return np.fromiter((row[0] for row in project.db.execute(query)), dtype=np.int64)


def usable_object_ids(project: Project, source_id: int) -> np.ndarray:
    """Ascending ids of the objects of annotation source ``source_id`` on usable samples."""
    query = (
        "SELECT o.id FROM objects o JOIN samples s ON s.id = o.sample_id "
        "JOIN files f ON f.id = s.file_id WHERE o.source_id = ? AND s.status = 'ok' "
        "AND f.status = 'ok' AND NOT f.missing AND NOT f.pending ORDER BY o.id"
    )
    return np.fromiter((row[0] for row in project.db.execute(query, (source_id,))), np.int64)


def set_folder(project: Project, set_id: int) -> Path:
    return project.path / FOLDER / f"set-{set_id}"


def create_embedding_set(project: Project, config: dict[str, Any]) -> EmbeddingSet:
    """A new, empty set whose ``config`` says what produced it (source, backbone, image size)."""
    set_id = project.add_run(KIND, config)
    project.update_run(set_id, status="created", metrics={})
    folder = set_folder(project, set_id)
    folder.mkdir(parents=True, exist_ok=True)
    return EmbeddingSet(set_id, folder, dict(config), "created", {})


def embedding_sets(project: Project) -> list[EmbeddingSet]:
    """Every embedding set, oldest first."""
    return [
        EmbeddingSet(
            row["id"],
            set_folder(project, row["id"]),
            row["config"],
            row["status"],
            row["metrics"],
            row["created"] or "",
        )
        for row in project.runs()
        if row["kind"] == KIND
    ]


def get_embedding_set(project: Project, set_id: int) -> EmbeddingSet:
    for embedding_set in embedding_sets(project):
        if embedding_set.id == set_id:
            return embedding_set
    known = ", ".join(str(s.id) for s in embedding_sets(project)) or "none yet"
    raise SieveError(f"no embedding set {set_id} in {project.path} (sets: {known})")


def active_embedding_set(project: Project) -> EmbeddingSet | None:
    """The set used when none is named: the chosen one, else the newest finished; None if none.

    Only image sets: see :func:`active_object_set` for objects."""
    return _active_of_kind(project, IMAGES)


def active_object_set(project: Project) -> EmbeddingSet | None:
    """The object set used when none is named (chosen, else newest finished); None if none."""
    return _active_of_kind(project, OBJECTS)


def require_object_set(project: Project) -> EmbeddingSet:
    """The active object set, or a readable error telling the user to embed objects first."""
    embedding_set = active_object_set(project)
    if embedding_set is None:
        raise SieveError(
            f"{project.path} has no object embeddings yet: run 'sieve embed --objects' first"
        )
    return embedding_set


def _active_key(kind: str) -> str:
    return ACTIVE_OBJECTS_KEY if kind == OBJECTS else ACTIVE_KEY


def _active_of_kind(project: Project, kind: str) -> EmbeddingSet | None:
    finished = [s for s in embedding_sets(project) if s.finished and s.kind == kind]
    chosen = project.get_meta(_active_key(kind))
    for embedding_set in finished:
        if chosen is not None and str(embedding_set.id) == chosen:
            return embedding_set
    return finished[-1] if finished else None


def require_active_set(project: Project) -> EmbeddingSet:
    """The active set, or a readable error telling the user to embed first."""
    embedding_set = active_embedding_set(project)
    if embedding_set is None:
        raise SieveError(f"{project.path} has no embeddings yet: run 'sieve embed' first")
    return embedding_set


def set_active(project: Project, set_id: int) -> None:
    """Make finished set ``set_id`` the active one; a readable error for any other set."""
    embedding_set = get_embedding_set(project, set_id)
    if not embedding_set.finished:
        raise SieveError(
            f"embedding set {set_id} is {embedding_set.status}, not finished: only a finished "
            f"set can be active ('sieve embed --resume {set_id}' finishes a stopped one)"
        )
    project.set_meta(_active_key(embedding_set.kind), str(set_id))


def record_score_source(project: Project, set_id: int, keys: Iterable[str]) -> None:
    """Note that the stored per-sample scores ``keys`` were computed from set ``set_id``."""
    rows = [(_score_source_key(key), str(int(set_id))) for key in keys]
    with project.db:
        project.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", rows)


def score_source(project: Project, key: str) -> int | None:
    """The set the stored score ``key`` was computed from; None when not recorded."""
    value = project.get_meta(_score_source_key(key))
    return None if value is None else int(value)


def stale_scores(project: Project) -> dict[str, int]:
    """``{key: set id}`` of the stored scores computed from another set than the active one."""
    active = active_embedding_set(project)
    active_id = None if active is None else active.id
    query = "SELECT key, value FROM meta WHERE key LIKE ? ORDER BY key"
    pattern = f"{SCORE_SOURCE_PREFIX}%{SCORE_SOURCE_SUFFIX}"
    stale = {}
    for meta_key, value in project.db.execute(query, (pattern,)):
        key = meta_key[len(SCORE_SOURCE_PREFIX) : -len(SCORE_SOURCE_SUFFIX)]
        if int(value) != active_id:
            stale[key] = int(value)
    return stale


def stale_note(keys: list[str], source: int, active: int | None) -> str:
    """``"typicality was computed from embedding set 2, the active set is 3"``."""
    verb = "was" if len(keys) == 1 else "were"
    now = "there is no active set" if active is None else f"the active set is {active}"
    return f"{', '.join(keys)} {verb} computed from embedding set {source}, {now}"


def _score_source_key(key: str) -> str:
    return f"{SCORE_SOURCE_PREFIX}{key}{SCORE_SOURCE_SUFFIX}"


def finish_embedding_set(
    project: Project,
    embedding_set: EmbeddingSet,
    ids: np.ndarray,
    vectors: np.ndarray,
    metrics: dict[str, Any] | None = None,
    center: bool = False,
) -> EmbeddingSet:
    """Store ``vectors`` (normalised here) for ``ids``; the set becomes finished and active
    (the active object set, for an object set).

    ``center``: take the mean of the normalised rows off every row, then normalise again, and
    keep the mean for queries. Backbone features after a ReLU all point into one orthant, so
    their raw cosine similarities crowd near 1 (a random-init ResNet puts every pair of the demo
    above 0.95); centred, they spread over [-1, 1] and a duplicate threshold means something.
    """
    ids = np.asarray(ids, dtype=np.int64)
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) != len(ids):
        raise ValueError(f"{vectors.shape} vectors for {ids.shape} ids")
    if len(np.unique(ids)) != len(ids):
        raise ValueError("sample ids repeat in an embedding set")
    order = np.argsort(ids, kind="stable")
    ids, vectors = ids[order], l2_normalise(vectors[order])
    if center:
        mean = vectors.mean(axis=0, dtype=np.float64).astype(np.float32)
        vectors = l2_normalise(vectors - mean)
        embedding_set.arrays.save(CENTER, mean)
    embedding_set.arrays.save(VECTORS, vectors)
    embedding_set.arrays.save(IDS, ids)
    shutil.rmtree(embedding_set.folder / "partial", ignore_errors=True)
    done = {**(metrics or {}), "count": int(len(ids)), "dim": int(vectors.shape[1])}
    project.update_run(embedding_set.id, status=FINISHED, metrics=done)
    embedding_set.status, embedding_set.metrics = FINISHED, done
    project.set_meta(_active_key(embedding_set.kind), str(embedding_set.id))
    return embedding_set


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, float32; zero rows stay zero and unit rows keep their bits."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[np.abs(norms - 1.0) <= 1e-6] = 1.0
    return vectors / np.maximum(norms, np.float32(1e-12))
