"""The job protocol shared by the CLI, the engine and the tests.

A job is a plain generator that yields :class:`Progress` and *returns* its result
(``return value`` inside the generator). It checks a :class:`CancelToken` between steps.
Tests drive jobs synchronously with :func:`run_job`; the engine drives them on a QThread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator
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
