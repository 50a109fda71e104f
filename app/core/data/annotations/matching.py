"""Which sample each annotated image is, and the objects in the samples' pixels.

Names are matched by the one rule of :mod:`app.core.store.names` (the relative path), then, for
the names left, by the longest unique ending of the path at a folder boundary, down to the
file name alone: ``val2017/a.jpg`` finds ``coco/val2017/a.jpg``, ``a.jpg`` finds the only sample
called ``a.jpg``. A name that ends several samples' paths equally well is not guessed. YOLO
labels name their image without extension, so they are matched on paths without extensions.

Checks against the samples: the image must be indexed (its size known), a size the labels state
must be the image's, a box may stray outside the image by at most ``max(1 px, 1 %)`` of the side
(it is then clipped), and an RLE mask must have the image's size.
"""

from __future__ import annotations

import posixpath
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np

from app.core.data.annotations.parsed import ParsedAnnotations, Problem
from app.core.store.names import match_names, normalise_name
from app.core.store.objects import NewObject
from app.core.store.project import Project, SampleRow

_AMBIGUOUS = -1
MAX_PROBLEMS = 1000


@dataclass
class Matched:
    """Per image of a parse: its sample id (-1: none), and the sample's width and height."""

    sample_ids: np.ndarray
    widths: np.ndarray
    heights: np.ndarray
    problems: list[Problem]
    skipped: list[str]


def match_files(
    project: Project,
    names: Sequence[str],
    stems: bool = False,
    ambiguous: set[int] | None = None,
) -> list[int | None]:
    """Each name's sample id (None: no sample, or several equally good), by the module's rule;
    the positions of names several samples match go into ``ambiguous`` when given."""
    if stems:
        ids: list[int | None] = [None] * len(names)
    else:
        ids = list(match_names(project, names).ids)
    left = [position for position, found in enumerate(ids) if found is None]
    if not left:
        return ids
    endings = _endings(project, stems)
    root = project.dataset_root
    for position in left:
        parts = normalise_name(names[position], root).split("/")
        for start in range(len(parts)):
            found = endings.get("/".join(parts[start:]))
            if found is not None:
                ids[position] = None if found == _AMBIGUOUS else found
                if found == _AMBIGUOUS and ambiguous is not None:
                    ambiguous.add(position)
                break
    return ids


def _endings(project: Project, stems: bool) -> dict[str, int]:
    """Every ending of every sample's name at a folder boundary -> its sample (or ambiguous)."""
    endings: dict[str, int] = {}
    for row in project.samples():
        name = posixpath.splitext(row.name)[0] if stems else row.name
        parts = name.split("/")
        for start in range(len(parts)):
            key = "/".join(parts[start:])
            endings[key] = _AMBIGUOUS if key in endings and endings[key] != row.id else row.id
    return endings


def match_images(project: Project, parsed: ParsedAnnotations) -> Matched:
    """Match the parse's images to samples and check their sizes (problems listed, not raised)."""
    names = [image.name for image in parsed.images]
    ambiguous: set[int] = set()
    ids = match_files(project, names, parsed.stems, ambiguous)
    rows = project.samples_by_id([i for i in ids if i is not None])
    count = len(names)
    matched = Matched(np.full(count, -1, np.int64), np.zeros(count), np.zeros(count), [], [])
    for position, (image, sample_id) in enumerate(zip(parsed.images, ids, strict=True)):
        if len(matched.problems) >= MAX_PROBLEMS:
            break
        if sample_id is None:
            what = "image" if not parsed.stems else "image (any extension)"
            message = f"no sample of the project is the {what} {image.name!r}"
            if position in ambiguous:
                message = (
                    f"several samples' paths end with {image.name!r}: name the image by its "
                    "path relative to the dataset folder"
                )
            matched.problems.append(Problem(image.where, message))
            continue
        row = rows[sample_id]
        problem = _size_problem(row, image.size)
        if problem:
            matched.problems.append(Problem(image.where, problem))
            continue
        matched.sample_ids[position] = sample_id
        matched.widths[position] = row.width
        matched.heights[position] = row.height
    return matched


def _size_problem(row: SampleRow, stated: tuple[int, int] | None) -> str | None:
    if row.status == "broken":
        return f"the image {row.name} is broken ({row.reason})"
    if row.status == "pending" or row.width is None or row.height is None:
        return f"the image {row.name} is not indexed yet (size unknown): run 'sieve index' first"
    if stated is not None and stated != (row.width, row.height):
        return (
            f"the labels give the image {row.name} the size {stated[0]} x {stated[1]}, but it is "
            f"{row.width} x {row.height}"
        )
    return None


@dataclass
class PixelObjects:
    """The parse's objects in pixels of their samples, ready to store (columns)."""

    sample_ids: np.ndarray
    boxes: np.ndarray  # N x 4 float64, clipped to the image
    problems: list[Problem]


def pixel_boxes(parsed: ParsedAnnotations, matched: Matched) -> PixelObjects:
    """Boxes in pixels (YOLO's fractions scaled), checked against and clipped to the image."""
    images = np.frombuffer(parsed.image_index, np.int64)
    boxes = parsed.box_array().copy()
    widths, heights = matched.widths[images], matched.heights[images]
    if parsed.normalized:
        boxes *= np.stack([widths, heights, widths, heights], axis=1)
    x0, y0 = boxes[:, 0], boxes[:, 1]
    x1, y1 = x0 + boxes[:, 2], y0 + boxes[:, 3]
    tol_x, tol_y = np.maximum(1.0, 0.01 * widths), np.maximum(1.0, 0.01 * heights)
    outside = (x0 < -tol_x) | (y0 < -tol_y) | (x1 > widths + tol_x) | (y1 > heights + tol_y)
    outside &= matched.sample_ids[images] >= 0
    problems = []
    for position in np.flatnonzero(outside)[:MAX_PROBLEMS]:
        x, y, w, h = parsed.box_array()[position]
        image = images[position]
        problems.append(
            Problem(
                parsed.where(int(position)),
                f"box ({x:g}, {y:g}, {w:g}, {h:g}) is outside the image "
                f"({widths[position]:g} x {heights[position]:g})"
                if not parsed.normalized
                else f"box outside the image {parsed.images[image].name}",
            )
        )
    cx0, cy0 = np.clip(x0, 0, widths), np.clip(y0, 0, heights)
    cx1, cy1 = np.clip(x1, 0, widths), np.clip(y1, 0, heights)
    clipped = np.stack([cx0, cy0, cx1 - cx0, cy1 - cy0], axis=1)
    if parsed.normalized:
        clipped = clipped.round(4)  # fractions times sizes: drop the float noise
    return PixelObjects(matched.sample_ids[images], clipped, problems)


def mask_problems(parsed: ParsedAnnotations, matched: Matched) -> list[Problem]:
    """RLE masks whose size is not their image's."""
    problems = []
    for position, mask in parsed.masks.items():
        image = parsed.image_index[position]
        rle = mask.get("rle")
        if rle is None or matched.sample_ids[image] < 0:
            continue
        expected = [int(matched.heights[image]), int(matched.widths[image])]
        if list(rle["size"]) != expected:
            problems.append(
                Problem(
                    parsed.where(position),
                    f"RLE size {rle['size']} is not the image's [height, width] {expected}",
                )
            )
    return problems


def new_objects(
    parsed: ParsedAnnotations, matched: Matched, pixels: PixelObjects, chunk: int = 20_000
) -> Iterator[list[NewObject]]:
    """The objects to store, ``chunk`` at a time (never all of them as Python objects)."""
    classes = parsed.classes
    labels = np.frombuffer(parsed.class_index, np.int64)
    scores = np.frombuffer(parsed.scores, np.float64)
    crowd = np.frombuffer(parsed.iscrowd, np.int8)
    images = np.frombuffer(parsed.image_index, np.int64)
    masked = sorted(parsed.masks)
    for start in range(0, len(parsed), chunk):
        stop = min(start + chunk, len(parsed))
        columns = zip(
            pixels.sample_ids[start:stop].tolist(),
            labels[start:stop].tolist(),
            pixels.boxes[start:stop].tolist(),
            scores[start:stop].tolist(),
            crowd[start:stop].tolist(),
            strict=True,
        )
        batch = [
            NewObject(
                sample_id, classes[label], x, y, w, h, None if score != score else score, bool(c)
            )
            for sample_id, label, (x, y, w, h), score, c in columns
        ]
        for position in masked[bisect_left(masked, start) : bisect_left(masked, stop)]:
            mask = parsed.masks[position]
            if parsed.normalized and "polygons" in mask:
                image = images[position]
                mask = _scaled(mask, matched.widths[image], matched.heights[image])
            batch[position - start] = replace(batch[position - start], mask=mask)
        yield batch


def _scaled(mask: dict, width: float, height: float) -> dict:
    polygons = []
    for polygon in mask["polygons"]:
        values = np.asarray(polygon, np.float64).reshape(-1, 2) * (width, height)
        polygons.append([round(v, 3) for v in values.ravel().tolist()])
    return {"polygons": polygons}
