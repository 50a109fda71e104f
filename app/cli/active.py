"""``sieve import-predictions``, ``sieve label-next`` and ``sieve rounds``: active learning."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from app.core.jobs import CancelToken


def add_active_commands(commands: argparse._SubParsersAction) -> None:
    from app.cli.args import int_between, positive_int
    from app.core.active.strategies import RECOMMENDED, STRATEGIES

    predictions = commands.add_parser(
        "import-predictions",
        help="a model's predictions: uncertainty scores (CSV or JSON), or detections with "
        "scores kept as an annotation source (--format coco|yolo)",
    )
    predictions.add_argument("project", help="project folder")
    predictions.add_argument(
        "file",
        help="CSV filename,<class>... or JSON keyed by filename; with --format: a COCO results "
        "json or a YOLO folder (txt lines with a score)",
    )
    kind = predictions.add_mutually_exclusive_group()
    kind.add_argument("--logits", action="store_true", help="values are logits (softmaxed)")
    kind.add_argument("--probabilities", action="store_true", help="values are probabilities")
    predictions.add_argument("--reduce", choices=("max", "mean"), help="detection: per image")
    predictions.add_argument(
        "--format", choices=("coco", "yolo"), help="detections in COCO results json or YOLO txt"
    )
    predictions.add_argument(
        "--name", help="with --format: the annotation source's name (default: predictions)"
    )
    predictions.add_argument(
        "--reference",
        help="COCO results: the dataset json naming their ids (default: the ground truth's)",
    )
    predictions.add_argument(
        "--classes", help="YOLO without class names: the names, comma-separated in id order"
    )
    predictions.set_defaults(handler=cmd_import_predictions)

    label_next = commands.add_parser(
        "label-next", help="what to label next: fit a probe on the labels, pick the next batch"
    )
    label_next.add_argument("project", help="project folder")
    label_next.add_argument("-n", type=positive_int, default=40, help="batch size (default 40)")
    label_next.add_argument(
        "--strategy", choices=STRATEGIES, default=RECOMMENDED, help=f"default: {RECOMMENDED}"
    )
    label_next.add_argument(
        "--label-tags", help="tags that are classes, comma-separated (default: folder labels)"
    )
    label_next.add_argument("--tag", default="to-label", help="tag for the picked samples")
    label_next.add_argument("--seed", type=int_between(0, 2**31 - 1), default=0, help="random seed")
    label_next.add_argument("--json", action="store_true", help="print JSON")
    label_next.set_defaults(handler=cmd_label_next)

    rounds = commands.add_parser("rounds", help="the active-learning rounds so far")
    rounds.add_argument("project", help="project folder")
    rounds.add_argument("--json", action="store_true", help="print JSON")
    rounds.set_defaults(handler=cmd_rounds)


def cmd_import_predictions(args: argparse.Namespace) -> int:
    if args.format is not None:
        return _import_detections(args)
    from app.core.errors import SieveError

    for flag, value in (("--name", args.name), ("--reference", args.reference)):
        if value is not None:
            raise SieveError(f"{flag} is for detections: add --format coco or --format yolo")
    from app.cli.jobs import run_cancellable
    from app.core.active.predictions import import_predictions_job
    from app.core.store.project import Project

    logits = True if args.logits else False if args.probabilities else None
    cancel = CancelToken()
    with Project.open(args.project) as project:
        job = import_predictions_job(project, Path(args.file), cancel, logits, args.reduce)
        report = run_cancellable(job, cancel)
    print(
        f"{report.kind} predictions for {report.matched:,} samples "
        f"({len(report.classes)} classes{', from logits' if report.logits else ''}); "
        f"scores: {', '.join(report.scorers)}"
    )
    if report.unmatched:
        shown = ", ".join(report.unmatched[:5])
        print(f"{len(report.unmatched):,} names matched no sample: {shown}")
    return 0


def _import_detections(args: argparse.Namespace) -> int:
    from app.cli.jobs import run_cancellable
    from app.core.active.detection_predictions import DEFAULT_SOURCE, import_detections_job
    from app.core.errors import SieveError
    from app.core.store.project import Project

    if args.logits or args.probabilities:
        raise SieveError("--logits / --probabilities are for classification files, not --format")
    classes = [c.strip() for c in args.classes.split(",")] if args.classes else None
    cancel = CancelToken()
    with Project.open(args.project) as project:
        job = import_detections_job(
            project,
            Path(args.file),
            args.format,
            cancel,
            args.name or DEFAULT_SOURCE,
            args.reference,
            classes,
            args.reduce,
        )
        report = run_cancellable(job, cancel)
    print(
        f"{report.boxes:,} predicted boxes on {report.images:,} images as {report.name!r} "
        f"({len(report.classes)} classes); scores: {', '.join(report.scorers)}"
    )
    return 0


def cmd_label_next(args: argparse.Namespace) -> int:
    from app.cli.embed import live_rows
    from app.cli.jobs import run_cancellable
    from app.core.active.rounds import active_round_job
    from app.core.store.embedding_sets import require_active_set
    from app.core.store.project import Project

    label_tags = [t.strip() for t in args.label_tags.split(",")] if args.label_tags else None
    cancel = CancelToken()
    with Project.open(args.project) as project:
        live = live_rows(project, require_active_set(project))
        job = active_round_job(
            project, args.n, cancel, args.strategy, label_tags, args.seed, args.tag, live
        )
        record = run_cancellable(job, cancel)
        rows = project.samples_by_id(record.picked.tolist())
        names = [rows[int(i)].name for i in record.picked]
    accuracy = None if record.accuracy is None else round(record.accuracy, 4)
    if args.json:
        print(
            json.dumps(
                {
                    "round": record.number,
                    "strategy": record.strategy,
                    "labelled": record.labelled,
                    "accuracy": accuracy,
                    "picked": names,
                }
            )
        )
        return 0
    found = "" if accuracy is None else f", held-out probe accuracy {accuracy:.1%}"
    print(f"round {record.number} ({record.strategy}): {record.labelled:,} labelled{found}")
    print(f"tagged {len(names):,} samples {args.tag!r} to label next")
    return 0


def cmd_rounds(args: argparse.Namespace) -> int:
    from app.core.active.rounds import list_rounds
    from app.core.store.project import Project

    with Project.open(args.project) as project:
        rounds = list_rounds(project)
    listing = [
        {
            "round": r.number,
            "strategy": r.strategy,
            "labelled": r.labelled,
            "accuracy": r.accuracy,
            "picked": len(r.picked),
            "created": r.created,
        }
        for r in rounds
    ]
    if args.json:
        print(json.dumps(listing))
        return 0
    for r in listing:
        accuracy = "-" if r["accuracy"] is None else f"{r['accuracy']:.1%}"
        print(f"{r['round']:>3}  {r['strategy']:<28} {r['labelled']:>7,} labelled  {accuracy}")
    return 0
