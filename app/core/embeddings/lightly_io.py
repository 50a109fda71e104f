"""Embeddings in and out: lightly's ``embeddings.csv`` and plain ``.npy`` with a filename list.

lightly's format: a header ``filenames,embedding_0,...,embedding_{D-1},labels``, then one row per
sample with its name (relative path, or lightly's frame name for a video frame), the values
and an integer label. Sieve writes float32 values with 9 significant digits, which read back
exactly. Labels are indices into the sorted folder labels (0 for every row when there are none,
-1 for an unlabelled sample in a labelled dataset).

The ``.npy`` format holds the N x D float32 matrix; ``<stem>.filenames.txt`` beside it names the
rows, one per line.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.core.errors import SieveError
from app.core.jobs import CancelToken, Job, Progress
from app.core.store.arrays import atomic_file
from app.core.store.embedding_sets import (
    EmbeddingSet,
    LiveRows,
    create_embedding_set,
    finish_embedding_set,
)
from app.core.store.names import duplicated, match_names
from app.core.store.project import Project

FORMATS = ("lightly-csv", "npy")
_EMBEDDING_COLUMN = re.compile(r"embedding_(\d+)$")
_LIGHTLY_EXTRA_COLUMNS = ("masked", "selected")
_REPORT_EVERY = 20_000
_SHOWN = 5


@dataclass
class ImportReport:
    """What an import matched: the new set, and the names that match no sample."""

    embedding_set: EmbeddingSet
    matched: int
    unmatched: list[str] = field(default_factory=list)


def filenames_path(npy_path: Path) -> Path:
    return npy_path.with_name(f"{npy_path.stem}.filenames.txt")


def export_embeddings_job(
    project: Project,
    embedding_set: EmbeddingSet,
    path: Path,
    fmt: str,
    cancel: CancelToken,
    overwrite: bool = False,
    live: LiveRows | None = None,
) -> Job[int]:
    """Write the set's ``live`` rows (default: those whose samples remain) to ``path`` as
    ``fmt``; returns the number of rows written."""
    if fmt not in FORMATS:
        raise SieveError(f"unknown embeddings format {fmt!r}: choose {', '.join(FORMATS)}")
    targets = [path, filenames_path(path)] if fmt == "npy" else [path]
    existing = [target for target in targets if target.exists()]
    if existing and not overwrite:
        raise SieveError(f"{existing[0]} exists: choose another name or pass --overwrite")
    live = embedding_set.live(project) if live is None else live
    vectors, ids = live.vectors, live.ids
    rows = project.samples_by_id(ids.tolist())
    names = [rows[int(i)].name for i in ids]
    try:
        if fmt == "npy":
            with atomic_file(path) as handle:
                np.save(handle, np.asarray(vectors, dtype=np.float32), allow_pickle=False)
            with atomic_file(filenames_path(path)) as handle:
                handle.write("".join(f"{name}\n" for name in names).encode())
            return len(ids)
        labels = _label_indices([rows[int(i)].label for i in ids])
        with atomic_file(path) as handle:
            yield from _write_csv(handle, names, vectors, labels, cancel)
    except OSError as error:
        raise SieveError(f"cannot write {path}: {error.strerror or error}") from error
    return len(ids)


def _write_csv(handle, names, vectors, labels, cancel: CancelToken) -> Job[None]:
    text = io.TextIOWrapper(handle, encoding="utf-8", newline="")
    writer = csv.writer(text, lineterminator="\n")
    dim = vectors.shape[1]
    writer.writerow(["filenames", *(f"embedding_{i}" for i in range(dim)), "labels"])
    for start in range(0, len(names), _REPORT_EVERY):
        cancel.raise_if_cancelled()
        stop = min(start + _REPORT_EVERY, len(names))
        block = np.asarray(vectors[start:stop], dtype=np.float32)
        for offset, row in enumerate(block.tolist()):
            position = start + offset
            writer.writerow([names[position], *(f"{v:.9g}" for v in row), labels[position]])
        yield Progress("export", stop, len(names), f"wrote {stop:,} of {len(names):,} rows")
    text.flush()
    text.detach()


def _label_indices(labels: list[str | None]) -> list[int]:
    names = sorted({label for label in labels if label})
    if not names:
        return [0] * len(labels)
    index = {name: i for i, name in enumerate(names)}
    return [index[label] if label else -1 for label in labels]


def import_embeddings_job(project: Project, path: Path, cancel: CancelToken) -> Job[ImportReport]:
    """Read a lightly CSV or an ``.npy`` (+ filename list) into a new, active embedding set."""
    if not path.is_file():
        raise SieveError(f"{path} is not a file")
    yield Progress("import", 0, None, f"reading {path.name}")
    if path.suffix.lower() == ".npy":
        names, vectors = _read_npy(path)
    else:
        names, vectors = _read_csv(path, cancel)
    _check_names(names, path)
    _check_vectors(vectors, names, path)
    cancel.raise_if_cancelled()
    match = match_names(project, names)
    matched_rows, unmatched = match.matched_positions, match.unmatched
    ids = [match.ids[position] for position in matched_rows]
    if not ids:
        raise SieveError(
            f"none of the {len(names):,} names in {path.name} matches a sample of this project "
            f"(first: {names[0] if names else 'none'!r}); names must be paths relative to the "
            "dataset folder"
        )
    config = {"source": f"imported from {path.name}", "file": str(path)}
    embedding_set = create_embedding_set(project, config)
    metrics = {"source": config["source"], "unmatched": len(unmatched)}
    finish_embedding_set(
        project, embedding_set, np.asarray(ids), vectors[np.asarray(matched_rows)], metrics
    )
    yield Progress(
        "import", 1, 1, f"imported {len(ids):,} embeddings, {len(unmatched):,} unmatched"
    )
    return ImportReport(embedding_set, len(ids), unmatched)


def _read_npy(path: Path) -> tuple[list[str], np.ndarray]:
    names_file = filenames_path(path)
    if not names_file.exists():
        raise SieveError(f"{path.name} needs its row names in {names_file.name} beside it")
    try:
        vectors = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise SieveError(f"{path.name} is not a readable .npy array: {error}") from error
    names = names_file.read_text(encoding="utf-8").splitlines()
    if vectors.ndim != 2 or len(vectors) != len(names):
        raise SieveError(
            f"{path.name} holds {vectors.shape} values for {len(names)} names in {names_file.name}"
        )
    return names, vectors.astype(np.float32)


def _read_csv(path: Path, cancel: CancelToken) -> tuple[list[str], np.ndarray]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            columns = _embedding_columns(header, path)
            names: list[str] = []
            values: list[list[str]] = []
            for line, row in enumerate(reader, start=2):
                if len(row) != len(header):
                    raise SieveError(
                        f"{path.name}, line {line}: {len(row)} fields, the header has {len(header)}"
                    )
                names.append(row[0])
                values.append([row[i] for i in columns])
                if line % _REPORT_EVERY == 0:
                    cancel.raise_if_cancelled()
    except UnicodeDecodeError as error:
        raise SieveError(f"{path.name} is not a UTF-8 text file") from error
    try:
        vectors = np.array(values, dtype=np.float32).reshape(len(names), len(columns))
    except ValueError as error:
        raise SieveError(f"{path.name} has a value that is not a number: {error}") from error
    return names, vectors


def _embedding_columns(header: list[str] | None, path: Path) -> list[int]:
    """Positions of ``embedding_0`` ... ``embedding_{D-1}``, checked as lightly checks them."""
    if not header or header[0] != "filenames" or "labels" not in header:
        raise SieveError(
            f"{path.name} is not a lightly embeddings.csv: the header must be "
            "filenames,embedding_0,...,embedding_N,labels"
        )
    numbered = {}
    for position, column in enumerate(header[1 : header.index("labels")], start=1):
        match = _EMBEDDING_COLUMN.match(column)
        if match:
            numbered[int(match.group(1))] = position
        elif column not in _LIGHTLY_EXTRA_COLUMNS:
            raise SieveError(f"{path.name}: unexpected column {column!r} before 'labels'")
    if not numbered or sorted(numbered) != list(range(len(numbered))):
        raise SieveError(f"{path.name}: embedding columns must be embedding_0 ... embedding_N")
    return [numbered[i] for i in range(len(numbered))]


def _check_names(names: list[str], path: Path) -> None:
    """Refuse a file that names a sample more than once: which row would be its embedding?"""
    repeated = duplicated(names)
    if repeated:
        shown = ", ".join(repeated[:_SHOWN]) + (", ..." if len(repeated) > _SHOWN else "")
        raise SieveError(
            f"{path.name} names {len(repeated):,} file(s) more than once (duplicates: {shown}); "
            "each file may have one embedding"
        )


def _check_vectors(vectors: np.ndarray, names: list[str], path: Path) -> None:
    """Refuse rows with a NaN or infinite value, and zero vectors (they have no direction)."""
    problems = (
        ("hold NaN or infinite values", ~np.isfinite(vectors).all(axis=1)),
        ("are zero vectors", ~vectors.any(axis=1)),
    )
    for what, bad in problems:
        rows = np.flatnonzero(bad)
        if len(rows):
            raise SieveError(f"{path.name}: {_rows_named(rows, names)} {what}; fix or drop them")


def _rows_named(rows: np.ndarray, names: list[str]) -> str:
    """``rows 3, 6 (a.png, b.png)``: the first few rows, counted from 1 as data rows."""
    shown = rows[:_SHOWN].tolist()
    more = f", ... ({len(rows):,} in all)" if len(rows) > _SHOWN else ""
    numbers = ", ".join(str(row + 1) for row in shown) + more
    files = ", ".join(names[row] for row in shown) + (", ..." if more else "")
    return f"{'row' if len(rows) == 1 else 'rows'} {numbers} ({files})"
