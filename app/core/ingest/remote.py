"""Driving :mod:`app.core.ingest.worker` from the app: an index job run by a child process.

:func:`index_in_worker` is a job like :func:`~app.core.ingest.indexing.index_job`: it yields the
child's progress, passes the rows on screen to it (``visible``), and stops it when cancelled.
The event loop of the process that runs it never waits on the index's work (see the worker's
docstring). A child that cannot be started, or exits before saying a word, raises
:class:`WorkerUnavailable` (the caller may index in its own process); one that dies midway (a
decoder crash, a kill) fails the job with a message: what it committed is kept.
"""

from __future__ import annotations

import logging
import os
import queue
import subprocess
from collections.abc import Callable
from pathlib import Path

from app.core.errors import JobCancelled, SieveError
from app.core.ingest.priority import VisibleFirst
from app.core.ingest.worker import COMMAND, EXIT_STOPPED
from app.core.jobs import CancelToken, Job, Progress
from app.core.workers.lines import (
    ChildUnavailable,
    close_pipes,
    parse_line,
    program_command,
    send_line,
    start_child,
    start_reader,
    stop_child,
)

log = logging.getLogger("sieve")
NICENESS = 5  # the child's scheduler weight as it lists: a third of the window's (then a tenth)

POLL_S = 0.05  # how often the relay looks at the cancel token and the rows on screen
STOP_WAIT_S = 10.0  # a stopped child finishes its file and its commit; then it is killed
WHAT = "the index process"
OnOpened = Callable[[Path, Path, int], None]


class WorkerUnavailable(ChildUnavailable):
    """The index process could not be started (the caller may index in its own process)."""


def worker_command(
    folder: str | os.PathLike, project_dir: str | os.PathLike | None, log_file: bool = True
) -> list[str]:
    """The command line of the index process: the bundled program itself, or ``python -m app``."""
    command = [*program_command(COMMAND), os.fspath(folder)]
    if project_dir is not None:
        command += ["--project", os.fspath(project_dir)]
    return command if log_file else [*command, "--no-log-file"]


def index_in_worker(
    folder: str | os.PathLike,
    project_dir: str | os.PathLike | None,
    on_opened: OnOpened,
    visible: VisibleFirst | None = None,
    cancel: CancelToken | None = None,
    log_file: bool = True,
) -> Job[None]:
    """Index ``folder`` into its project in a child process; ``on_opened(path, root, rows)``
    once the project is open. Raises :class:`JobCancelled` when cancelled (the child stops at
    its next file), :class:`SieveError` with the child's message when it fails. Without
    ``log_file`` the child writes no log file (the self-test leaves nothing behind)."""
    cancel = cancel or CancelToken()
    command = worker_command(folder, project_dir, log_file)
    child = start_child(command, NICENESS, WHAT, WorkerUnavailable)
    lines = start_reader(child, "sieve-worker-output")
    outcome: dict = {}
    seen = None
    heard = False  # a line from the child: it started
    try:
        while True:
            if cancel.cancelled:
                _stop(child)
                raise JobCancelled()
            if visible is not None and visible.version != seen:
                seen, wanted = visible.wanted()
                send_line(child, "want " + ",".join(str(int(i)) for i in wanted))
            try:
                line = lines.get(timeout=POLL_S)
            except queue.Empty:
                continue
            if line is None:
                break
            heard = True
            message = parse_line(line, WHAT)
            if "progress" in message:
                yield Progress(*message["progress"])
            elif "opened" in message:
                opened = message["opened"]
                root = Path(opened["root"])
                on_opened(Path(opened["path"]), root, int(opened["rows"]))
                yield Progress("open", 0, None, f"opening {root.name}")  # a view may show it now
            else:
                outcome.update(message)
    finally:
        if child.poll() is None and not outcome:
            _stop(child)
        status = child.wait()
        close_pipes(child)
    if not heard and status not in (0, EXIT_STOPPED):
        raise WorkerUnavailable(f"the index process exited at start (exit status {status})")
    _raise_for(outcome, status)


def _stop(child: subprocess.Popen) -> None:
    """Ask the child to stop, give it time to finish its commit, then make sure it is gone."""
    stop_child(child, STOP_WAIT_S, WHAT)


def _raise_for(outcome: dict, status: int) -> None:
    if "error" in outcome:
        log.error("index process failed: %s\n%s", outcome["error"], outcome.get("details", ""))
        raise SieveError(str(outcome["error"]))
    if outcome.get("done"):
        return
    if status == EXIT_STOPPED:
        raise JobCancelled()
    raise SieveError(
        f"the index process ended unexpectedly (exit status {status}); what it indexed is "
        "kept, and indexing again (View > Refresh) carries on from there"
    )
