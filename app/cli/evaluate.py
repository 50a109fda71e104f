"""``sieve evaluate``: predictions against the ground truth (mAP, per-class counts, confusion)."""

from __future__ import annotations

import argparse
import json

from app.core.jobs import CancelToken


def add_evaluate_commands(commands: argparse._SubParsersAction) -> None:
    from app.cli.args import finite_float, fraction

    evaluate = commands.add_parser(
        "evaluate",
        help="evaluate predictions against the ground truth: COCO mAP, TP/FP/FN, confusion",
    )
    evaluate.add_argument("project", help="project folder")
    evaluate.add_argument("--gt", help="ground-truth source (default: the ground truth)")
    evaluate.add_argument(
        "--predictions", help="predictions source (default: 'predictions', else the newest)"
    )
    evaluate.add_argument(
        "--iou",
        type=finite_float(0, 1, low_open=True),
        default=0.5,
        help="IoU to match (default 0.5)",
    )
    evaluate.add_argument("--min-score", type=fraction, default=0.0, help="leave out lower scores")
    evaluate.add_argument("--json", action="store_true", help="print JSON")
    evaluate.set_defaults(handler=cmd_evaluate)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from app.cli.jobs import run_cancellable
    from app.core.evaluation.evaluate import (
        ERROR_KEY,
        ERRORS_SELECTION,
        SCORE_KEYS,
        evaluation_job,
    )
    from app.core.store.project import Project

    cancel = CancelToken()
    with Project.open(args.project) as project:
        job = evaluation_job(project, cancel, args.gt, args.predictions, args.iou, args.min_score)
        result = run_cancellable(job, cancel)
    summary = result.to_json()
    if args.json:
        print(json.dumps(summary))
        return 0
    print(format_summary(summary))
    print(
        f"\nstored per image: {', '.join(SCORE_KEYS)} (sort the grid by {ERROR_KEY}); the "
        f"images with errors, worst first, as the selection {ERRORS_SELECTION!r}"
    )
    return 0


def format_summary(summary: dict) -> str:
    """The human table: totals, one row per class, then the confusion matrix."""
    lines = [
        f"{summary['predictions']!r} against {summary['ground_truth']!r} on "
        f"{summary['images']:,} images (IoU {summary['iou']:g}): mAP {_ap(summary['map'])}, "
        f"mAP50 {_ap(summary['map50'])}; {summary['images_with_errors']:,} images with errors",
        "",
        f"{'class':<20} {'AP':>6} {'AP50':>6} {'objects':>8} {'TP':>7} {'FP':>7} {'FN':>7}",
    ]
    for name, r in summary["per_class"].items():
        lines.append(
            f"{name[:20]:<20} {_ap(r['ap']):>6} {_ap(r['ap50']):>6} {r['objects']:>8,} "
            f"{r['tp']:>7,} {r['fp']:>7,} {r['fn']:>7,}"
        )
    labels = summary["confusion"]["classes"]
    width = max(6, *(len(label[:12]) for label in labels)) + 1
    lines += ["", "confusion (rows: ground truth, columns: predicted)"]
    lines.append(" " * width + "".join(f"{label[:12]:>{width}}" for label in labels))
    for label, row in zip(labels, summary["confusion"]["matrix"], strict=True):
        lines.append(f"{label[:12]:<{width}}" + "".join(f"{v:>{width},}" for v in row))
    return "\n".join(lines)


def _ap(value: float) -> str:
    return "-" if value < 0 else f"{value:.3f}"
