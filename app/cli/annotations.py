"""``sieve import-annotations``: COCO, YOLO or VOC labels into a project as a named source."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from app.core.jobs import CancelToken, Job

if TYPE_CHECKING:
    from app.core.export.subset import ExportReport
    from app.core.store.project import Project


def add_annotation_commands(commands: argparse._SubParsersAction) -> None:
    from app.core.data.annotations.importing import DEFAULT_NAME, FORMATS

    parser = commands.add_parser(
        "import-annotations",
        help="import COCO, YOLO or VOC labels (boxes, polygons, masks) as an annotation source",
    )
    parser.add_argument("project", help="project folder, or a dataset folder holding .sieve")
    parser.add_argument(
        "source",
        help="a COCO json file, a YOLO folder (data.yaml or classes.txt) or a folder of VOC xml",
    )
    parser.add_argument("--format", choices=FORMATS, required=True, help="the labels' format")
    parser.add_argument(
        "--name",
        default=DEFAULT_NAME,
        help=f"the source's name (default {DEFAULT_NAME}; an existing source of that name is "
        "replaced)",
    )
    parser.set_defaults(handler=cmd_import_annotations)


def cmd_import_annotations(args: argparse.Namespace) -> int:
    return import_source(args.project, args.source, args.format, args.name, "ground_truth")


def import_source(
    project_path: str,
    source: str,
    fmt: str,
    name: str,
    kind: str,
    reference: str | None = None,
    classes: Sequence[str] | None = None,
) -> int:
    """Import ``source`` into the project as ``name`` of ``kind`` and say what was stored."""
    from app.cli.jobs import run_cancellable
    from app.core.data.annotations.importing import import_annotations_job
    from app.core.store.project import Project

    cancel = CancelToken()
    with Project.open(project_path) as project:
        job = import_annotations_job(
            project, source, fmt, name, kind, cancel, reference=reference, classes=classes
        )
        report = run_cancellable(job, cancel)
    print(
        f"imported {report.objects:,} objects on {report.images:,} images as {report.name!r} "
        f"({report.kind}, {report.format}; {len(report.classes)} classes)"
    )
    return 0


def add_annotation_export_arguments(export: argparse.ArgumentParser) -> None:
    """``sieve export``'s options for the coco, yolo and voc formats."""
    export.add_argument(
        "--source",
        help="coco/yolo/voc: the annotation source to export (default: the ground truth)",
    )
    export.add_argument(
        "--link",
        action="store_true",
        help="coco/yolo/voc: link the images instead of copying them",
    )


def annotation_export_job(
    project: Project, ids: Sequence[int], args: argparse.Namespace, cancel: CancelToken
) -> Job[ExportReport]:
    """The export job for ``sieve export --format coco|yolo|voc``."""
    from app.core.export.annotations import export_annotations_job

    return export_annotations_job(
        project,
        ids,
        args.format,
        Path(args.out),
        cancel,
        source_name=args.source,
        link=args.link,
        overwrite=args.overwrite,
        val_fraction=args.val_fraction,
        seed=args.seed,
    )


def check_annotation_export_arguments(args: argparse.Namespace) -> None:
    """Refuse ``--source`` / ``--link`` with a format that has no labels to export."""
    from app.core.errors import SieveError

    if args.format not in ("coco", "yolo", "voc") and (args.source or args.link):
        flag = "--source" if args.source else "--link"
        raise SieveError(f"{flag} goes with --format coco, yolo or voc, not {args.format}")
