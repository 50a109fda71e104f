"""The training commands of the CLI: ``train``, ``methods`` and ``export-backbone``.

``sieve train``'s flags are generated from :class:`TrainConfig`'s fields, so the CLI, the GUI
form and the stored run config cannot drift apart.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

from app.cli.args import in_range, positive_int
from app.cli.jobs import JobPrinter, run_cancellable
from app.core.errors import SieveError
from app.core.jobs import CancelToken
from app.core.ssl.config import TrainConfig, config_fields, parse_pairs

SKIP_FLAGS = {"options", "augment", "objects"}


def add_train_commands(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser(
        "train",
        help="train a self-supervised model on a project",
        description="Train a self-supervised backbone. Ctrl-C stops after the current step and "
        "writes a checkpoint; '--resume RUN' continues it.",
    )
    train.add_argument("project", help="project folder (or the dataset folder it indexes)")
    train.add_argument("--resume", type=positive_int, metavar="RUN", help="continue a stopped run")
    for spec in config_fields():
        if spec.name not in SKIP_FLAGS:
            _add_field_flag(train, spec)
    for flag, dest, example in (
        ("--option", "options", "method hyperparameter (repeatable), e.g. temperature=0.2"),
        ("--augment", "augment", "augmentation override (repeatable), e.g. blur_prob=0"),
    ):
        train.add_argument(
            flag,
            dest=dest,
            action="append",
            metavar="KEY=VALUE",
            default=argparse.SUPPRESS,
            help=example,
        )
    train.add_argument(
        "--objects",
        nargs="?",
        const="auto",
        default=argparse.SUPPRESS,
        metavar="SOURCE",
        help="train on object crops (of the ground truth, or of the annotation source SOURCE)",
    )
    train.set_defaults(handler=cmd_train)

    methods = commands.add_parser("methods", help="list training methods and their defaults")
    methods.add_argument("--json", action="store_true", help="print JSON")
    methods.set_defaults(handler=cmd_methods)

    export = commands.add_parser("export-backbone", help="export a trained backbone")
    export.add_argument("project", help="project folder")
    export.add_argument(
        "--run", type=positive_int, help="run id (default: the newest finished run)"
    )
    export.add_argument(
        "--format", default="state_dict", choices=("state_dict", "torchscript", "onnx")
    )
    export.add_argument("--out", required=True, help="output file")
    export.set_defaults(handler=cmd_export_backbone)


def _add_field_flag(parser: argparse.ArgumentParser, spec: dataclasses.Field) -> None:
    limits = spec.metadata.get("range")
    default = spec.default
    shown = "the method's" if default is None else default
    accepts = "" if limits is None else f"{limits.describe()}; "
    parser.add_argument(
        "--" + spec.name.replace("_", "-"),
        dest=spec.name,
        type=str if limits is None else in_range(limits),
        choices=spec.metadata.get("choices"),
        default=argparse.SUPPRESS,
        help=f"{spec.metadata['help']} ({accepts}default: {shown})",
    )


def config_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The TrainConfig fields given on the command line (others keep their defaults)."""
    given = {f.name: getattr(args, f.name) for f in config_fields() if hasattr(args, f.name)}
    if "options" in given:
        given["options"] = parse_pairs(given["options"], "--option")
    if "augment" in given:
        given["augment"] = parse_pairs(given["augment"], "--augment")
    return given


def cmd_train(args: argparse.Namespace) -> int:
    from app.core.ssl import distributed
    from app.core.ssl.trainer import train_job
    from app.core.store.project import Project

    given = config_from_args(args)
    if args.resume is not None and given:
        flags = ", ".join("--" + name.replace("_", "-") for name in given)
        raise SieveError(f"--resume continues a run with its stored settings; drop {flags}")
    config = None if args.resume is not None else TrainConfig.from_dict(given)
    cancel = CancelToken()
    printer = JobPrinter(quiet=distributed.rank_from_env() > 0)
    with Project.open(args.project) as project:
        job = train_job(project, config, cancel, resume=args.resume)
        result = run_cancellable(job, cancel, printer)
        if printer.quiet:
            return 0
        for message in result.messages:
            print(f"note: {message}")
        print(f"run {result.run_id} {result.status}: {result.epochs_done} epochs")
        print(f"checkpoint: {result.checkpoint}")
    return 0


def cmd_methods(args: argparse.Namespace) -> int:
    from app.core.ssl.methods import METHODS

    rows = [
        {
            "name": name,
            "summary": cls.summary,
            **dataclasses.asdict(cls.defaults),
            "options": dict(cls.options),
        }
        for name, cls in METHODS.items()
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        print(f"{row['name']:<12} {row['summary']}")
        options = ", ".join(f"{k}={v}" for k, v in row["options"].items())
        print(
            f"{'':<12} {row['optimizer']} lr {row['lr']:g} (batch 256) · weight decay "
            f"{row['weight_decay']:g} · warm-up {row['warmup_epochs']} · views {row['augment']}"
        )
        if options:
            print(f"{'':<12} options: {options}")
    return 0


def cmd_export_backbone(args: argparse.Namespace) -> int:
    from app.core.ssl.export import export_backbone
    from app.core.ssl.trained import trained_backbone
    from app.core.store.project import Project

    with Project.open(args.project) as project:
        backbone, record = trained_backbone(project, args.run)
    path = export_backbone(backbone, Path(args.out), args.format, record.config.image_size)
    print(
        f"exported {record.config.backbone} from run {record.id} "
        f"({record.status}, {record.epochs_done} epochs) as {args.format}: {path}"
    )
    return 0
