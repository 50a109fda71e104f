"""Where active learning's labels come from, and the score keys its rounds and probe write.

Labels are folder names or one tag per class (:class:`LabelSource`, remembered in the project);
:func:`class_counts` counts them. Torch-free: the GUI imports this at start.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

from app.core.store.embedding_sets import active_embedding_set
from app.core.store.project import Project

LABEL_SOURCE_META = "active.label_source"
# One key for the rounds and the probe fit, so both keep the same score up to date.
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


def has_folder_labels(project: Project) -> bool:
    return bool(project.label_counts())


def load_label_source(project: Project, folder_counts: dict[str, int] | None = None) -> LabelSource:
    """The stored source, else folder names when the dataset has them, else tag classes.

    ``folder_counts``: :meth:`Project.label_counts` when already read.
    """
    stored = project.get_meta(LABEL_SOURCE_META)
    if stored is not None:
        try:
            entry = json.loads(stored)
            classes = tuple(entry["classes"])
            if isinstance(entry["folders"], bool) and all(isinstance(c, str) for c in classes):
                return LabelSource(entry["folders"], classes)
        except (ValueError, KeyError, TypeError):
            pass
    has_folders = bool(folder_counts) if folder_counts is not None else has_folder_labels(project)
    return LabelSource(from_folders=has_folders)


def save_label_source(project: Project, source: LabelSource) -> None:
    entry = {"folders": source.from_folders, "classes": list(source.classes)}
    project.set_meta(LABEL_SOURCE_META, json.dumps(entry))


def label_tags(project: Project, source: LabelSource) -> list[str] | None:
    """The ``label_tags`` argument of the active-learning jobs: None for folder names, else the
    class tags that exist."""
    if source.from_folders:
        return None
    return [name for name in source.classes if project.tag_id(name) is not None]


def class_counts(
    project: Project, source: LabelSource, folder_counts: dict[str, int] | None = None
) -> ClassCounts:
    """Samples per class (usable ones for folder labels), labelled and total usable samples."""
    total = project.sample_count(status="ok")
    if source.from_folders:
        counts = project.label_counts() if folder_counts is None else folder_counts
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


@dataclass(frozen=True)
class LabelFacts:
    """What the active-learning panel shows of a project, read in one go (off the GUI thread)."""

    source: LabelSource
    counts: ClassCounts
    folders_available: bool
    has_embeddings: bool


def read_label_facts(project: Project, source: LabelSource | None = None) -> LabelFacts:
    """The label source (the stored one unless ``source`` is given), the class counts, whether
    folder labels exist and whether an embedding set does; the folder counts are read once."""
    folder_counts = project.label_counts()
    source = source or load_label_source(project, folder_counts)
    return LabelFacts(
        source,
        class_counts(project, source, folder_counts),
        bool(folder_counts),
        active_embedding_set(project) is not None,
    )
