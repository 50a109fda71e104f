"""A terminal progress bar for CLI jobs: stage, bar, counts, rate and ETA on one line."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from app.core.jobs import Progress, RateMeter, format_duration

_WIDTH = 28
_INTERVAL_S = 0.1


class TerminalProgress:
    """Draws :class:`Progress` reports on a terminal; silent when the stream is not a TTY."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self._stage: str | None = None
        self._meter = RateMeter()
        self._last_draw = 0.0

    def __call__(self, progress: Progress) -> None:
        if not self.enabled:
            return
        if progress.stage != self._stage:
            self.finish()
            self._stage = progress.stage
            self._meter = RateMeter()
        self._meter.update(progress.done)
        now = time.monotonic()
        complete = progress.total is not None and progress.done >= progress.total
        if now - self._last_draw >= _INTERVAL_S or complete:
            self._last_draw = now
            self.stream.write("\r" + self._line(progress) + "\x1b[K")
            self.stream.flush()

    def show(self, stage: str, text: str) -> None:
        """Draw a free-form status line for ``stage`` in place of the bar."""
        if not self.enabled:
            return
        if stage != self._stage:
            self.finish()
            self._stage = stage
        now = time.monotonic()
        if now - self._last_draw >= _INTERVAL_S:
            self._last_draw = now
            self.stream.write("\r" + text + "\x1b[K")
            self.stream.flush()

    def finish(self) -> None:
        if self.enabled and self._stage is not None:
            self.stream.write("\n")
            self.stream.flush()
            self._stage = None

    def _line(self, progress: Progress) -> str:
        rate = self._meter.rate
        speed = f" {rate:,.0f}/s" if rate else ""
        if progress.total:
            filled = int(_WIDTH * (progress.fraction or 0.0))
            bar = "#" * filled + "-" * (_WIDTH - filled)
            eta = format_duration(self._meter.eta(progress.done, progress.total))
            return (
                f"{progress.stage:<11}[{bar}] {progress.done:,}/{progress.total:,}{speed} ETA {eta}"
            )
        return f"{progress.stage:<11}{progress.done:,}{speed}"
