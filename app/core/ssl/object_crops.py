"""Training on object crops: every object of an annotation source cut from its image (once per
image, see ``embeddings/crops.py``) into a square of ``cache_side`` pixels, held in memory.

The crops stand in for the training images (:class:`TrainImages`): ids are OBJECT ids and the
labels are the objects' classes, so the kNN monitor measures how well the backbone separates
object classes. Objects smaller than :data:`MIN_SIZE` pixels are left out; crops get the
object-embedding default padding. Used by ``sieve train --objects`` (``TrainConfig.objects``).
"""

from __future__ import annotations

import numpy as np

from app.core.embeddings.crops import (
    DEFAULT_MIN_SIZE,
    DEFAULT_PADDING,
    CropSource,
    annotation_source,
    plan_crops,
)
from app.core.errors import JobCancelled, SieveError
from app.core.jobs import CancelToken, Job, Progress
from app.core.ssl.data import TrainImages, cache_side
from app.core.store.embedding_sets import usable_sample_ids
from app.core.store.objects import object_arrays
from app.core.store.project import Project

AUTO = "auto"  # the ground-truth source
BATCH = 256
MIN_SIZE = DEFAULT_MIN_SIZE


def train_crops_job(
    project: Project, source: str, image_size: int, cancel: CancelToken, workers: int = 0
) -> Job[TrainImages]:
    """The crops of every object of ``source`` (``"auto"``: the ground truth) as training images."""
    annotation = annotation_source(project, None if source in ("", AUTO) else source)
    objects = object_arrays(project, annotation.id)
    usable = set(usable_sample_ids(project).tolist())
    rows = {row.id: row for row in project.samples(status="ok") if row.id in usable}
    plan = plan_crops(objects, set(rows), BATCH, MIN_SIZE)
    if not plan.count:
        raise SieveError(f"the annotations {annotation.name!r} have no objects to train on")
    side = cache_side(image_size)
    pixels = np.zeros((plan.count, side, side, 3), dtype=np.uint8)
    ids = np.zeros(plan.count, dtype=np.int64)
    ok = np.zeros(plan.count, dtype=bool)
    skipped: list[str] = []
    crops = CropSource(project.dataset_root, rows, side, DEFAULT_PADDING, workers)
    done = 0
    yield Progress("decoding", 0, plan.count, f"cutting {plan.count:,} object crops")
    try:
        for k, items in enumerate(plan.batches):
            if cancel.cancelled:
                raise JobCancelled()
            batch = crops.load(k, items)
            span = slice(done, done + len(items))
            ids[span], ok[span] = batch.ids, batch.ok
            pixels[np.flatnonzero(batch.ok) + done] = batch.pixels
            skipped.extend(batch.skipped)
            done += len(items)
            yield Progress("decoding", done, plan.count, f"cut {done:,} of {plan.count:,} crops")
    finally:
        crops.close()
        crops.shutdown()
    if not ok.any():
        raise SieveError(f"no object of {annotation.name!r} could be cropped: {skipped[:1]}")
    codes = dict(zip(objects.ids.tolist(), objects.labels.tolist(), strict=True))
    labels = np.array([codes[int(i)] for i in ids[ok]], dtype=np.int64)
    if plan.too_small:
        skipped.append(f"{plan.too_small:,} objects smaller than {MIN_SIZE:g} px left out")
    return TrainImages(ids[ok], labels, list(objects.classes), pixels[ok], skipped)
