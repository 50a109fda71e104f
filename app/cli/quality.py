"""``sieve issues``: data-quality checks from the index statistics (and embeddings when a set
exists), as a table or JSON; optionally tags what was found."""

from __future__ import annotations

import argparse
import json

from app.core.jobs import CancelToken

SHOWN = 5


def add_quality_commands(commands: argparse._SubParsersAction) -> None:
    from app.cli.args import int_between
    from app.core.quality.checks import CHECKS

    issues = commands.add_parser(
        "issues",
        help="find dark, light, blurry, low-information, grayscale, odd-sized images, "
        "duplicates, outliers and label errors",
    )
    issues.add_argument("project", help="project folder")
    issues.add_argument(
        "--checks", metavar="LIST", help=f"comma-separated, default all: {', '.join(CHECKS)}"
    )
    issues.add_argument(
        "--threshold",
        action="append",
        metavar="CHECK=VALUE",
        help="replace a check's threshold (default: relative to this dataset), e.g. dark=0.2",
    )
    issues.add_argument("--tag", metavar="NAME", help="also tag every sample found (e.g. exclude)")
    issues.add_argument(
        "--limit",
        type=int_between(0, None),
        help="list at most this many samples per check (default: all in JSON, 5 in the table)",
    )
    issues.add_argument("--json", action="store_true", help="print JSON")
    issues.set_defaults(handler=cmd_issues)


def cmd_issues(args: argparse.Namespace) -> int:
    from app.cli.jobs import JobPrinter, run_cancellable
    from app.core.quality.checks import CHECKS
    from app.core.quality.run import check_names, issues_job
    from app.core.quality.thresholds import parse_thresholds
    from app.core.store.project import Project

    names = check_names(args.checks)
    thresholds = parse_thresholds(args.threshold, CHECKS)
    cancel = CancelToken()
    with Project.open(args.project) as project:
        job = issues_job(project, names, thresholds, cancel)
        report = run_cancellable(job, cancel, JobPrinter(quiet=args.json))
        tagged = _tag(project, report, args.tag) if args.tag else None
    data = report.to_json(args.limit)
    if args.json:
        if tagged is not None:
            data["tagged"] = {"tag": args.tag, "count": tagged}
        print(json.dumps(data))
        return 0
    _print_table(data, SHOWN if args.limit is None else args.limit)
    if tagged is not None:
        print(f"{tagged:,} samples tagged {args.tag!r}")
    return 0


def _tag(project, report, name: str) -> int:
    import numpy as np

    flagged = np.zeros(len(report.stats), dtype=bool)
    for result in report.results.values():
        flagged |= result.flagged
    ids = report.stats.ids[flagged].tolist()
    tag_id = project.tag_id(name)
    if tag_id is None:
        tag_id = project.create_tag(name)
    project.add_tag(tag_id, ids)
    return len(ids)


def _print_table(data: dict, shown: int) -> None:
    print(f"{'check':<18} {'count':>7}  {'threshold':>10}  worst")
    for name, entry in data["checks"].items():
        threshold = entry["threshold"]
        limit = "-" if threshold is None else f"{threshold:.4g}"
        worst = ", ".join(sample["path"] for sample in entry["samples"][:shown])
        print(f"{name:<18} {entry['count']:>7,}  {limit:>10}  {worst or entry.get('note', '')}")
    if "note" in data:
        print(f"note: {data['note']}")
