"""The objects behind an object set's rows, as numpy columns aligned with the rows' ids."""

from __future__ import annotations

import numpy as np

from app.core.errors import SieveError
from app.core.store.embedding_sets import OBJECTS_SOURCE_KEY, EmbeddingSet
from app.core.store.objects import ObjectArrays, object_arrays
from app.core.store.project import Project


def object_columns(project: Project, embedding_set: EmbeddingSet, ids: np.ndarray) -> ObjectArrays:
    """The objects ``ids`` (rows of object set ``embedding_set``) as columns in ``ids``' order:
    sample ids, class codes (into ``classes``), boxes and scores. Unknown ids are an error."""
    if not embedding_set.of_objects:
        raise SieveError(f"embedding set {embedding_set.id} is a set of images, not of objects")
    source_id = int(embedding_set.config.get(OBJECTS_SOURCE_KEY, -1))
    return align(object_arrays(project, source_id), ids)


def align(objects: ObjectArrays, ids: np.ndarray) -> ObjectArrays:
    """``objects`` reordered to ``ids`` (every id must be one of ``objects``)."""
    ids = np.asarray(ids, dtype=np.int64)
    order = np.argsort(objects.ids, kind="stable")
    at = np.searchsorted(objects.ids[order], ids)
    at = np.minimum(at, max(len(order) - 1, 0))
    if not len(order) or not np.array_equal(objects.ids[order][at], ids):
        raise SieveError("some objects of this embedding set are gone: embed the objects again")
    rows = order[at]
    return ObjectArrays(
        ids=ids,
        sample_ids=objects.sample_ids[rows],
        labels=objects.labels[rows],
        classes=objects.classes,
        boxes=objects.boxes[rows],
        scores=objects.scores[rows],
    )
