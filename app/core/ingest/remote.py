"""Driving :mod:`app.core.ingest.worker` from the app: an index job run by a child process.

:func:`index_in_worker` is a job like :func:`~app.core.ingest.indexing.index_job`: it yields the
child's progress, passes the rows on screen to it (``visible``), and stops it when cancelled.
The event loop of the process that runs it never waits on the index's work (see the worker's
docstring). A child that cannot be started, or exits before saying a word, raises
:class:`WorkerUnavailable` (the caller may index in its own process); one that dies midway (a
decoder crash, a kill) fails the job with a message: what it committed is kept.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO

import app
from app.core.errors import JobCancelled, SieveError
from app.core.ingest.priority import VisibleFirst
from app.core.ingest.worker import COMMAND, EXIT_STOPPED
from app.core.jobs import CancelToken, Job, Progress, below_the_window

log = logging.getLogger("sieve")
NICENESS = 5  # the child's scheduler weight as it lists: a third of the window's (then a tenth)

POLL_S = 0.05  # how often the relay looks at the cancel token and the rows on screen
STOP_WAIT_S = 10.0  # a stopped child finishes its file and its commit; then it is killed
OnOpened = Callable[[Path, Path, int], None]


class WorkerUnavailable(SieveError):
    """The index process could not be started (the caller may index in its own process)."""


def worker_command(
    folder: str | os.PathLike, project_dir: str | os.PathLike | None, log_file: bool = True
) -> list[str]:
    """The command line of the index process: the bundled program itself, or ``python -m app``."""
    program = [sys.executable] if getattr(sys, "frozen", False) else [sys.executable, "-m", "app"]
    command = [*program, COMMAND, os.fspath(folder)]
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
    child = _start(worker_command(folder, project_dir, log_file))
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(
        target=_read_lines, args=(child.stdout, lines), name="sieve-worker-output", daemon=True
    ).start()
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
                _send(child, "want " + ",".join(str(int(i)) for i in wanted))
            try:
                line = lines.get(timeout=POLL_S)
            except queue.Empty:
                continue
            if line is None:
                break
            heard = True
            message = _parse(line)
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
        _close(child)
    if not heard and status not in (0, EXIT_STOPPED):
        raise WorkerUnavailable(f"the index process exited at start (exit status {status})")
    _raise_for(outcome, status)


def _start(command: list[str]) -> subprocess.Popen:
    env = dict(os.environ)
    source = str(Path(app.__file__).resolve().parent.parent)  # ``-m app`` from any folder
    env["PYTHONPATH"] = os.pathsep.join(p for p in (source, env.get("PYTHONPATH")) if p)
    try:
        child = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            env=env,
        )
    except OSError as error:
        raise WorkerUnavailable(f"cannot start the index process: {error}") from error
    _lower_priority(child.pid)
    return child


def _lower_priority(pid: int) -> None:
    """Run the child below the window from its start: its interpreter and imports take half a
    second of a core, which at the window's own priority starved the GUI thread of one (stalls
    of 50 ms as a project re-opened). Where priorities are not set this way, it is left as is."""
    if not hasattr(os, "setpriority"):
        return
    try:
        os.setpriority(os.PRIO_PROCESS, pid, below_the_window(NICENESS))
    except OSError as error:  # the child has gone already: its exit status says why
        log.info("cannot lower the index process's priority: %s", error)


def _read_lines(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    try:
        for line in stream:
            lines.put(line)
    finally:
        lines.put(None)


def _parse(line: str) -> dict:
    try:
        message = json.loads(line)
    except ValueError:
        message = None
    if not isinstance(message, dict):
        log.info("index process: %s", line.rstrip())  # a stray print; not part of the protocol
        return {}
    return message


def _send(child: subprocess.Popen, line: str) -> None:
    try:
        child.stdin.write(line + "\n")
        child.stdin.flush()
    except (BrokenPipeError, OSError, ValueError):
        pass  # the child is gone; its end is read from its output


def _close(child: subprocess.Popen) -> None:
    """Close the pipes of an ended child. A line still buffered for a killed child cannot be
    sent; closing would try again and fail with a broken pipe, which is not the news: the
    child's end is (its exit status and last message)."""
    for stream in (child.stdin, child.stdout):
        with contextlib.suppress(OSError):
            stream.close()


def _stop(child: subprocess.Popen) -> None:
    """Ask the child to stop, give it time to finish its commit, then make sure it is gone."""
    _send(child, "stop")
    try:
        child.wait(STOP_WAIT_S)
    except subprocess.TimeoutExpired:
        log.warning("the index process did not stop within %.0f s; killed", STOP_WAIT_S)
        child.kill()
        child.wait()


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
