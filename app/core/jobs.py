"""The job protocol shared by the CLI, the engine and the tests.

A job is a plain generator that yields :class:`Progress` and *returns* its result
(``return value`` inside the generator). It checks a :class:`CancelToken` between steps.
Tests drive jobs synchronously with :func:`run_job`; the engine drives them on a QThread.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from app.core.errors import JobCancelled

R = TypeVar("R")


@dataclass(frozen=True)
class Progress:
    """One progress report: ``done`` of ``total`` units in ``stage`` (total None: unknown)."""

    stage: str
    done: int
    total: int | None
    message: str = ""
    partial: Any = None

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(1.0, self.done / self.total)


Job = Generator[Progress, None, R]

MAKE_WAY_MAX_S = 0.05  # the longest a background loop waits for the window at one step
BACKGROUND_NICENESS = 5  # a window's reader thread: a third of the GUI thread's weight on a core


class _Foreground:
    """Whether the window's GUI thread is painting (nested paints counted), and its thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.owner: int | None = None
        self.clear = threading.Event()
        self.clear.set()


_FOREGROUND = _Foreground()


@contextmanager
def foreground() -> Iterator[None]:
    """Mark a stretch of the GUI thread's work (a grid paint, widgets built) that background
    loops make way for.

    The interpreter lock is shared fairly, and every Qt call a paint makes hands it over: with a
    reader thread parsing a million rows beside it, a 7 ms grid paint took 11-16 ms (24-26 ms
    at worst). Loops that call :func:`make_way` between their pieces pause meanwhile, and the
    paint takes 9 ms (10 ms at worst), while the reader loses no measurable throughput.
    """
    with _FOREGROUND.lock:
        _FOREGROUND.depth += 1
        _FOREGROUND.owner = threading.get_ident()
        _FOREGROUND.clear.clear()
    try:
        yield
    finally:
        with _FOREGROUND.lock:
            _FOREGROUND.depth -= 1
            if _FOREGROUND.depth == 0:
                _FOREGROUND.clear.set()


def run_below_the_window(niceness: int = BACKGROUND_NICENESS) -> None:
    """Lower the calling thread's scheduling priority by ``niceness`` below its process (Linux,
    where a priority is per thread; elsewhere nothing), once: threads it starts inherit it.

    On two cores a reader thread at the window's priority took half the core the GUI thread
    woke on: a paint then waited 30-40 ms for a core while the reader parsed a million rows.
    """
    if sys.platform != "linux":
        return
    thread = threading.get_native_id()
    try:
        wanted = below_the_window(niceness)
        if os.getpriority(os.PRIO_PROCESS, thread) < wanted:
            os.setpriority(os.PRIO_PROCESS, thread, wanted)
    except OSError:  # not allowed here: the thread keeps the window's priority
        return


def below_the_window(niceness: int) -> int:
    """The process's own priority (its main thread's, whichever thread asks) lowered by
    ``niceness``, within the scheduler's range. Raises OSError where it cannot be read."""
    return min(19, os.getpriority(os.PRIO_PROCESS, os.getpid()) + niceness)


def make_way(max_wait_s: float = MAKE_WAY_MAX_S) -> None:
    """Between two pieces of background work: wait while the window paints (at most
    ``max_wait_s``). Costs nothing measurable otherwise, in a process without a window, and on
    the painting thread itself."""
    if not _FOREGROUND.clear.is_set() and threading.get_ident() != _FOREGROUND.owner:
        _FOREGROUND.clear.wait(max_wait_s)


class CancelToken:
    """A thread-safe flag a job polls between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise JobCancelled()


class RateMeter:
    """Turns successive ``done`` counts into a rate and an ETA, smoothed over the recent past."""

    def __init__(self, window_s: float = 5.0) -> None:
        self._window_s = window_s
        self._samples: list[tuple[float, int]] = []

    def update(self, done: int, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._samples.append((now, done))
        while len(self._samples) > 2 and now - self._samples[0][0] > self._window_s:
            self._samples.pop(0)

    @property
    def rate(self) -> float | None:
        if len(self._samples) < 2:
            return None
        (t0, d0), (t1, d1) = self._samples[0], self._samples[-1]
        if t1 <= t0 or d1 <= d0:
            return None
        return (d1 - d0) / (t1 - t0)

    def eta(self, done: int, total: int | None) -> float | None:
        rate = self.rate
        if rate is None or not total:
            return None
        return max(0.0, (total - done) / rate)


def run_job(job: Job[R], on_progress: Callable[[Progress], None] | None = None) -> R:
    """Drive a job to completion on the calling thread and return its result."""
    while True:
        try:
            progress = next(job)
        except StopIteration as stop:
            return stop.value
        if on_progress is not None:
            on_progress(progress)


def format_duration(seconds: float | None) -> str:
    """``75 -> '1:15'``; ``3700 -> '1:01:40'``; None -> '?'."""
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
