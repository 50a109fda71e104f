"""``sieve tag``, ``sieve selections`` and ``sieve export``: subsets by hand, combined, exported."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from app.cli.annotations import (
    add_annotation_export_arguments,
    annotation_export_job,
    check_annotation_export_arguments,
)
from app.core.errors import SieveError
from app.core.jobs import CancelToken


def add_subset_commands(commands: argparse._SubParsersAction) -> None:
    from app.cli.args import finite_float, int_between, positive_float, positive_int

    select = commands.add_parser("select", help="pick an informative subset and save it")
    select.add_argument("project", help="project folder")
    select.add_argument("--n", type=positive_int, required=True, help="how many to pick")
    select.add_argument(
        "--strategy",
        action="append",
        metavar="SPEC",
        help="diversity[:S], typicality[:S], weight:SCORE[:S], similarity:REF[:S], random "
        "(repeat to combine; default: typicality:3 + diversity)",
    )
    select.add_argument("--balance", metavar="label:TARGET", help="uniform, input or a=0.5,b=0.5")
    select.add_argument("--exclude-tag", help="samples already chosen (e.g. labelled)")
    select.add_argument(
        "--leave-out-tag", help="samples left out entirely (e.g. exclude, from sieve issues)"
    )
    select.add_argument("--min-distance", type=positive_float, help="stop diversity below this")
    select.add_argument(
        "--seed", type=int_between(0, 2**31 - 1), default=0, help="random seed (ties, random)"
    )
    select.add_argument("--name", required=True, help="save the selection under this name")
    select.add_argument("--overwrite", action="store_true", help="replace a selection of that name")
    select.add_argument("--json", action="store_true", help="print JSON")
    select.add_argument(
        "--objects",
        action="store_true",
        help="select objects from the active object set (balance label: object classes)",
    )
    select.set_defaults(handler=cmd_select)

    tag = commands.add_parser("tag", help="tag samples, or list tags")
    tag.add_argument("project", help="project folder")
    tag.add_argument("name", nargs="?", help="tag to add to (created when missing)")
    source = tag.add_mutually_exclusive_group()
    source.add_argument("--selection", help="the members of this saved selection")
    source.add_argument("--samples", metavar="FILE", help="sample names, one per line")
    source.add_argument("--from", dest="operand", metavar="REF", help="selection:NAME or tag:NAME")
    tag.add_argument("--remove", action="store_true", help="remove the tag instead of adding it")
    tag.add_argument("--json", action="store_true", help="list tags as JSON")
    tag.set_defaults(handler=cmd_tag)

    selections = commands.add_parser("selections", help="list or combine saved selections")
    selections.add_argument("project", help="project folder")
    selections.add_argument(
        "--combine",
        nargs=3,
        metavar=("OP", "A", "B"),
        help="union, intersection or difference of A and B (selection:NAME or tag:NAME)",
    )
    selections.add_argument("--name", help="save the combination under this name")
    selections.add_argument("--delete", metavar="NAME", help="delete a saved selection")
    selections.add_argument("--json", action="store_true", help="print JSON")
    selections.set_defaults(handler=cmd_selections)

    export = commands.add_parser("export", help="export a selection or tag as files or lists")
    export.add_argument("project", help="project folder")
    which = export.add_mutually_exclusive_group(required=True)
    which.add_argument("--selection", help="a saved selection (in pick order)")
    which.add_argument("--tag", help="a tag")
    export.add_argument(
        "--format",
        choices=("txt", "csv", "json", "copy", "symlink", "coco", "yolo", "voc"),
        required=True,
        help="a list of names, the files, or the images with their objects (coco, yolo, voc)",
    )
    export.add_argument(
        "--out", required=True, help="file (txt/csv/json) or folder (copy/symlink/coco/yolo/voc)"
    )
    add_annotation_export_arguments(export)
    export.add_argument(
        "--overwrite",
        action="store_true",
        help="replace existing files (not needed to finish an interrupted copy or link export)",
    )
    export.add_argument(
        "--val-fraction",
        type=finite_float(0, 1, low_open=True, high_open=True),
        help="also split into train / val",
    )
    export.add_argument(
        "--seed", type=int_between(0, 2**31 - 1), default=0, help="seed of the split"
    )
    export.set_defaults(handler=cmd_export)


def cmd_select(args: argparse.Namespace) -> int:
    from app.cli.embed import active_set, live_rows
    from app.cli.jobs import run_cancellable
    from app.core.selection.spec import (
        DEFAULT_STRATEGIES,
        SelectSpec,
        parse_balance,
        parse_strategy,
        selection_job,
    )
    from app.core.store.project import Project

    strategies = [parse_strategy(text) for text in args.strategy or []]
    spec = SelectSpec(
        n=args.n,
        strategies=strategies or list(DEFAULT_STRATEGIES),
        balance=parse_balance(args.balance) if args.balance else None,
        exclude_tag=args.exclude_tag,
        leave_out_tag=args.leave_out_tag,
        min_distance=args.min_distance,
        seed=args.seed,
    )
    if args.objects:
        from app.cli.objects import cmd_select_objects

        return cmd_select_objects(args, spec)
    cancel = CancelToken()
    with Project.open(args.project) as project:
        embedding_set = active_set(project, None)
        live = live_rows(project, embedding_set)
        _refresh_stale_scores(project, embedding_set, live, spec, cancel)
        job = selection_job(project, embedding_set, spec, args.name, cancel, args.overwrite, live)
        saved = run_cancellable(job, cancel)
        rows = project.samples_by_id(saved.members.tolist())
        names = [rows[int(i)].name for i in saved.members]
    stopped = saved.strategy.get("stopped_early")
    if args.json:
        print(
            json.dumps(
                {
                    "name": saved.name,
                    "count": len(names),
                    "strategy": saved.strategy,
                    "samples": names,
                    "scores": [None if s != s else round(float(s), 6) for s in saved.scores],
                }
            )
        )
        return 0
    print(
        f"selected {len(names):,} samples as {saved.name!r}"
        + (f" (stopped early: {stopped})" if stopped else "")
    )
    for name in names[:10]:
        print(f"  {name}")
    if len(names) > 10:
        print(f"  ... and {len(names) - 10:,} more (sieve export --selection {saved.name})")
    return 0


def _refresh_stale_scores(project, embedding_set, live, spec, cancel: CancelToken) -> None:
    """Recompute the stored scores a weight strategy reads when another set computed them (cheap);
    refuse a stale score that only another command recomputes."""
    from app.cli.embed import stale_score_notes
    from app.cli.jobs import run_cancellable
    from app.core.embeddings.scores import STORED_KEYS, score_job

    weighted = {entry["score"] for entry in spec.strategies if entry.get("kind") == "weight"}
    refused = stale_score_notes(project, weighted - set(STORED_KEYS))
    if refused:
        raise SieveError(
            f"{refused[0]}: fit the probe again ('sieve label-next') or weight by another score"
        )
    notes = stale_score_notes(project, weighted & set(STORED_KEYS))
    if not notes:
        return
    for note in notes:
        print(f"{note}: recomputing", file=sys.stderr)
    run_cancellable(score_job(project, embedding_set, cancel, live=live), cancel)


def cmd_tag(args: argparse.Namespace) -> int:
    from app.core.store.project import Project
    from app.core.store.selections import get_selection, members_of

    with Project.open(args.project) as project:
        if args.name is None:
            tags = [{"name": t.name, "count": t.count, "color": t.color} for t in project.tags()]
            if args.json:
                print(json.dumps(tags))
            for entry in [] if args.json else tags:
                print(f"{entry['name']}\t{entry['count']:,}")
            return 0
        if args.selection is not None:
            ids = get_selection(project, args.selection).members
        elif args.operand is not None:
            ids = members_of(project, args.operand)
        elif args.samples is not None:
            ids = _ids_of_names(project, Path(args.samples))
        else:
            raise SieveError("say which samples: --selection NAME, --from REF or --samples FILE")
        tag_id = project.tag_id(args.name)
        if tag_id is None:
            if args.remove:
                raise SieveError(f"no tag named {args.name!r}")
            tag_id = project.create_tag(args.name)
        if args.remove:
            project.remove_tag(tag_id, ids.tolist())
        else:
            project.add_tag(tag_id, ids.tolist())
        total = len(project.tagged(tag_id))
    verb = "removed from" if args.remove else "tagged"
    print(f"{len(ids):,} samples {verb} {args.name!r} ({total:,} now tagged)")
    return 0


def _ids_of_names(project, path: Path) -> np.ndarray:
    try:
        names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    except (OSError, UnicodeDecodeError) as error:
        raise SieveError(f"cannot read {path}: {error}") from error
    from app.core.store.names import match_names

    match = match_names(project, [name for name in names if name])
    if match.unmatched:
        raise SieveError(
            f"{len(match.unmatched)} names in {path.name} match no sample "
            f"(first: {match.unmatched[0]})"
        )
    return np.array(match.ids, dtype=np.int64)


def cmd_selections(args: argparse.Namespace) -> int:
    from app.core.store.project import Project
    from app.core.store.selections import (
        combine,
        delete_selection,
        list_selections,
        save_selection,
        selection_labels,
    )

    with Project.open(args.project) as project:
        if args.delete:
            delete_selection(project, args.delete)
            print(f"deleted selection {args.delete!r}")
            return 0
        if args.combine:
            operation, first, second = args.combine
            ids = combine(project, operation, first, second)
            if not args.name:
                raise SieveError("--combine needs --name to save the result")
            strategy = {"combine": operation, "operands": [first, second]}
            save_selection(project, args.name, ids, strategy)
            print(f"saved {args.name!r}: {len(ids):,} samples ({first} {operation} {second})")
            return 0
        listing = [
            {
                "name": s.name,
                "count": len(s.members),
                "created": s.created,
                "strategy": s.strategy,
                "kind": s.kind,
                "labels": selection_labels(project, s),
                **({"objects": len(s.objects)} if s.kind == "objects" else {}),
            }
            for s in list_selections(project)
        ]
    if args.json:
        print(json.dumps(listing))
        return 0
    for entry in listing:
        objects = f" images ({entry['objects']:,} objects)" if entry["kind"] == "objects" else ""
        print(f"{entry['name']}\t{entry['count']:,}{objects}\t{entry['created']}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from app.cli.jobs import run_cancellable
    from app.core.export.subset import export_subset_job
    from app.core.store.metadata import numeric_scores
    from app.core.store.project import Project
    from app.core.store.selections import get_selection, members_of

    check_annotation_export_arguments(args)
    cancel = CancelToken()
    with Project.open(args.project) as project:
        if args.selection is not None:
            selection = get_selection(project, args.selection)
            ids, scores = selection.members, {"score": selection.scores}
        else:
            ids, scores = members_of(project, f"tag:{args.tag}"), {}
        if not len(ids):
            raise SieveError("nothing to export: the selection or tag is empty")
        if args.format in ("csv", "json"):
            scores.update(numeric_scores(project, ids))
        if args.format in ("coco", "yolo", "voc"):
            job = annotation_export_job(project, ids, args, cancel)
        else:
            job = export_subset_job(
                project,
                ids,
                args.format,
                Path(args.out),
                cancel,
                scores=scores,
                overwrite=args.overwrite,
                val_fraction=args.val_fraction,
                seed=args.seed,
            )
        report = run_cancellable(job, cancel)
    for path, count in report.written.items():
        print(f"{count:,} samples -> {path}")
    for problem in report.skipped:
        print(f"skipped: {problem}", file=sys.stderr)
    return 0 if not report.skipped else 1
