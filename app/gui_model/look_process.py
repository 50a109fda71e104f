"""The quick look's child process (:mod:`look_worker`) seen from the window.

:class:`LookProcess` starts the child ahead (:meth:`LookProcess.start`: it loads torch and UMAP
while the user looks at the grid) and runs one quick look at a time in it
(:meth:`LookProcess.look`, a job like ``embed_and_layout_job``: PCA at once, UMAP as it forms,
each layout with the :class:`~app.gui_model.map_sources.MapSource` it belongs to). The window's
process never imports torch or UMAP for it, so its event loop never waits on those imports.
A child that cannot start raises :class:`LookUnavailable` before any report (the caller may
embed in its own process); one that dies midway fails the look with a message, and the next
look starts a new child.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from app.core.errors import JobCancelled, SieveError
from app.core.jobs import CancelToken, Job, Progress
from app.core.store.project import Project
from app.core.workers.lines import (
    ChildUnavailable,
    close_pipes,
    parse_line,
    program_command,
    send_line,
    start_child,
)
from app.gui_model.look_worker import COMMAND, decode_points
from app.gui_model.map_sources import MapSource, load_source

log = logging.getLogger("sieve")
WHAT = "the quick-look process"
NICENESS = 10  # the child's priority below the window, as the index process's as it decodes
POLL_S = 0.05  # how often a look checks its cancel token while it waits for a line
STOP_WAIT_S = 10.0  # a stopped look ends at its next batch or epoch; then the child is killed
CLOSE_WAIT_S = 2.0  # an idle child ends at once; one still loading torch is killed after this


class LookUnavailable(ChildUnavailable):
    """The quick-look process could not be started (the caller may embed in its own process)."""


def look_command(log_file: bool = True) -> list[str]:
    """The command line of the quick-look process."""
    command = program_command(COMMAND)
    return command if log_file else [*command, "--no-log-file"]


class LookProcess:
    """One child process for the quick looks of a window, started ahead and kept for the next."""

    def __init__(self, log_file: bool = True) -> None:
        self._log_file = log_file
        self._lock = threading.Lock()
        self._child: subprocess.Popen | None = None
        self._messages: queue.Queue[dict[str, Any] | None] | None = None
        self._warm = threading.Event()
        self._heard = threading.Event()
        self._looks = 0

    @property
    def running(self) -> bool:
        return self._child is not None and self._child.poll() is None

    @property
    def pid(self) -> int | None:
        return self._child.pid if self.running and self._child is not None else None

    @property
    def warm(self) -> bool:
        """Whether the child said it has loaded torch, the backbone and UMAP."""
        return self._warm.is_set()

    def wait_until_warm(self, timeout_s: float | None = None) -> bool:
        """Wait until the child has loaded everything (False: not within ``timeout_s``)."""
        return self._warm.wait(timeout_s)

    def start(self) -> None:
        """Start the child unless it runs; it loads what a look needs meanwhile."""
        with self._lock:
            if self.running:
                return
            if self._child is not None:  # ended by itself: its pipes are still open
                _end(self._child, 0.0)
            self._warm, self._heard = threading.Event(), threading.Event()
            self._child = start_child(look_command(self._log_file), NICENESS, WHAT, LookUnavailable)
            self._messages = queue.Queue()
            threading.Thread(
                target=self._read,
                args=(self._child, self._messages, self._warm, self._heard),
                name="sieve-look-output",
                daemon=True,
            ).start()

    def look(self, project_dir: Path, method: str, cancel: CancelToken) -> Job[np.ndarray]:
        """Embed ``project_dir``'s samples for a quick look in the child and lay them out."""
        self.start()
        child, messages = self._child, self._messages
        assert child is not None and messages is not None
        self._looks += 1
        look = self._looks
        request = {"id": look, "project": str(project_dir), "method": method}
        send_line(child, "look " + json.dumps(request))
        source: MapSource | None = None
        stop_by: float | None = None
        while True:
            if cancel.cancelled and stop_by is None:
                send_line(child, f"stop {look}")
                stop_by = time.monotonic() + STOP_WAIT_S
            if stop_by is not None and time.monotonic() > stop_by:
                log.warning("%s did not stop within %.0f s; killed", WHAT, STOP_WAIT_S)
                self.close(wait_s=0.0)
                raise JobCancelled()
            try:
                message = messages.get(timeout=POLL_S)
            except queue.Empty:
                continue
            if message is None:
                self._raise_ended()
            elif message.get("id") != look:
                continue  # a line of an earlier look
            elif "done" in message:
                return decode_points(message["done"]["xy"])
            elif "cancelled" in message:
                raise JobCancelled()
            elif "error" in message:
                log.error("quick look failed: %s\n%s", message["error"], message.get("details"))
                raise SieveError(str(message["error"]))
            elif "progress" in message and stop_by is None:
                layout = message.get("layout")
                if layout is not None and source is None:
                    source = _source(project_dir)
                yield Progress(*message["progress"], partial=_partial(layout, source))

    def close(self, wait_s: float = CLOSE_WAIT_S) -> None:
        """End the child (it stops a running look) and wait up to ``wait_s`` before a kill."""
        with self._lock:
            child, self._child = self._child, None
        if child is not None:
            _end(child, wait_s)

    def release(self) -> None:
        """End the child without waiting for it (its memory, ~1 GB with torch, is given back
        a moment later); the next look starts a new one."""
        with self._lock:
            child, self._child = self._child, None
        if child is not None:
            threading.Thread(
                target=_end, args=(child, CLOSE_WAIT_S), name="sieve-look-end", daemon=True
            ).start()

    @staticmethod
    def _read(
        child: subprocess.Popen,
        messages: queue.Queue[dict[str, Any] | None],
        warm: threading.Event,
        heard: threading.Event,
    ) -> None:
        """The child's lines as messages (None at its end); ``warm`` is set when it says so."""
        try:
            for line in _lines_of(child):
                heard.set()
                message = parse_line(line, WHAT)
                if "warm" not in message:
                    messages.put(message)
                elif message["warm"]:
                    warm.set()
                else:
                    log.warning("%s could not load ahead:\n%s", WHAT, message.get("details"))
        finally:
            messages.put(None)

    def _raise_ended(self) -> NoReturn:
        child, heard = self._child, self._heard.is_set()
        status = child.wait() if child is not None else None
        self.close(wait_s=0.0)
        if not heard:
            raise LookUnavailable(f"{WHAT} exited at start (exit status {status})")
        raise SieveError(
            f"{WHAT} ended unexpectedly (exit status {status}); press Quick look to start again"
        )


def _end(child: subprocess.Popen, wait_s: float) -> None:
    """End ``child``: close its input (which ends it), kill it after ``wait_s``, then close its
    output. Not before: closing a pipe its reader thread is reading waits for that read, that
    is for the child's exit (1.5 s for a child with torch loaded)."""
    with contextlib.suppress(OSError):
        child.stdin.close()
    try:
        child.wait(wait_s)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
    close_pipes(child)


def _lines_of(child: subprocess.Popen) -> Iterator[str]:
    """``child``'s output lines until its end, or until the window closes the pipe."""
    with contextlib.suppress(ValueError, OSError):  # closed by close() meanwhile
        yield from child.stdout


def _source(project_dir: Path) -> MapSource:
    with Project.open(project_dir) as project:
        return load_source(project)[0]


def _partial(layout: dict[str, Any] | None, source: MapSource | None) -> dict[str, Any] | None:
    """A layout report as ``layout_job`` makes it: points decoded, with their source."""
    if layout is None:
        return None
    return {**layout, "xy": decode_points(layout["xy"]), "source": source}
