"""``sieve index / info / ls / demo / gui / import-torchvision``: a project and what it holds."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from app.cli.args import positive_float, positive_int
from app.cli.jobs import open_or_index_target, run_cancellable
from app.core.errors import SieveError
from app.core.jobs import CancelToken

if TYPE_CHECKING:
    from app.core.ingest.indexing import IndexResult
    from app.core.store.project import Project


def add_project_commands(commands: argparse._SubParsersAction) -> None:
    index = commands.add_parser("index", help="index a folder of images and videos")
    index.add_argument("data", help="dataset folder (or its project folder to re-index)")
    index.add_argument("--project", help="project folder (default: DATA/.sieve)")
    sampling = index.add_mutually_exclusive_group()
    sampling.add_argument("--every-nth", type=positive_int, help="keep every n-th video frame")
    sampling.add_argument("--video-fps", type=positive_float, help="sample videos at this rate")
    index.add_argument("--no-thumbnails", action="store_true", help="skip video thumbnails now")
    index.add_argument("--workers", type=positive_int, help="decoding threads (default: cores)")
    index.add_argument(
        "--prune",
        action="store_true",
        help="forget files that are missing (with their tags, selections and scores)",
    )
    index.add_argument(
        "--force", action="store_true", help="with --prune: prune even when most files are missing"
    )
    index.add_argument(
        "--yes", action="store_true", help="index a whole disk or home folder without asking"
    )
    index.set_defaults(handler=cmd_index)

    info = commands.add_parser("info", help="summarise a project")
    info.add_argument("project", help="project folder, or a dataset folder holding .sieve")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(handler=cmd_info)

    ls = commands.add_parser("ls", help="list sample names, one per line")
    ls.add_argument("project", help="project folder, or a dataset folder holding .sieve")
    ls.add_argument("--label", help="only samples with this label")
    ls.add_argument("--broken", action="store_true", help="list the broken files instead")
    ls.set_defaults(handler=cmd_ls)

    demo = commands.add_parser("demo", help="create the demo project and print its path")
    demo.set_defaults(handler=cmd_demo)

    gui = commands.add_parser("gui", help="open the desktop app")
    gui.add_argument("path", nargs="?", help="dataset folder (indexed on opening) or project")
    gui.add_argument("--project", help="project folder for a dataset folder")
    gui.add_argument("--demo", action="store_true", help="open the demo project")
    gui.set_defaults(handler=cmd_gui)

    tv = commands.add_parser(
        "import-torchvision", help="write a torchvision dataset to a labelled folder and index it"
    )
    tv.add_argument("name", help="torchvision.datasets class name, e.g. CIFAR10")
    tv.add_argument("--root", required=True, help="where the dataset's files are")
    tv.add_argument("--out", required=True, help="folder to write the images to")
    tv.add_argument("--split", default="train", help="train, test, ... (default: train)")
    tv.add_argument("--download", action="store_true", help="let torchvision download it")
    tv.add_argument("--limit", type=positive_int, help="only the first N items")
    tv.add_argument("--project", help="project folder (default: OUT/.sieve)")
    tv.set_defaults(handler=cmd_import_torchvision)


def counts_text(summary: dict) -> str:
    """'17 samples (5 images, 12 frames of 1 videos)' from a project summary."""
    return (
        f"{summary['samples']:,} samples ({summary['images']:,} images, "
        f"{summary['frames']:,} frames of {summary['videos']:,} videos)"
    )


def check_index_target(data: str, yes: bool) -> None:
    """Refuse an empty path; a whole disk or the home folder only with --yes or a 'y'."""
    if not data.strip():
        raise SieveError("the dataset folder is an empty path: name the folder to index")
    path = Path(data).expanduser().resolve()
    if yes or (path != Path(path.anchor) and path != Path.home().resolve()):
        return
    what = "a whole disk" if path == Path(path.anchor) else "your home folder"
    if not sys.stdin.isatty():
        raise SieveError(
            f"{path} is {what}: indexing walks everything below it; pass --yes to index it anyway"
        )
    answer = input(f"{path} is {what}: index everything below it? [y/N] ")
    if answer.strip().lower() not in ("y", "yes"):
        raise SieveError(f"not indexing {path}")


def cmd_index(args: argparse.Namespace) -> int:
    from app.core.ingest.indexing import IndexOptions, index_job
    from app.core.ingest.thumbnails import thumbnail_job

    check_index_target(args.data, args.yes)
    workers = {"workers": args.workers} if args.workers else {}
    options = IndexOptions(every_nth=args.every_nth, video_fps=args.video_fps, **workers)
    cancel = CancelToken()
    with open_or_index_target(args.data, args.project) as project:
        result = run_cancellable(index_job(project, options, cancel), cancel)
        warning = result.missing_warning(project.dataset_root)
        if warning is not None:
            hint = "'sieve index --prune' forgets them"
            print(f"sieve: warning: {warning} ({hint})", file=sys.stderr)
        forgotten = prune_missing(project, args.force) if args.prune else None
        if not args.no_thumbnails:
            run_cancellable(thumbnail_job(project, workers=args.workers, cancel=cancel), cancel)
        if project.thumbs.set_aside is not None:
            print(
                f"note: the thumbnail cache was broken: set aside as {project.thumbs.set_aside} "
                "and made again"
            )
        print_index_report(project.summary(), result, forgotten)
        print(f"project: {project.path}")
    return 0


def prune_missing(project: Project, force: bool) -> int:
    """Forget the missing files, unless most files are missing and ``force`` is not given."""
    from app.core.ingest.indexing import forget_missing, mostly_missing

    if mostly_missing(project) and not force:
        raise SieveError(
            f"not pruning: {project.missing_count():,} files are missing, most of the project "
            f"(is the drive with {project.dataset_root} mounted?); pass --force to forget them"
        )
    return forget_missing(project)


def print_index_report(summary: dict, result: IndexResult, forgotten: int | None) -> None:
    """What ``sieve index`` did, then each broken, missing and unreadable path."""
    print(
        f"indexed {summary['dataset']}: {counts_text(summary)}, "
        f"{len(summary['broken']):,} broken, {summary['missing']:,} missing; {result.added:,} "
        f"new, {result.changed:,} changed, {result.returned:,} back, {result.unchanged:,} "
        f"unchanged in {result.seconds:.1f} s"
    )
    for entry in summary["broken"]:
        print(f"broken: {entry['path']}: {entry['reason']}")
    for entry in summary["unreadable"]:
        print(f"unreadable: {entry['path']}: {entry['reason']}")
    if forgotten is not None:
        print(f"forgot {forgotten:,} missing file{'' if forgotten == 1 else 's'}")
    elif summary["missing"]:
        print(
            f"{summary['missing']:,} missing files are kept with their tags: "
            "'sieve index --prune' forgets them"
        )


def pending_note(pending: int, project: str) -> str:
    """Why some files are not usable yet, and what finishes them."""
    return f"{pending:,} files are not indexed yet: run `sieve index {project}` to finish"


def cmd_info(args: argparse.Namespace) -> int:
    from app.core.ssl.runs import mark_interrupted_runs
    from app.core.store.embedding_sets import stale_scores
    from app.core.store.objects import annotation_summary
    from app.core.store.project import Project

    with Project.open(args.project) as project:
        mark_interrupted_runs(project)
        summary = {**project.summary(), "stale_scores": stale_scores(project)}
        summary.update(annotation_summary(project))
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"project  {summary['project']}")
    print(f"dataset  {summary['dataset']}")
    print(f"samples  {counts_text(summary)}")
    if summary["labels"]:
        labels = ", ".join(f"{name} {count:,}" for name, count in summary["labels"].items())
        print(f"labels   {labels}")
    print(f"broken   {len(summary['broken']):,}")
    for entry in summary["broken"]:
        print(f"         {entry['path']}: {entry['reason']}")
    print(f"missing  {summary['missing']:,}")
    if summary["pending"]:
        print(f"pending  {pending_note(summary['pending'], summary['project'])}")
    for source in summary["annotation_sources"]:
        what = f"{source['kind']}, {source['format']}, {len(source['classes'])} classes"
        print(f"objects  {source['name']}: {source['objects']:,} ({what})")
    if summary["unreadable"]:
        print(f"unreadable {len(summary['unreadable']):,}")
    for entry in summary["unreadable"]:
        print(f"         {entry['path']}: {entry['reason']}")
    print(f"runs     {len(summary['runs'])}")
    for run in summary["runs"]:
        print(
            f"         run {run['id']}: {run['method']} {run['backbone']}, {run['status']}, "
            f"{run['epochs_done']} epochs"
        )
    print(f"embeddings {len(summary['embeddings'])}")
    for entry in summary["embeddings"]:
        size = f"{entry['count']:,} x {entry['dim']}" if entry["count"] else "not finished"
        mark = " (active)" if entry["active"] else ""
        print(f"         set {entry['id']}: {entry['source']}, {size}, {entry['status']}{mark}")
    for key, set_id in summary["stale_scores"].items():
        print(f"stale    {key} (from set {set_id}; 'sieve duplicates' computes it again)")
    return 0


def cmd_ls(args: argparse.Namespace) -> int:
    """Print one name per line (its bytes as on disk); a name with a line break: a warning."""
    from app.core.export.subset import has_line_break, line_break_warning, raw_name
    from app.core.store.project import Project

    with Project.open(args.project) as project:
        if args.broken:
            names = [entry["path"] for entry in project.broken()]
        else:
            names = [row.name for row in project.samples(label=args.label, status="ok")]
    for name in filter(has_line_break, names):
        print(f"sieve: warning: {line_break_warning(name)}", file=sys.stderr)
    kept = [raw_name(name) + b"\n" for name in names if not has_line_break(name)]
    sys.stdout.flush()
    sys.stdout.buffer.write(b"".join(kept))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from app.core.ingest.demo import demo_project_job

    cancel = CancelToken()
    print(run_cancellable(demo_project_job(cancel), cancel))
    return 0


def cmd_gui(args: argparse.Namespace) -> int:
    from app.ui.app import run_gui

    return run_gui(args.path, project_dir=args.project, demo=args.demo)


def cmd_import_torchvision(args: argparse.Namespace) -> int:
    from app.core.data.torchvision_import import import_torchvision_job
    from app.core.ingest.indexing import index_job
    from app.core.store.project import Project

    cancel = CancelToken()
    job = import_torchvision_job(
        args.name,
        args.root,
        args.out,
        split=args.split,
        download=args.download,
        limit=args.limit,
        cancel=cancel,
    )
    imported = run_cancellable(job, cancel)
    with Project.for_dataset(imported.out_dir, args.project) as project:
        run_cancellable(index_job(project, cancel=cancel), cancel)
        print(
            f"imported {imported.count:,} images of {len(imported.classes)} classes "
            f"to {imported.out_dir}"
        )
        print(f"project: {project.path}")
    return 0
