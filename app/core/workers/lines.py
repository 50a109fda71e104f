"""JSON lines between the app and a child process it runs, and the child's start and stop.

A child writes one JSON object per line on its stdout (:class:`LineWriter`); the parent reads
them on a thread of their own (:func:`read_lines`) and writes plain command lines on the
child's stdin (:func:`send_line`). End of input tells a child that its parent is gone.
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
from pathlib import Path
from typing import IO, Any

import app
from app.core.errors import SieveError
from app.core.jobs import below_the_window

log = logging.getLogger("sieve")


class ChildUnavailable(SieveError):
    """A child process could not be started (the caller may do its work in its own process)."""


def program_command(subcommand: str) -> list[str]:
    """``subcommand`` of this program: the bundled executable itself, or ``python -m app``."""
    program = [sys.executable] if getattr(sys, "frozen", False) else [sys.executable, "-m", "app"]
    return [*program, subcommand]


def start_child(
    command: list[str], niceness: int, what: str, unavailable: type[ChildUnavailable]
) -> subprocess.Popen:
    """Start ``command`` with piped text stdin/stdout, ``niceness`` below the window.

    Raises ``unavailable`` (a :class:`ChildUnavailable`) when it cannot be started; ``what``
    names the child in messages ("the index process").
    """
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
        raise unavailable(f"cannot start {what}: {error}") from error
    if niceness:
        lower_priority(child.pid, niceness, what)
    return child


def lower_priority(pid: int, niceness: int, what: str) -> None:
    """Run child ``pid`` ``niceness`` below the window from its start: its interpreter and
    imports take half a second of a core, which at the window's own priority starved the GUI
    thread of one (stalls of 50 ms as a project re-opened). Where priorities are not set this
    way, it is left as is."""
    if not hasattr(os, "setpriority"):
        return
    try:
        os.setpriority(os.PRIO_PROCESS, pid, below_the_window(niceness))
    except OSError as error:  # the child has gone already: its exit status says why
        log.info("cannot lower the priority of %s: %s", what, error)


def read_lines(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    """Put each line of ``stream`` in ``lines``, then None at its end (the child is gone)."""
    try:
        for line in stream:
            lines.put(line)
    finally:
        lines.put(None)


def start_reader(child: subprocess.Popen, name: str) -> queue.Queue[str | None]:
    """A queue of ``child``'s output lines, filled by a daemon thread (None at its end)."""
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=read_lines, args=(child.stdout, lines), name=name, daemon=True).start()
    return lines


def parse_line(line: str, what: str) -> dict[str, Any]:
    """A child's JSON line as a dict; a stray print is logged and read as ``{}``."""
    try:
        message = json.loads(line)
    except ValueError:
        message = None
    if not isinstance(message, dict):
        log.info("%s: %s", what, line.rstrip())  # not part of the protocol
        return {}
    return message


def send_line(child: subprocess.Popen, line: str) -> None:
    """Write ``line`` to ``child``'s stdin; a child that is gone is left to its exit status."""
    try:
        child.stdin.write(line + "\n")
        child.stdin.flush()
    except (BrokenPipeError, OSError, ValueError):
        pass  # the child is gone; its end is read from its output


def close_pipes(child: subprocess.Popen) -> None:
    """Close the pipes of an ended child. A line still buffered for a killed child cannot be
    sent; closing would try again and fail with a broken pipe, which is not the news: the
    child's end is (its exit status and last message)."""
    for stream in (child.stdin, child.stdout):
        with contextlib.suppress(OSError):
            stream.close()


def stop_child(child: subprocess.Popen, wait_s: float, what: str) -> None:
    """Ask ``child`` to stop, give it ``wait_s`` to finish what it writes, then make sure it is
    gone."""
    send_line(child, "stop")
    try:
        child.wait(wait_s)
    except subprocess.TimeoutExpired:
        log.warning("%s did not stop within %.0f s; killed", what, wait_s)
        child.kill()
        child.wait()


class LineWriter:
    """JSON lines on a stream, one writer at a time; a closed pipe (parent gone) is ignored."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        line = json.dumps(message) + "\n"
        with self._lock:
            try:
                self._stream.write(line)
                self._stream.flush()
            except (BrokenPipeError, ValueError, OSError):
                pass
