"""The project: one folder holding a SQLite database, arrays and caches for one dataset.

Layout::

    <project>/project.sqlite   samples, files, tags, selections, runs, metadata (WAL)
    <project>/thumbs.sqlite    thumbnail cache (safe to delete)
    <project>/arrays/*.npy     embeddings, coordinates, scores (atomic writes)
    <project>/checkpoints/     training checkpoints

A :class:`Project` owns one SQLite connection, so use it from one thread; other threads and
processes open their own ``Project`` on the same folder.
"""

from __future__ import annotations

import errno
import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app import __version__
from app.core.data.video import frame_name
from app.core.errors import SieveError
from app.core.store.arrays import ArrayStore
from app.core.store.db import connect, raw
from app.core.store.schema import label_sql, migrate
from app.core.store.thumbs import ThumbCache

PROJECT_DIRNAME = ".sieve"
DB_NAME = "project.sqlite"
THUMBS_NAME = "thumbs.sqlite"
UNREADABLE_KEY = "index.unreadable"
_CHUNK = 900


@dataclass(frozen=True, slots=True)
class SampleRow:
    """One sample: an image, or one frame of a video."""

    id: int
    relpath: str
    kind: str  # "image" | "frame"
    frame: int | None
    n_frames: int | None
    width: int | None
    height: int | None
    label: str | None
    status: str  # "ok" | "broken" | "missing" (not found at the last index) | "pending" (listed)
    reason: str | None

    @property
    def name(self) -> str:
        """The sample's name: its relative path, or lightly's frame name for a video frame."""
        if self.frame is None:
            return self.relpath
        return frame_name(self.relpath, self.frame, self.n_frames or self.frame + 1)


@dataclass(frozen=True, slots=True)
class Tag:
    id: int
    name: str
    color: str
    count: int


# A sample of a file that was not found at the last index is "missing": kept with its tags,
# selections and scores, but not usable (only "ok" samples are trained on, embedded, counted).
# A sample of a file listed but not yet decoded by the index is "pending": shown, not usable
# either (this expression is the one place that keeps unvalidated rows out of every job).
_STATUS = "CASE WHEN f.missing THEN 'missing' WHEN f.pending THEN 'pending' ELSE s.status END"
MISSING_REASON = "the file was not found at the last index"
PENDING_REASON = "not indexed yet"
_LABEL = label_sql("f.relpath")  # a sample's label is its file's first folder (not stored)
_SAMPLE_COLUMNS = f"""
    s.id, f.relpath, CASE WHEN s.frame IS NULL THEN 'image' ELSE 'frame' END,
    s.frame, f.n_frames, s.width, s.height, {_LABEL}, {_STATUS},
    CASE WHEN f.missing THEN '{MISSING_REASON}' WHEN f.pending THEN '{PENDING_REASON}'
    ELSE s.reason END
"""
_SAMPLE_FROM = "FROM samples s JOIN files f ON f.id = s.file_id"
_SAMPLE_ORDER = "ORDER BY f.relpath, IFNULL(s.frame, -1)"


def find_project_dir(path: str | Path) -> Path | None:
    """``path`` if it is a project folder, ``path/.sieve`` if that is one, else None."""
    path = Path(path)
    for candidate in (path, path / PROJECT_DIRNAME):
        if (candidate / DB_NAME).is_file():
            return candidate
    return None


def _chunks(ids: Sequence[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield [int(i) for i in ids[start : start + _CHUNK]]


class Project:
    """Open with :meth:`open`, :meth:`create` or :meth:`for_dataset`."""

    def __init__(self, path: Path, db: sqlite3.Connection) -> None:
        self.path = path
        self.db = db
        self.arrays = ArrayStore(path / "arrays")
        self._thumbs: ThumbCache | None = None

    # ----------------------------------------------------------------- opening
    @classmethod
    def create(cls, project_dir: str | Path, dataset_root: str | Path) -> Project:
        """Create a project for ``dataset_root`` in ``project_dir`` (or open the one there)."""
        project_dir = Path(project_dir).absolute()
        dataset_root = Path(dataset_root).absolute()
        if not dataset_root.is_dir():
            raise SieveError(f"not a folder: {dataset_root}")
        _make_project_dir(project_dir, dataset_root)
        project = cls._connect(project_dir)
        if project.get_meta("dataset_root") is None:
            project.set_meta("dataset_root", _portable_root(project_dir, dataset_root))
            project.set_meta("created_by", f"sieve {__version__}")
        elif (existing := project.dataset_root) != dataset_root.resolve():
            project.close()
            raise SieveError(f"{project_dir} is the project of another dataset ({existing})")
        return project

    @classmethod
    def open(cls, path: str | Path) -> Project:
        """Open an existing project, given its folder or the dataset folder holding ``.sieve``."""
        project_dir = find_project_dir(path)
        if project_dir is None:
            raise SieveError(
                f"no Sieve project at {path}: run 'sieve index {path}' first, or pass the "
                "project folder"
            )
        return cls._connect(project_dir.absolute())

    @classmethod
    def for_dataset(
        cls, dataset_root: str | Path, project_dir: str | Path | None = None
    ) -> Project:
        """Open the project of a dataset folder, creating it (default ``<dataset>/.sieve``)."""
        dataset_root = Path(dataset_root)
        if project_dir is None:
            project_dir = dataset_root / PROJECT_DIRNAME
        return cls.create(project_dir, dataset_root)

    @classmethod
    def _connect(cls, project_dir: Path) -> Project:
        db = connect(project_dir / DB_NAME)
        try:
            migrate(db)
        except BaseException:
            db.close()
            raise
        return cls(project_dir, db)

    def close(self) -> None:
        if self._thumbs is not None:
            self._thumbs.close()
            self._thumbs = None
        self.db.close()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def dataset_root(self) -> Path:
        value = self.get_meta("dataset_root")
        if value is None:
            raise SieveError(f"the project at {self.path} names no dataset folder")
        return (self.path / value).resolve()

    @property
    def thumbs(self) -> ThumbCache:
        if self._thumbs is None:
            self._thumbs = ThumbCache(self.path / THUMBS_NAME)
        return self._thumbs

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / "checkpoints"

    # -------------------------------------------------------------------- meta
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else row[0]

    def set_meta(self, key: str, value: str) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # ----------------------------------------------------------------- samples
    def sample_count(self, status: str | None = None) -> int:
        """All samples, or those with ``status`` ("ok", "broken" or "missing")."""
        if status is None:
            return self.db.execute("SELECT COUNT(*) FROM samples").fetchone()[0]
        query = f"SELECT COUNT(*) {_SAMPLE_FROM} WHERE {_STATUS} = ?"
        return self.db.execute(query, (status,)).fetchone()[0]

    def samples(
        self, label: str | None = None, status: str | None = None, tag: str | None = None
    ) -> list[SampleRow]:
        """Samples in stable order (relative path, then frame), optionally filtered."""
        where: list[str] = []
        args: list[str | bytes | None] = []
        if label is not None:
            where.append(f"{_LABEL} = CAST(? AS TEXT)")
            args.append(raw(label))
        if status is not None:
            where.append(f"{_STATUS} = ?")
            args.append(status)
        if tag is not None:
            where.append(
                "s.id IN (SELECT st.sample_id FROM sample_tags st JOIN tags t "
                "ON t.id = st.tag_id WHERE t.name = ?)"
            )
            args.append(tag)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        query = f"SELECT {_SAMPLE_COLUMNS} {_SAMPLE_FROM} {clause} {_SAMPLE_ORDER}"
        return [SampleRow(*row) for row in self.db.execute(query, args)]

    def samples_without_thumbnails(self) -> list[SampleRow]:
        """Usable samples missing from the thumbnail cache, found by SQLite (not in Python)."""
        cache_path = self.thumbs.path  # opening the cache creates its file and table
        attached = {row[1] for row in self.db.execute("PRAGMA database_list")}
        if "thumbcache" not in attached:
            self.db.execute("ATTACH DATABASE ? AS thumbcache", (str(cache_path),))
        query = (
            f"SELECT {_SAMPLE_COLUMNS} {_SAMPLE_FROM} WHERE {_STATUS} = 'ok' AND s.id NOT IN "
            f"(SELECT sample_id FROM thumbcache.thumbs) {_SAMPLE_ORDER}"
        )
        return [SampleRow(*row) for row in self.db.execute(query)]

    def samples_by_id(self, sample_ids: Sequence[int]) -> dict[int, SampleRow]:
        found: dict[int, SampleRow] = {}
        for chunk in _chunks(sample_ids):
            marks = ",".join("?" * len(chunk))
            query = f"SELECT {_SAMPLE_COLUMNS} {_SAMPLE_FROM} WHERE s.id IN ({marks})"
            found.update((row[0], SampleRow(*row)) for row in self.db.execute(query, chunk))
        return found

    def label_counts(self) -> dict[str, int]:
        """Usable samples per label (broken ones are listed by :meth:`broken` instead)."""
        query = (
            f"SELECT {_LABEL}, COUNT(*) {_SAMPLE_FROM} WHERE {_LABEL} IS NOT NULL AND "
            f"{_STATUS} = 'ok' GROUP BY 1 ORDER BY 1"  # (by position: `label` is also a column)
        )
        return dict(self.db.execute(query).fetchall())

    def label_count(self) -> int:
        """Distinct labels of the usable samples and of those listed, not decoded yet (a folder
        label is known once its file is listed): the status bar's count at open."""
        query = (
            f"SELECT COUNT(DISTINCT {_LABEL}) {_SAMPLE_FROM} "  # (no label: NULL, not counted)
            f"WHERE {_STATUS} IN ('ok', 'pending')"
        )
        return self.db.execute(query).fetchone()[0]

    def broken(self) -> list[dict[str, str]]:
        """Broken files (one entry per file, also for a whole broken video) with reasons."""
        query = (
            "SELECT f.relpath, COALESCE(f.reason, s.reason) FROM files f "
            "LEFT JOIN samples s ON s.file_id = f.id AND s.status = 'broken' "
            "WHERE NOT f.missing AND NOT f.pending AND (f.status = 'broken' OR s.id IS NOT NULL) "
            "GROUP BY f.id ORDER BY f.relpath"
        )
        return [{"path": path, "reason": reason} for path, reason in self.db.execute(query)]

    def missing_count(self) -> int:
        """Files not found at the last index (kept with their samples until pruned)."""
        return self.db.execute("SELECT COUNT(*) FROM files WHERE missing").fetchone()[0]

    def pending_count(self) -> int:
        """Files listed by an index but not decoded yet (their samples are "pending")."""
        return self.db.execute(
            "SELECT COUNT(*) FROM files WHERE pending AND NOT missing"
        ).fetchone()[0]

    def unreadable(self) -> list[dict[str, str]]:
        """Folders and files the last index could not read: ``{"path", "reason"}`` each."""
        return json.loads(self.get_meta(UNREADABLE_KEY) or "[]")

    def set_unreadable(self, entries: list[dict[str, str]]) -> None:
        """Record what the index could not read (replacing the last index's list)."""
        self.set_meta(UNREADABLE_KEY, json.dumps(entries))

    def summary(self) -> dict[str, Any]:
        """What ``sieve info --json`` prints."""
        kinds = dict(
            self.db.execute(
                "SELECT CASE WHEN s.frame IS NULL THEN 'images' ELSE 'frames' END, COUNT(*) "
                f"{_SAMPLE_FROM} WHERE {_STATUS} = 'ok' GROUP BY 1"
            ).fetchall()
        )
        videos = self.db.execute(
            "SELECT COUNT(*) FROM files WHERE kind = 'video' AND status = 'ok' AND NOT missing"
        ).fetchone()[0]
        return {
            "project": str(self.path),
            "dataset": str(self.dataset_root),
            "samples": self.sample_count(status="ok"),
            "images": kinds.get("images", 0),
            "frames": kinds.get("frames", 0),
            "videos": videos,
            "labels": self.label_counts(),
            "broken": self.broken(),
            "missing": self.missing_count(),
            "pending": self.pending_count(),
            "unreadable": self.unreadable(),
            "tags": {tag.name: tag.count for tag in self.tags()},
            "runs": self.training_runs(),
            "embeddings": self.embedding_runs(),
        }

    def training_runs(self) -> list[dict[str, Any]]:
        """Training runs for listings, oldest first: id, method, backbone, status, epochs_done."""
        return [
            {
                "id": run["id"],
                "method": run["config"].get("method"),
                "backbone": run["config"].get("backbone"),
                "status": run["status"],
                "epochs_done": int(run["metrics"].get("epochs_done", 0)),
            }
            for run in self.runs()
            if run["kind"] == "train"
        ]

    def embedding_runs(self) -> list[dict[str, Any]]:
        """Embedding sets for listings, oldest first: id, kind ("images" | "objects"), source,
        count, dim, status, active (the active set of its kind)."""
        active = {
            "images": self.get_meta("embeddings.active"),
            "objects": self.get_meta("embeddings.active_objects"),
        }
        return [
            {
                "id": run["id"],
                "kind": run["config"].get("kind", "images"),
                "source": run["config"].get("source"),
                "count": run["metrics"].get("count"),
                "dim": run["metrics"].get("dim"),
                "status": run["status"],
                "active": str(run["id"]) == active.get(run["config"].get("kind", "images")),
            }
            for run in self.runs()
            if run["kind"] == "embed"
        ]

    # -------------------------------------------------------------------- tags
    def create_tag(self, name: str, color: str | None = None, tag_id: int | None = None) -> int:
        """Create a tag (with ``tag_id`` if given, see :meth:`next_tag_id`); return its id."""
        name = name.strip()
        if not name:
            raise SieveError("a tag needs a name")
        if color is None:
            query, values = "INSERT INTO tags(id, name) VALUES (?, ?)", (tag_id, name)
        else:
            query, values = (
                "INSERT INTO tags(id, name, color) VALUES (?, ?, ?)",
                (tag_id, name, color),
            )
        try:
            with self.db:
                cursor = self.db.execute(query, values)
        except sqlite3.IntegrityError as error:
            if "tags.id" in str(error):
                raise SieveError(f"cannot create tag {name!r}: id {tag_id} is taken") from error
            raise SieveError(f"a tag named {name!r} exists already") from error
        return int(cursor.lastrowid)

    def next_tag_id(self) -> int:
        """The id the next new tag gets (ids are never reused, even after a delete)."""
        query = (
            "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'tags'), 0), "
            "COALESCE((SELECT MAX(id) FROM tags), 0)) + 1"
        )
        return int(self.db.execute(query).fetchone()[0])

    def tag_id(self, name: str) -> int | None:
        row = self.db.execute("SELECT id FROM tags WHERE name = ?", (name,)).fetchone()
        return None if row is None else row[0]

    def rename_tag(self, tag_id: int, name: str) -> None:
        try:
            with self.db:
                self.db.execute("UPDATE tags SET name = ? WHERE id = ?", (name.strip(), tag_id))
        except sqlite3.IntegrityError as error:
            raise SieveError(f"a tag named {name!r} exists already") from error

    def set_tag_color(self, tag_id: int, color: str) -> None:
        with self.db:
            self.db.execute("UPDATE tags SET color = ? WHERE id = ?", (color, tag_id))

    def delete_tag(self, tag_id: int) -> None:
        with self.db:
            self.db.execute("DELETE FROM tags WHERE id = ?", (tag_id,))

    def tag(self, tag_id: int) -> Tag | None:
        """One tag with its member count, or None if there is no such tag."""
        query = (
            "SELECT t.id, t.name, t.color, COUNT(st.sample_id) FROM tags t "
            "LEFT JOIN sample_tags st ON st.tag_id = t.id WHERE t.id = ? GROUP BY t.id"
        )
        row = self.db.execute(query, (tag_id,)).fetchone()
        return None if row is None else Tag(*row)

    def restore_tag(
        self, tag_id: int, name: str, color: str, sample_ids: Iterable[int] = ()
    ) -> None:
        """Put a deleted tag back with its id, name, colour and members (undoing a delete)."""
        try:
            with self.db:
                self.db.execute(
                    "INSERT INTO tags(id, name, color) VALUES (?, ?, ?)", (tag_id, name, color)
                )
                self.db.executemany(
                    "INSERT OR IGNORE INTO sample_tags VALUES (?, ?)",
                    ((int(i), tag_id) for i in sample_ids),
                )
        except sqlite3.IntegrityError as error:
            raise SieveError(f"cannot restore tag {name!r}: its id or name is taken") from error

    def tags(self) -> list[Tag]:
        query = (
            "SELECT t.id, t.name, t.color, COUNT(st.sample_id) FROM tags t "
            "LEFT JOIN sample_tags st ON st.tag_id = t.id GROUP BY t.id ORDER BY t.name"
        )
        return [Tag(*row) for row in self.db.execute(query)]

    def add_tag(self, tag_id: int, sample_ids: Iterable[int]) -> None:
        with self.db:
            self.db.executemany(
                "INSERT OR IGNORE INTO sample_tags VALUES (?, ?)",
                ((int(i), tag_id) for i in sample_ids),
            )

    def remove_tag(self, tag_id: int, sample_ids: Iterable[int]) -> None:
        with self.db:
            self.db.executemany(
                "DELETE FROM sample_tags WHERE sample_id = ? AND tag_id = ?",
                ((int(i), tag_id) for i in sample_ids),
            )

    def tagged(self, tag_id: int) -> list[int]:
        query = "SELECT sample_id FROM sample_tags WHERE tag_id = ? ORDER BY sample_id"
        return [row[0] for row in self.db.execute(query, (tag_id,))]

    def tags_of(self, sample_id: int) -> list[str]:
        query = (
            "SELECT t.name FROM sample_tags st JOIN tags t ON t.id = st.tag_id "
            "WHERE st.sample_id = ? ORDER BY t.name"
        )
        return [row[0] for row in self.db.execute(query, (sample_id,))]

    # -------------------------------------------------------------------- runs
    def add_run(self, kind: str, config: dict[str, Any]) -> int:
        with self.db:
            cursor = self.db.execute(
                "INSERT INTO runs(kind, config) VALUES (?, ?)", (kind, json.dumps(config))
            )
        return int(cursor.lastrowid)

    def update_run(
        self,
        run_id: int,
        status: str | None = None,
        metrics: dict[str, Any] | None = None,
        checkpoint: str | None = None,
    ) -> None:
        fields = {"status": status, "checkpoint": checkpoint}
        if metrics is not None:
            fields["metrics"] = json.dumps(metrics)
        sets = [f"{key} = ?" for key, value in fields.items() if value is not None]
        values = [value for value in fields.values() if value is not None]
        with self.db:
            self.db.execute(
                f"UPDATE runs SET {', '.join(sets)}, updated = datetime('now') WHERE id = ?",
                (*values, run_id),
            )

    def runs(self) -> list[dict[str, Any]]:
        """Runs oldest first, with their config and metrics decoded."""
        query = (
            "SELECT id, kind, config, status, metrics, checkpoint, created FROM runs ORDER BY id"
        )
        return [
            {
                "id": run_id,
                "kind": kind,
                "config": json.loads(config),
                "status": status,
                "metrics": json.loads(metrics),
                "checkpoint": checkpoint,
                "created": created,
            }
            for run_id, kind, config, status, metrics, checkpoint, created in self.db.execute(query)
        ]


def _make_project_dir(project_dir: Path, dataset_root: Path) -> None:
    try:
        project_dir.mkdir(parents=True, exist_ok=True)
        probe = project_dir / ".sieve-write-test"
        probe.touch()
        probe.unlink()
    except OSError as error:
        if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            hint = ""
            if project_dir.parent == dataset_root:
                hint = (
                    " (is the dataset read-only?): pass --project DIR to keep the project elsewhere"
                )
            raise SieveError(f"cannot write the project folder {project_dir}{hint}") from error
        raise SieveError(f"cannot create the project folder {project_dir}: {error}") from error


def _portable_root(project_dir: Path, dataset_root: Path) -> str:
    """The dataset path as stored: relative when the project lives inside the dataset."""
    try:
        relative = project_dir.resolve().relative_to(dataset_root.resolve())
    except ValueError:
        return str(dataset_root.resolve())
    return "/".join([".."] * len(relative.parts)) or "."
