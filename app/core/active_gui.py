"""What the active-learning panel needs beside the rounds: the label source it remembers, class
counts, and a probe fit that stores uncertainty and the predicted class for every sample.

Torch-free at import (the GUI imports this at start); :func:`fit_probe_job` imports the probe
when it runs, on a worker thread.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

import numpy as np

from app.core.errors import SieveError
from app.core.jobs import CancelToken, Job, Progress
from app.core.store.metadata import write_scores
from app.core.store.project import Project

LABEL_SOURCE_META = "active.label_source"
# The same key active_round_job writes, so a round and a fit keep one score up to date.
UNCERTAINTY_KEY = "active_uncertainty"
PREDICTED_KEY = "active_predicted"
MIN_CLASSES = 2


@dataclass(frozen=True)
class LabelSource:
    """Where labels come from: folder names, or one tag per class (``classes``, in key order).

    ``classes`` is kept while folder names are used, so switching back loses nothing.
    """

    from_folders: bool = False
    classes: tuple[str, ...] = ()

    def with_(self, **changes: object) -> LabelSource:
        return replace(self, **changes)


@dataclass(frozen=True)
class ClassCounts:
    """Labelled samples per class, how many carry any class label, and how many samples exist."""

    names: tuple[str, ...]
    counts: tuple[int, ...]
    labelled: int
    total: int

    @property
    def unlabelled(self) -> int:
        return max(0, self.total - self.labelled)

    @property
    def classes_labelled(self) -> int:
        return sum(count > 0 for count in self.counts)


@dataclass(frozen=True)
class ProbeFit:
    """A fitted probe's summary: classes, labelled rows, held-out accuracy, predictions."""

    classes: tuple[str, ...]
    labelled: int
    samples: int
    accuracy: float | None
    held_out: int
    predicted: tuple[int, ...]  # samples predicted per class, in ``classes`` order


def has_folder_labels(project: Project) -> bool:
    return bool(project.label_counts())


def load_label_source(project: Project) -> LabelSource:
    """The stored source, else folder names when the dataset has them, else tag classes."""
    stored = project.get_meta(LABEL_SOURCE_META)
    if stored is not None:
        try:
            entry = json.loads(stored)
            classes = tuple(entry["classes"])
            if isinstance(entry["folders"], bool) and all(isinstance(c, str) for c in classes):
                return LabelSource(entry["folders"], classes)
        except (ValueError, KeyError, TypeError):
            pass
    return LabelSource(from_folders=has_folder_labels(project))


def save_label_source(project: Project, source: LabelSource) -> None:
    entry = {"folders": source.from_folders, "classes": list(source.classes)}
    project.set_meta(LABEL_SOURCE_META, json.dumps(entry))


def label_tags(project: Project, source: LabelSource) -> list[str] | None:
    """The ``label_tags`` argument of the active-learning jobs: None for folder names, else the
    class tags that exist."""
    if source.from_folders:
        return None
    return [name for name in source.classes if project.tag_id(name) is not None]


def class_counts(project: Project, source: LabelSource) -> ClassCounts:
    """Samples per class (usable ones for folder labels), labelled and total usable samples."""
    total = project.sample_count(status="ok")
    if source.from_folders:
        counts = project.label_counts()
        return ClassCounts(tuple(counts), tuple(counts.values()), sum(counts.values()), total)
    tag_ids = [project.tag_id(name) for name in source.classes]
    tags = [None if tag_id is None else project.tag(tag_id) for tag_id in tag_ids]
    per_class = tuple(0 if tag is None else tag.count for tag in tags)
    present = [tag_id for tag_id in tag_ids if tag_id is not None]
    labelled = 0
    if present:
        marks = ",".join("?" * len(present))
        query = f"SELECT COUNT(DISTINCT sample_id) FROM sample_tags WHERE tag_id IN ({marks})"
        labelled = project.db.execute(query, present).fetchone()[0]
    return ClassCounts(source.classes, per_class, labelled, total)


def fit_probe_job(
    project: Project,
    cancel: CancelToken,
    label_tags: list[str] | None = None,
    seed: int = 0,
) -> Job[ProbeFit]:
    """Fit the probe on the labelled samples of the active set; store uncertainty for all.

    Writes :data:`UNCERTAINTY_KEY` (margin, as the rounds do) and :data:`PREDICTED_KEY` (class
    index into the returned ``classes``). The held-out accuracy uses the seed the next round will
    use, so it matches what that round records when the labels stay the same.
    """
    from app.core.active_loop import uncertainty
    from app.core.active_probe import fit_probe
    from app.core.active_rounds import held_out_accuracy, labelled_embeddings, list_rounds

    yield Progress("probe", 0, None, "reading embeddings and labels")
    _, vectors, ids, labels, names = labelled_embeddings(project, label_tags)
    rows = np.flatnonzero(labels >= 0)
    present = len(np.unique(labels[rows]))
    if present < MIN_CLASSES:
        raise SieveError(
            f"the probe needs labelled samples of at least {MIN_CLASSES} classes "
            f"({present} labelled so far)"
        )
    cancel.raise_if_cancelled()
    yield Progress("probe", 0, None, "measuring held-out accuracy")
    number = len(list_rounds(project)) + 1
    accuracy, held = held_out_accuracy(vectors, rows, labels[rows], seed + number)
    cancel.raise_if_cancelled()
    yield Progress("probe", 0, None, f"fitting the probe on {len(rows):,} labelled samples")
    probe = fit_probe(vectors[rows], labels[rows])
    probabilities = probe.probabilities(vectors)
    predicted = probe.classes[probabilities.argmax(axis=1)].astype(np.int64)
    cancel.raise_if_cancelled()
    yield Progress("probe", 0, None, f"storing uncertainty for {len(ids):,} samples")
    write_scores(
        project, ids, {UNCERTAINTY_KEY: uncertainty(probabilities), PREDICTED_KEY: predicted}
    )
    found = "" if accuracy is None else f", held-out accuracy {accuracy:.1%}"
    yield Progress("probe", 1, 1, f"probe fitted on {len(rows):,} samples{found}")
    return ProbeFit(
        classes=tuple(names),
        labelled=len(rows),
        samples=len(ids),
        accuracy=accuracy,
        held_out=held,
        predicted=tuple(int(c) for c in np.bincount(predicted, minlength=len(names))),
    )
