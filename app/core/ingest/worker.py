"""The index in its own process: what the desktop app runs while the user browses.

Decoding, hashing and measuring a folder is Python and C work on every core; in the GUI's own
process it would share the interpreter lock with the event loop, which then stalls for tens of
milliseconds at a time. The app starts this module as a child process instead (see
:mod:`app.core.ingest.remote`), and the two talk in lines:

* the child writes JSON lines on stdout: ``{"opened": {"path", "root", "rows"}}`` once the
  project is open, ``{"progress": [stage, done, total, message]}`` as the index goes,
  ``{"done": true}`` at the end, or ``{"error": message, "details": traceback}``;
* the parent writes ``want ID,ID,...`` (the rows on screen, thumbnailed first) and ``stop``
  on its stdin. End of input (the parent is gone) stops the index too.

The child runs at a lower scheduling priority (nice 5, set by the parent as it starts it, then
nice 10 from the end of the listing, :data:`DECODE_NICENESS`): it takes every idle core, and the
window gets a core the moment it has work. The listing, which the user watches fill the grid,
weighs three times more than the decoding after it, which the window's last read of the rows
then outweighs (a 1M folder in the grid 0.6 s sooner, nice 10 throughout). Exit status: 0 done,
130 stopped, 1 failed. A stopped or killed child loses nothing: the index commits as it goes
and the next run carries on with the files still pending.
"""

from __future__ import annotations

import argparse
import sys
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from app.core.ingest.indexing import index_job
from app.core.ingest.priority import VisibleFirst
from app.core.jobs import CancelToken, JobCancelled, Progress, run_below_the_window
from app.core.store.project import Project
from app.core.workers.lines import LineWriter

COMMAND = "_index-worker"
"""The program's hidden sub-command that runs :func:`main` (``python -m app _index-worker``)."""
EXIT_STOPPED = 130
DECODE_NICENESS = 5  # the child's threads go this much further below the window once listed
SWITCH_INTERVAL_S = 0.0005  # the scan's pure-Python loop hands the lock on this often


def main(argv: list[str] | None = None) -> int:
    """Index a folder into its project, reporting on stdout and obeying stdin (see above)."""
    parser = argparse.ArgumentParser(prog=f"sieve {COMMAND}", description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--project", type=Path, default=None)
    parser.add_argument("--no-log-file", action="store_true", help="log nothing to sieve.log")
    args = parser.parse_args(argv)
    sys.setswitchinterval(SWITCH_INTERVAL_S)  # the early probe and the input thread wait less
    if not args.no_log_file:
        from app.core.logs import setup_logging

        setup_logging()
    out = LineWriter(sys.stdout)
    cancel, visible = CancelToken(), VisibleFirst()
    threading.Thread(
        target=_obey, args=(sys.stdin, cancel, visible), name="sieve-worker-input", daemon=True
    ).start()
    try:
        for progress in _index(args.folder, args.project, out, visible, cancel):
            report = [progress.stage, progress.done, progress.total, progress.message]
            out.send({"progress": report})
    except JobCancelled:
        return EXIT_STOPPED
    except BaseException as error:  # every failure reaches the parent as a message
        message = str(error).strip() or type(error).__name__
        out.send({"error": message, "kind": type(error).__name__, "details": _details()})
        return 1
    out.send({"done": True})
    return 0


def _index(
    folder: Path,
    project_dir: Path | None,
    out: LineWriter,
    visible: VisibleFirst,
    cancel: CancelToken,
) -> Iterator[Progress]:
    with Project.for_dataset(folder, project_dir) as project:
        opened = {"path": str(project.path), "root": str(project.dataset_root)}
        out.send({"opened": {**opened, "rows": project.sample_count()}})
        lowered = False
        for progress in index_job(project, cancel=cancel, visible=visible):
            if not lowered and progress.stage == "list" and progress.total is not None:
                run_below_the_window(DECODE_NICENESS)  # the decoding threads, made next, too
                lowered = True
            yield progress


def _obey(stream: IO[str], cancel: CancelToken, visible: VisibleFirst) -> None:
    """Read the parent's commands until ``stop`` or the end of input (the parent is gone)."""
    for line in stream:
        command, _, rest = line.strip().partition(" ")
        if command == "stop":
            break
        if command == "want":
            visible.prefer(int(part) for part in rest.split(",") if part)
    cancel.cancel()


def _details() -> str:
    return traceback.format_exc()
