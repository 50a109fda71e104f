"""The one way CLI commands run a core job: a terminal progress line, Ctrl-C that stops cleanly.

The first Ctrl-C cancels the job's token: the job stops at its next check (between files,
batches, steps or UMAP epochs), leaving the project consistent, and the command exits 130
(:func:`app.cli.entry.main` turns the job's ``JobCancelled`` into that). A second Ctrl-C
interrupts at once (``KeyboardInterrupt``, also 130).
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from app.cli.progress import TerminalProgress
from app.core.errors import SieveError
from app.core.jobs import CancelToken, Job, Progress, run_job

R = TypeVar("R")

STOPPING = "\nstopping at the next safe point (Ctrl-C again to stop at once)…"


@contextmanager
def stop_on_ctrl_c(cancel: CancelToken) -> Iterator[None]:
    """First Ctrl-C cancels ``cancel``; a second raises KeyboardInterrupt at once."""

    def handler(signum: int, frame: Any) -> None:
        if cancel.cancelled:
            raise KeyboardInterrupt
        cancel.cancel()
        print(STOPPING, file=sys.stderr, flush=True)

    try:
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class JobPrinter:
    """Epoch summaries on stdout; the live step line on a terminal; quiet on ranks > 0."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bar = TerminalProgress()

    def __call__(self, progress: Progress) -> None:
        if self.quiet:
            return
        partial = progress.partial if isinstance(progress.partial, dict) else {}
        if progress.stage != "training":
            self.bar(progress)
        elif partial.get("kind") == "epoch":
            self.bar.finish()
            print(progress.message, flush=True)
        else:
            self.bar.show("training", progress.message)

    def finish(self) -> None:
        self.bar.finish()


def run_cancellable(job: Job[R], cancel: CancelToken, printer: JobPrinter | None = None) -> R:
    """Run ``job`` with a progress line; Ctrl-C cancels ``cancel``, which must be the job's token.

    A cancelled job raises ``JobCancelled`` out of here (the command then exits 130).
    """
    printer = printer or JobPrinter(quiet=False)
    with stop_on_ctrl_c(cancel):
        try:
            return run_job(job, printer)
        finally:
            printer.finish()


def open_or_index_target(data: str, project_dir: str | None):
    """A project for ``data``: an existing project folder as is, else the dataset's project."""
    from app.core.store.project import Project, find_project_dir

    path = Path(data)
    if not path.exists():
        raise SieveError(f"no such folder: {data}")
    if not path.is_dir():
        raise SieveError(f"not a folder: {data}")
    existing = find_project_dir(path) if project_dir is None else None
    if existing is not None and existing == path:
        return Project.open(path)
    return Project.for_dataset(path, project_dir)
