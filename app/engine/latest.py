"""Latest request wins: a new request cancels the running job and runs once that one stopped.

Views that recompute on every change (re-read the project, lay out a map) ask again before the
previous answer is in. Only the newest request matters: a request made while a job runs cancels
that job and waits; a later request replaces a waiting one; the superseded job's result, error
and late progress are dropped, so a stale answer never reaches the view. A job cancelled with
no request after it (another project shown, the view cleared) is dropped alike.
"""

from __future__ import annotations

from PySide6.QtCore import QDeadlineTimer, QObject, Signal, Slot

from app.core.jobs import Progress
from app.engine.runner import JobFactory, JobRunner


class LatestRunner(QObject):
    """Runs requests on ``runner`` (its own by default), the latest one winning.

    ``finished``, ``failed`` and ``progress`` carry only the latest request's reports; the
    wrapped :attr:`runner` still drives a :class:`JobProgress` line (started, busy, cancel).
    """

    progress = Signal(object)
    finished = Signal(object)
    failed = Signal(str, str)

    def __init__(self, runner: JobRunner | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = runner or JobRunner(self)
        self._waiting: tuple[JobFactory, str] | None = None
        self._abandoned = False  # the running job was cancelled: what it still reports is stale
        self.runner.progress.connect(self._on_progress)
        self.runner.finished.connect(self._on_finished)
        self.runner.failed.connect(self._on_failed)
        self.runner.cancelled.connect(self._next)

    @property
    def is_busy(self) -> bool:
        """A job runs or a request waits for the running one to stop."""
        return self.runner.is_busy or self._waiting is not None

    def request(self, factory: JobFactory, name: str) -> None:
        """Run ``factory`` now, or once the running job (cancelled here) has stopped."""
        if self.runner.is_busy:
            self._waiting = (factory, name)
            self.runner.cancel()
        else:
            self._abandoned = False  # (a job left by a shutdown never reports its end)
            self.runner.start(factory, name)

    def cancel(self) -> None:
        """Drop a waiting request and cancel the running job (its reports are dropped too)."""
        self._waiting = None
        self._abandoned = self.runner.is_busy
        self.runner.cancel()

    def shutdown(self, timeout: int | QDeadlineTimer = 5000) -> bool:
        """Drop a waiting request, cancel the job and wait for it; True when it stopped."""
        self._waiting = None
        return self.runner.shutdown(timeout)

    def _stale(self) -> bool:
        """Whether the running job's reports are dropped (superseded or cancelled)."""
        return self._waiting is not None or self._abandoned

    @Slot(object)
    def _on_progress(self, progress: Progress) -> None:
        if not self._stale():
            self.progress.emit(progress)

    @Slot(object)
    def _on_finished(self, result: object) -> None:
        if not self._stale():
            self.finished.emit(result)
        self._next()

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        if not self._stale():
            self.failed.emit(message, details)
        self._next()

    @Slot()
    def _next(self) -> None:
        """The job ended: start the waiting request, if any."""
        self._abandoned = False
        if self._waiting is not None:
            factory, name = self._waiting
            self._waiting = None
            self.runner.start(factory, name)
