"""What the object map needs: the active object set's points and their colours; the focused
object (a click on the map) that the detail view outlines.

Qt-free: the map runs :func:`object_layout_job` on a worker thread and draws what it returns.
Per point (object) everything is a numpy column: object id, sample id, class code, box, score.
Colour keys: ``"class"``, ``"score"`` (the object's own score, e.g. a prediction's confidence),
``"label_disagreement"`` (after ``sieve object-label-errors``), ``"iou"`` (a prediction's largest
IoU with a ground-truth object of its class) and ``"folder"`` (its image's).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from app.core.embeddings.object_table import object_columns
from app.core.errors import SieveError
from app.core.jobs import CancelToken, Job, Progress
from app.core.store.embedding_sets import OBJECTS_SOURCE_KEY, active_object_set
from app.core.store.objects import ground_truth, sources
from app.core.store.project import Project

NO_OBJECT_SET = (
    "No object embeddings yet: import annotations, then run "
    "'sieve embed PROJECT --objects' to map every object's crop."
)
COLOUR_KEYS = (
    ("class", "Class"),
    ("score", "Score"),
    ("label_disagreement", "Label disagreement"),
    ("iou", "IoU with ground truth"),
    ("folder", "Folder"),
)


@dataclass(frozen=True)
class ObjectFocus:
    """One object to outline: its id, its image, its box (x, y, w, h) in the image's pixels
    and the image's size as indexed."""

    object_id: int
    sample_id: int
    box: tuple[float, float, float, float]
    image_size: tuple[int, int]


@dataclass
class ObjectMapSource:
    """The active object set's live points: per point an object and its columns."""

    set_id: int
    set_name: str
    folder: Path
    source_name: str
    ids: np.ndarray
    sample_ids: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    boxes: np.ndarray
    scores: np.ndarray
    disagreement: np.ndarray | None
    iou: np.ndarray | None
    """Per point of a predictions set: the largest IoU with a ground-truth object of its class."""
    images: np.ndarray
    """The distinct sample ids, ascending; ``image_of`` indexes them per point."""
    image_of: np.ndarray
    image_sizes: np.ndarray
    """Per distinct image: (width, height) as indexed."""
    image_names: list[str]
    vectors: np.ndarray
    note: str = ""

    def focus(self, row: int) -> ObjectFocus:
        """The :class:`ObjectFocus` of point ``row``."""
        image = int(self.image_of[row])
        width, height = (int(v) for v in self.image_sizes[image])
        box = tuple(float(v) for v in self.boxes[row])
        return ObjectFocus(int(self.ids[row]), int(self.sample_ids[row]), box, (width, height))

    def describe(self, row: int) -> str:
        """``"car (0.91) · object 12 · images/a.jpg"``."""
        label = self.classes[int(self.labels[row])]
        score = float(self.scores[row])
        scored = f" ({score:.2f})" if score == score else ""
        name = self.image_names[int(self.image_of[row])]
        return f"{label}{scored} · object {int(self.ids[row])} · {name}"


def load_object_source(project: Project) -> ObjectMapSource:
    """The active object set's live rows and their objects; a readable error when none."""
    from app.core.embeddings.object_scores import iou_with_truth, stored_disagreement

    embedding_set = active_object_set(project)
    if embedding_set is None:
        raise SieveError(NO_OBJECT_SET)
    live = embedding_set.live(project, mmap=False)
    columns = object_columns(project, embedding_set, live.ids)
    images, image_of = np.unique(columns.sample_ids, return_inverse=True)
    rows = project.samples_by_id(images.tolist())
    sizes = np.array(
        [(rows[int(i)].width or 0, rows[int(i)].height or 0) for i in images], dtype=np.int64
    ).reshape(-1, 2)
    stored = stored_disagreement(embedding_set)
    source_id = embedding_set.config.get(OBJECTS_SOURCE_KEY)
    source = next((s for s in sources(project) if s.id == source_id), None)
    truth = ground_truth(project)
    iou = None
    if source is not None and not source.is_ground_truth and truth is not None:
        iou = iou_with_truth(project, columns, truth)
    return ObjectMapSource(
        set_id=embedding_set.id,
        set_name=embedding_set.describe(),
        folder=embedding_set.folder,
        source_name=str(embedding_set.config.get("objects_source", "")),
        ids=live.ids,
        sample_ids=columns.sample_ids,
        labels=columns.labels,
        classes=columns.classes,
        boxes=columns.boxes,
        scores=columns.scores,
        disagreement=None if stored is None else stored[0][live.rows],
        iou=iou,
        images=images,
        image_of=image_of.astype(np.int64),
        image_sizes=sizes,
        image_names=[rows[int(i)].name for i in images],
        vectors=np.asarray(live.vectors, dtype=np.float32),
        note=live.note,
    )


def object_layout_job(
    project_dir: Path, method: str, cancel: CancelToken, params: dict[str, Any] | None = None
) -> Job[np.ndarray]:
    """Lay out the active object set; each ``partial={"kind": "object_layout", "xy": ...,
    "source": ...}`` stands on its own (layouts are cached in the set's folder)."""
    with Project.open(project_dir) as project:
        yield Progress("object map", 0, None, "reading the object embeddings")
        source = load_object_source(project)
    if source.note:
        yield Progress("object map", 0, None, source.note)
    from app.core.embeddings.maps import map_job  # umap loads only when there is a map

    job = map_job(source.vectors, method, params, cancel, cache_dir=source.folder / "maps")
    while True:
        try:
            progress = next(job)
        except StopIteration as stop:
            return stop.value
        partial = progress.partial
        if isinstance(partial, dict) and partial.get("kind") == "layout":
            progress = replace(
                progress, partial={**partial, "kind": "object_layout", "source": source}
            )
        yield progress


def label_errors_job(project_dir: Path, cancel: CancelToken) -> Job[int]:
    """Score the active object set's label disagreement (stored with the set, see
    ``object_scores.py``); returns how many objects disagree with most of their neighbours."""
    from app.core.embeddings.object_scores import object_scores_job

    with Project.open(project_dir) as project:
        embedding_set = active_object_set(project)
        if embedding_set is None:
            raise SieveError(NO_OBJECT_SET)
        scores = yield from object_scores_job(project, embedding_set, cancel)
    return int((scores.disagreement > 0.5).sum())


def object_colour_data(
    source: ObjectMapSource, key: str
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """``(categories, values)`` per point for colour-by ``key`` (one of them None)."""
    if key == "class":  # fixed-width strings: the scatter's unique() sorts them 2-3x faster
        return np.array(source.classes, dtype=str)[source.labels], None
    if key == "score":
        if np.isnan(source.scores).all():
            raise SieveError(f"the objects of {source.source_name!r} have no scores")
        return None, source.scores.astype(np.float64)
    if key == "label_disagreement":
        if source.disagreement is None:
            raise SieveError("no label disagreement yet: run 'sieve object-label-errors'")
        return None, source.disagreement.astype(np.float64)
    if key == "iou":
        if source.iou is None:
            raise SieveError("IoU with the ground truth is for predictions (and a ground truth)")
        return None, source.iou.astype(np.float64)
    if key == "folder":
        folders = np.array(
            [
                name.partition("/")[0] if "/" in name else "(top level)"
                for name in source.image_names
            ],
            dtype=str,
        )
        return folders[source.image_of], None
    raise SieveError(f"cannot colour the object map by {key!r}")


def images_of(source: ObjectMapSource, rows: np.ndarray) -> np.ndarray:
    """The distinct sample ids of the objects at ``rows`` (ascending; no sort of ``rows``)."""
    hit = np.zeros(len(source.images), dtype=bool)
    hit[source.image_of[np.asarray(rows, dtype=np.int64)]] = True
    return source.images[hit]


def box_in_thumbnail(
    box: tuple[float, float, float, float], image_size: tuple[int, int], thumb: tuple[int, int]
) -> tuple[int, int, int, int]:
    """``(left, top, right, bottom)`` of ``box`` in a thumbnail of size ``thumb`` (aspect kept),
    at least one pixel each way."""
    width, height = image_size
    scale_x = thumb[0] / width if width else 1.0
    scale_y = thumb[1] / height if height else 1.0
    x, y, w, h = box
    left = int(max(0, min(thumb[0] - 1, np.floor(x * scale_x))))
    top = int(max(0, min(thumb[1] - 1, np.floor(y * scale_y))))
    right = int(max(left + 1, min(thumb[0], np.ceil((x + w) * scale_x))))
    bottom = int(max(top + 1, min(thumb[1], np.ceil((y + h) * scale_y))))
    return left, top, right, bottom
