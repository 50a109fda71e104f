"""Object crops: boxes cut from their decoded image (once per image) as square uint8 pixels.

A crop is the object's box grown by ``padding`` (a fraction of the box's width and height on
each side), clipped to the image and squashed to a square of ``side`` pixels, as samples are
squashed for training. :func:`plan_crops` lists the objects to crop (objects narrower or lower
than ``min_size`` pixels are left out and counted) and cuts them into batches that never split
an image's objects, so each image is decoded once per job. :class:`CropSource` decodes the
images of one batch in a thread pool (video frames of one file in one pass) and cuts their
crops; embedding runs it on a prefetch thread while the backbone works.
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from app.core.data.images import ImageError, load_rgb
from app.core.data.video import VideoError, VideoReader
from app.core.errors import SieveError
from app.core.jobs import CancelToken
from app.core.store.objects import AnnotationSource, ObjectArrays, ground_truth, require_source
from app.core.store.project import Project, SampleRow

DEFAULT_PADDING = 0.1
DEFAULT_MIN_SIZE = 8.0


def annotation_source(project: Project, name: str | None) -> AnnotationSource:
    """The source ``name``, or the ground truth; a readable error when there is none."""
    if name is not None:
        return require_source(project, name)
    truth = ground_truth(project)
    if truth is None:
        raise SieveError(
            f"{project.path} has no annotations: import some first ('sieve import-annotations')"
        )
    return truth


@dataclass(frozen=True, slots=True)
class CropItem:
    """One object to crop: its id, its sample and its box (x, y, w, h) in pixels."""

    id: int
    sample_id: int
    box: tuple[float, float, float, float]


@dataclass(frozen=True, eq=False)
class CropBatchItems:
    """One batch of objects to crop, as columns; iterating gives its :class:`CropItem` s."""

    ids: np.ndarray
    sample_ids: np.ndarray
    boxes: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, position: int) -> CropItem:
        box = tuple(float(v) for v in self.boxes[position])
        return CropItem(int(self.ids[position]), int(self.sample_ids[position]), box)

    def __iter__(self) -> Iterator[CropItem]:
        return (self[position] for position in range(len(self)))


@dataclass(frozen=True)
class CropPlan:
    """Batches of objects to crop (each image's objects in one batch) and what was left out."""

    batches: list[CropBatchItems]
    too_small: int
    """Objects left out because a side is under ``min_size`` pixels."""
    off_samples: int
    """Objects left out because their sample is not usable (broken or missing)."""

    @property
    def count(self) -> int:
        return sum(len(batch) for batch in self.batches)


def plan_crops(
    objects: ObjectArrays, usable: set[int], batch_size: int, min_size: float
) -> CropPlan:
    """The objects of ``objects`` (ordered by sample) on ``usable`` samples with both sides
    >= ``min_size``, in batches of about ``batch_size`` crops that keep each image's objects
    together (columns, never a Python object per object)."""
    if batch_size < 1:
        raise SieveError("batch-size must be at least 1")
    if min_size < 0:
        raise SieveError("min-size cannot be negative")
    on_usable = np.isin(objects.sample_ids, np.fromiter(usable, np.int64, len(usable)))
    large = (objects.boxes[:, 2] >= min_size) & (objects.boxes[:, 3] >= min_size)
    keep = on_usable & large
    ids, samples, boxes = objects.ids[keep], objects.sample_ids[keep], objects.boxes[keep]
    starts = np.flatnonzero(np.r_[True, samples[1:] != samples[:-1]]) if len(ids) else []
    cuts, batch_start = [], 0
    for start in starts:
        if start - batch_start >= batch_size:
            cuts.append(int(start))
            batch_start = int(start)
    edges = [0, *cuts, len(ids)]
    batches = [
        CropBatchItems(ids[a:b], samples[a:b], boxes[a:b])
        for a, b in zip(edges[:-1], edges[1:], strict=True)
        if b > a
    ]
    return CropPlan(batches, int((on_usable & ~large).sum()), int((~on_usable).sum()))


def crop_bounds(
    box: Sequence[float], padding: float, width: int, height: int
) -> tuple[int, int, int, int] | None:
    """``(left, top, right, bottom)`` of the padded box clipped to the image; None when the box
    lies outside it."""
    x, y, w, h = box
    left = max(0, math.floor(x - w * padding))
    top = max(0, math.floor(y - h * padding))
    right = min(width, math.ceil(x + w + w * padding))
    bottom = min(height, math.ceil(y + h + h * padding))
    if right <= left or bottom <= top:
        return None
    return left, top, right, bottom


def cut_crop(image: Image.Image, box: Sequence[float], padding: float, side: int) -> np.ndarray:
    """The object's padded crop from ``image`` as a (side, side, 3) uint8 array."""
    bounds = crop_bounds(box, padding, image.width, image.height)
    if bounds is None:
        raise SieveError(f"box {tuple(round(v, 1) for v in box)} lies outside the image")
    crop = image.crop(bounds)
    if crop.size != (side, side):
        crop = crop.resize((side, side), Image.Resampling.BILINEAR, reducing_gap=3.0)
    return np.asarray(crop, dtype=np.uint8)


@dataclass
class CropBatch:
    """Batch ``k``'s object ids, which were cropped, their pixels and the problems."""

    k: int
    ids: np.ndarray
    ok: np.ndarray
    pixels: np.ndarray
    skipped: list[str]


class CropSource:
    """Cuts the crops of a batch of :class:`CropItem`: each image decoded once, in a pool."""

    def __init__(
        self,
        root: Path,
        rows: dict[int, SampleRow],
        side: int,
        padding: float,
        workers: int = 0,
    ) -> None:
        self.root, self.rows, self.side, self.padding = root, rows, side, padding
        self.stop = CancelToken()
        self.pool = ThreadPoolExecutor(workers or min(8, os.cpu_count() or 2), "sieve-crops")

    def load(self, k: int, items: Sequence[CropItem]) -> CropBatch:
        """Batch ``k``: the crops of ``items`` (in order), and a message per object skipped."""
        crops: list[np.ndarray | None] = [None] * len(items)
        problems: dict[int, str] = {}
        for decoded in self.pool.map(self._cut_group, _groups(self.rows, items)):
            for position, crop, problem in decoded:
                crops[position] = crop
                if problem:
                    problems[position] = problem
        ok = np.array([crop is not None for crop in crops], dtype=bool)
        pixels = np.empty((int(ok.sum()), self.side, self.side, 3), dtype=np.uint8)
        for target, crop in enumerate(crop for crop in crops if crop is not None):
            pixels[target] = crop
        skipped = [
            problems.get(position) or f"object {items[position].id}: could not be cropped"
            for position in np.flatnonzero(~ok)
        ]
        ids = np.array([item.id for item in items], dtype=np.int64)
        return CropBatch(k, ids, ok, pixels, skipped)

    def _cut_group(
        self, group: tuple[SampleRow, list[tuple[int, CropItem]]]
    ) -> list[tuple[int, np.ndarray | None, str]]:
        """Decode one file (an image, or the frames of a video) and cut its objects' crops."""
        row, members = group
        if self.stop.cancelled:
            return []
        try:
            images = self._decode(row, {item.sample_id for _, item in members})
        except (ImageError, VideoError, OSError) as error:
            return [(p, None, f"object {item.id} on {row.name}: {error}") for p, item in members]
        out: list[tuple[int, np.ndarray | None, str]] = []
        for position, item in members:
            image = images.get(item.sample_id)
            if image is None:
                out.append((position, None, f"object {item.id}: its frame could not be read"))
                continue
            sample = self.rows[item.sample_id]
            try:
                crop = cut_crop(image, _scaled(item.box, sample, image), self.padding, self.side)
            except SieveError as error:
                out.append((position, None, f"object {item.id} on {sample.name}: {error}"))
                continue
            out.append((position, crop, ""))
        return out

    def _decode(self, row: SampleRow, sample_ids: set[int]) -> dict[int, Image.Image]:
        """Sample id -> decoded full-resolution RGB image, for ``sample_ids`` of ``row``'s file."""
        if row.frame is None:
            return {row.id: load_rgb(self.root / row.relpath)}
        by_frame = {self.rows[i].frame: i for i in sample_ids}
        with VideoReader(self.root / row.relpath) as reader:
            return {by_frame[f]: image for f, image in reader.iter_frames(sorted(by_frame))}

    def close(self) -> None:
        self.stop.cancel()

    def shutdown(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def _groups(
    rows: dict[int, SampleRow], items: Sequence[CropItem]
) -> list[tuple[SampleRow, list[tuple[int, CropItem]]]]:
    """Items grouped by file: one group per image, one per video (all its frames' objects)."""
    groups: dict[str, list[tuple[int, CropItem]]] = defaultdict(list)
    for position, item in enumerate(items):
        groups[rows[item.sample_id].relpath].append((position, item))
    return [(rows[members[0][1].sample_id], members) for members in groups.values()]


def _scaled(
    box: tuple[float, float, float, float], sample: SampleRow, image: Image.Image
) -> tuple[float, float, float, float]:
    """The box in the decoded image's pixels (it differs from the indexed size only rarely)."""
    if not sample.width or not sample.height:
        return box
    if (image.width, image.height) == (sample.width, sample.height):
        return box
    sx, sy = image.width / sample.width, image.height / sample.height
    return (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy)
