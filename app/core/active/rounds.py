"""Active-learning rounds on a project: labels, a probe, the next batch, and a record of it.

One round reads the labels (folder names, or one tag per class), measures the probe on a
held-out part of the labelled samples, fits it on all of them, stores its margin uncertainty
per sample (metadata key ``active_uncertainty``), picks the next batch and appends a record to
``<project>/active/rounds.json`` (written atomically).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import NamedTuple

import numpy as np

from app.core.active.labels import UNCERTAINTY_KEY
from app.core.active.loop import (
    NEEDS_TYPICALITY,
    RECOMMENDED,
    STRATEGIES,
    next_batch,
    pool_typicality,
    uncertainty,
)
from app.core.active.probe import fit_probe
from app.core.errors import SieveError
from app.core.jobs import CancelToken, Job, Progress
from app.core.store.arrays import atomic_file
from app.core.store.embedding_sets import (
    LiveRows,
    record_score_source,
    require_active_set,
    score_source,
)
from app.core.store.metadata import write_scores
from app.core.store.project import Project

ROUNDS_FILE = "active/rounds.json"
HELD_OUT = 0.2
MIN_FOR_ACCURACY = 10


@dataclass(frozen=True)
class Round:
    """One round: labelled samples and classes, held-out accuracy, and the sample ids picked."""

    number: int
    strategy: str
    labelled: int
    classes: int
    accuracy: float | None
    held_out: int
    picked: np.ndarray
    embedding_set: int
    created: str


def project_labels(
    project: Project, ids: np.ndarray, label_tags: list[str] | None = None
) -> tuple[np.ndarray, list[str]]:
    """``(class index per id, -1 unlabelled; class names)`` from folders or from tags."""
    position = {int(sample_id): row for row, sample_id in enumerate(np.asarray(ids).tolist())}
    labels = np.full(len(position), -1, dtype=np.int64)
    if label_tags is None:
        named = {row.id: row.label for row in project.samples() if row.label is not None}
        names = sorted(set(named.values()))
        index = {name: i for i, name in enumerate(names)}
        for sample_id, name in named.items():
            if sample_id in position:
                labels[position[sample_id]] = index[name]
        return labels, names
    for class_index, name in enumerate(label_tags):
        tag_id = project.tag_id(name)
        if tag_id is None:
            raise SieveError(f"no tag named {name!r}: create it and tag the samples of that class")
        for sample_id in project.tagged(tag_id):
            row = position.get(sample_id)
            if row is None:
                continue
            if labels[row] >= 0:
                other = label_tags[labels[row]]
                raise SieveError(
                    f"sample {sample_id} is tagged both {other!r} and {name!r}: keep one label"
                )
            labels[row] = class_index
    return labels, list(label_tags)


class Labelled(NamedTuple):
    """The active set's vectors with a class index per row (-1: unlabelled)."""

    set_id: int
    vectors: np.ndarray
    ids: np.ndarray
    labels: np.ndarray
    names: list[str]


def labelled_embeddings(
    project: Project, label_tags: list[str] | None = None, live: LiveRows | None = None
) -> Labelled:
    """The active set's ``live`` rows (default: those whose samples remain) and their labels
    (from folders, or from ``label_tags``)."""
    embedding_set = require_active_set(project)
    live = embedding_set.live(project, mmap=False) if live is None else live
    vectors = np.asarray(live.vectors, dtype=np.float32)
    ids = live.ids
    labels, names = project_labels(project, ids, label_tags)
    return Labelled(embedding_set.id, vectors, ids, labels, names)


def held_out_accuracy(
    embeddings: np.ndarray,
    rows: np.ndarray,
    labels: np.ndarray,
    seed: int = 0,
    cancel: CancelToken | None = None,
) -> tuple[float | None, int]:
    """``(accuracy, count)`` of a probe fitted on all but a held-out :data:`HELD_OUT` share.

    None when fewer than :data:`MIN_FOR_ACCURACY` are labelled or training sees one class.
    """
    if len(rows) < MIN_FOR_ACCURACY:
        return None, 0
    order = np.random.default_rng(seed).permutation(len(rows))
    count = max(1, int(round(HELD_OUT * len(rows))))
    held, train = order[:count], order[count:]
    if len(np.unique(labels[train])) < 2:
        return None, 0
    probe = fit_probe(embeddings[rows[train]], labels[train], cancel=cancel)
    predicted = probe.predict(embeddings[rows[held]])
    return float((predicted == labels[held]).mean()), count


def active_round_job(
    project: Project,
    n: int,
    cancel: CancelToken,
    strategy: str = RECOMMENDED,
    label_tags: list[str] | None = None,
    seed: int = 0,
    tag: str | None = None,
    live: LiveRows | None = None,
) -> Job[Round]:
    """Pick ``n`` samples to label next among the active set's ``live`` rows (default: those
    whose samples remain); tag them ``tag`` (if given) and record the round."""
    if strategy not in STRATEGIES:
        raise SieveError(f"unknown strategy {strategy!r}: choose {', '.join(STRATEGIES)}")
    if n < 1:
        raise SieveError(f"the batch needs at least one sample, not {n}")
    yield Progress("active", 0, None, "reading embeddings and labels")
    set_id, vectors, ids, labels, names = labelled_embeddings(project, label_tags, live)
    rows = np.flatnonzero(labels >= 0)
    if len(rows) == len(ids):
        raise SieveError(f"all {len(ids):,} samples have a label already: nothing left to pick")
    number = len(list_rounds(project)) + 1
    accuracy, held = held_out_accuracy(vectors, rows, labels[rows], seed + number, cancel)
    cancel.raise_if_cancelled()
    probabilities = None
    if len(np.unique(labels[rows])) >= 2:
        yield Progress("active", 0, None, f"fitting the probe on {len(rows):,} labelled samples")
        probe = fit_probe(vectors[rows], labels[rows], cancel=cancel)
        probabilities = probe.probabilities(vectors)
        write_scores(project, ids, {UNCERTAINTY_KEY: uncertainty(probabilities)})
        record_score_source(project, set_id, [UNCERTAINTY_KEY])
    typicality = None
    if strategy in NEEDS_TYPICALITY:
        yield Progress("active", 0, None, "typicality of every sample")
        typicality = stored_typicality(project, ids, set_id)
        if typicality is None:
            typicality = pool_typicality(vectors, cancel=cancel)
    cancel.raise_if_cancelled()
    yield Progress("active", 0, None, f"picking {n:,} samples ({strategy})")
    if probabilities is None:
        probabilities = np.ones((len(ids), 1), dtype=np.float32)
    picked_rows = next_batch(
        vectors, rows, labels[rows], n, strategy, seed, probabilities, typicality, cancel
    )
    picked = ids[picked_rows]
    if tag:
        tag_id = project.tag_id(tag)
        project.add_tag(project.create_tag(tag) if tag_id is None else tag_id, picked.tolist())
    record = Round(
        number=number,
        strategy=strategy,
        labelled=len(rows),
        classes=len(np.unique(labels[rows])),
        accuracy=accuracy,
        held_out=held,
        picked=picked,
        embedding_set=set_id,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    save_round(project, record)
    found = "" if accuracy is None else f", held-out accuracy {accuracy:.1%}"
    yield Progress("active", 1, 1, f"round {number}: picked {len(picked):,}{found}")
    return record


def stored_typicality(project: Project, ids: np.ndarray, set_id: int) -> np.ndarray | None:
    """The ``typicality`` stored by ``sieve duplicates`` for every id, or None if any lacks it
    or it was computed from another embedding set than ``set_id`` (stale)."""
    if score_source(project, "typicality") != set_id:
        return None
    query = "SELECT sample_id, value FROM metadata WHERE key = 'typicality'"
    found = dict(project.db.execute(query).fetchall())
    values = [found.get(int(sample_id)) for sample_id in ids]
    if any(value is None for value in values):
        return None
    return np.asarray(values, dtype=np.float32)


def list_rounds(project: Project) -> list[Round]:
    """Every recorded round, oldest first."""
    path = project.path / ROUNDS_FILE
    if not path.exists():
        return []
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))["rounds"]
    except (ValueError, KeyError, TypeError) as error:
        raise SieveError(
            f"{path} is damaged ({error}): delete it to start the rounds over"
        ) from error
    return [
        Round(**{**entry, "picked": np.asarray(entry["picked"], np.int64)}) for entry in entries
    ]


def save_round(project: Project, record: Round) -> None:
    """Append ``record`` to the project's rounds file."""
    entries = [_as_json(entry) for entry in list_rounds(project)] + [_as_json(record)]
    with atomic_file(project.path / ROUNDS_FILE) as handle:
        handle.write(json.dumps({"rounds": entries}, indent=1).encode())


def _as_json(record: Round) -> dict:
    return {**asdict(record), "picked": [int(i) for i in record.picked]}
