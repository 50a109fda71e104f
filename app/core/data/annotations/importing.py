"""Importing an annotation source into a project: read, match, check, then store whole.

Nothing is stored unless every file matched a sample and every entry is good: the problems
(file and line or entry) are raised as one :class:`SieveError` and the project is unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from app.core.data.annotations.coco import read_coco
from app.core.data.annotations.matching import (
    mask_problems,
    match_images,
    new_objects,
    pixel_boxes,
)
from app.core.data.annotations.parsed import ParsedAnnotations, problems_error
from app.core.data.annotations.voc import read_voc
from app.core.data.annotations.yolo import read_yolo
from app.core.errors import SieveError
from app.core.jobs import CancelToken, Job, Progress
from app.core.store.objects import SourceKind, write_source_job
from app.core.store.project import Project

FORMATS = ("coco", "yolo", "voc")
DEFAULT_NAME = "ground_truth"


@dataclass
class ImportReport:
    """What an import stored."""

    name: str
    kind: str
    format: str
    images: int
    objects: int
    classes: list[str] = field(default_factory=list)
    source_id: int = 0


def read_annotations(
    source: str | Path,
    fmt: str,
    reference: str | Path | None = None,
    classes: Sequence[str] | None = None,
) -> ParsedAnnotations:
    """Read ``source`` as ``fmt`` (``reference``: COCO results' dataset json; ``classes``: YOLO
    class names when the folder has none)."""
    if fmt == "coco":
        if Path(source).is_dir():
            raise SieveError(f"{source}: a COCO source is a json file, not a folder")
        return read_coco(source, reference)
    if fmt == "yolo":
        return read_yolo(source, classes)
    if fmt == "voc":
        return read_voc(source)
    raise SieveError(f"unknown annotation format {fmt!r}: choose {', '.join(FORMATS)}")


def import_annotations_job(
    project: Project,
    source: str | Path,
    fmt: str,
    name: str = DEFAULT_NAME,
    kind: SourceKind = "ground_truth",
    cancel: CancelToken | None = None,
    reference: str | Path | None = None,
    classes: Sequence[str] | None = None,
) -> Job[ImportReport]:
    """Import ``source`` as the annotation source ``name`` (replacing one of that name)."""
    cancel = cancel or CancelToken()
    if not Path(source).exists():
        raise SieveError(f"{source}: no such file or folder")
    yield Progress("read annotations", 0, None, f"reading {source}")
    parsed = read_annotations(source, fmt, reference, classes)
    cancel.raise_if_cancelled()
    yield Progress("match images", 0, len(parsed.images), f"{len(parsed.images):,} images")
    matched = match_images(project, parsed)
    problems = parsed.problems + matched.problems
    pixels = pixel_boxes(parsed, matched)
    problems += pixels.problems + mask_problems(parsed, matched)
    if problems:
        raise problems_error(problems, str(source))
    cancel.raise_if_cancelled()
    source_id = yield from write_source_job(
        project,
        name,
        kind,
        fmt,
        new_objects(parsed, matched, pixels),
        len(parsed),
        origin=str(Path(source).absolute()),
        classes=parsed.classes,
        cancel=cancel,
    )
    return ImportReport(
        name, kind, fmt, len(parsed.images), len(parsed), list(parsed.classes), source_id
    )
