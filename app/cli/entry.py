"""The ``sieve`` entry point: the parser (one module per command group) and error handling."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from app import __version__
from app.cli.active import add_active_commands
from app.cli.annotations import add_annotation_commands
from app.cli.embed import add_embedding_commands
from app.cli.evaluate import add_evaluate_commands
from app.cli.objects import add_object_commands
from app.cli.project import add_project_commands
from app.cli.quality import add_quality_commands
from app.cli.select import add_subset_commands
from app.cli.train import add_train_commands
from app.core.errors import JobCancelled, SieveError
from app.core.logs import setup_logging

log = logging.getLogger("sieve")

INTERRUPTED_EXIT = 130  # 128 + SIGINT, as a shell reports a command stopped by Ctrl-C
INTERRUPTED = "interrupted (the project is consistent; run the command again to continue)"


class SelfTestAction(argparse.Action):
    """``--self-test [WORK_DIR]``: like ``--version``, runs at once and exits (0 passed, 1 not)."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        from app.cli.self_test import run_self_test

        parser.exit(run_self_test(values or None))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sieve",
        description="Curate image and video datasets with self-supervised learning.",
    )
    parser.add_argument("--version", action="version", version=f"sieve {__version__}")
    parser.add_argument(
        "--self-test",
        action=SelfTestAction,
        nargs="?",
        metavar="WORK_DIR",
        help="check this installation on the demo dataset, headless, in a temporary folder "
        "(inside WORK_DIR when given) and exit",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    add_project_commands(commands)
    add_train_commands(commands)
    add_embedding_commands(commands)
    add_object_commands(commands)
    add_subset_commands(commands)
    add_active_commands(commands)
    add_quality_commands(commands)
    add_annotation_commands(commands)
    add_evaluate_commands(commands)
    return parser


def keep_undecodable_names(stream: object) -> None:
    """Print file names that are not UTF-8 as their own bytes instead of failing on them."""
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(errors="surrogateescape")


def run(argv: Sequence[str] | None = None) -> int:
    """:func:`main` as a process's entry point: after Ctrl-C the process ends at once.

    By then the job has stopped and its project is closed; what is left is the interpreter's
    teardown, which takes one to two seconds with torch loaded, so it is skipped.
    """
    code = main(argv)
    if code == INTERRUPTED_EXIT:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    keep_undecodable_names(sys.stdout)
    log_path = setup_logging()
    try:
        return args.handler(args)
    except JobCancelled:
        print(f"sieve: {INTERRUPTED}", file=sys.stderr)
        return INTERRUPTED_EXIT
    except SieveError as error:
        print(f"sieve: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("sieve: interrupted", file=sys.stderr)
        return INTERRUPTED_EXIT
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except Exception as error:
        log.exception("sieve %s failed", args.command)
        if os.environ.get("SIEVE_DEBUG"):
            raise
        where = f" (details in {log_path})" if log_path else ""
        print(f"sieve: unexpected error: {type(error).__name__}: {error}{where}", file=sys.stderr)
        return 1
