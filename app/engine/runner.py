"""Running core jobs off the GUI thread and re-emitting what they report as Qt signals.

A job factory is called on the worker thread (so it can open its own :class:`Project` there) and
returns a generator job. Progress is coalesced: the worker keeps only the latest report and the
GUI side delivers at most one every :data:`PROGRESS_INTERVAL_MS`, always ending with the last.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import QDeadlineTimer, QObject, QThread, QTimer, Signal, Slot

from app.core.errors import JobCancelled, SieveError
from app.core.jobs import CancelToken, Job, Progress

log = logging.getLogger("sieve")

JobFactory = Callable[[CancelToken], Job[Any]]
PROGRESS_INTERVAL_MS = 50


def failure_message(name: str, error: BaseException) -> str:
    """One readable line: a SieveError's own text, else what failed and with which exception."""
    if isinstance(error, SieveError):
        return str(error) or f"{name} failed"
    text = str(error).strip().splitlines()
    kind = type(error).__name__
    return f"{name} failed: {kind}: {text[0]}" if text else f"{name} failed: {kind}"


class _JobThread(QThread):
    """Drives one job on its own thread; reports its outcome with exactly one final signal.

    Every signal carries the thread's serial number, so a late signal from an abandoned job
    (after :meth:`JobRunner.shutdown`) is never taken for the current job's.
    """

    progress_ready = Signal(int)
    succeeded = Signal(int, object)
    errored = Signal(int, str, str)
    stopped = Signal(int)

    def __init__(self, factory: JobFactory, name: str, serial: int) -> None:
        super().__init__()
        self.setObjectName(f"sieve-job: {name}")
        self.serial = serial
        self.token = CancelToken()
        self._factory = factory
        self._name = name
        self._lock = threading.Lock()
        self._latest: Progress | None = None
        self._posted = False

    def take_progress(self) -> Progress | None:
        """The latest unread progress report (called on the GUI thread)."""
        with self._lock:
            progress, self._latest, self._posted = self._latest, None, False
        return progress

    def _post(self, progress: Progress) -> None:
        with self._lock:
            self._latest = progress
            notify, self._posted = not self._posted, True
        if notify:
            self.progress_ready.emit(self.serial)

    def run(self) -> None:
        try:
            result = self._drive()
        except JobCancelled:
            self.stopped.emit(self.serial)
        except BaseException as error:  # every failure must reach the user
            details = traceback.format_exc()
            message = failure_message(self._name, error)
            log.error("%s\n%s", message, details)
            self.errored.emit(self.serial, message, details)
        else:
            self.succeeded.emit(self.serial, result)

    def _drive(self) -> Any:
        """Step the job, checking the token between steps; close it before reporting."""
        job = self._factory(self.token)
        try:
            while True:
                self.token.raise_if_cancelled()
                try:
                    progress = next(job)
                except StopIteration as stop:
                    return stop.value
                self._post(progress)
        finally:
            job.close()


class JobRunner(QObject):
    """Runs one job at a time on a QThread; see the module docstring."""

    started = Signal(str)
    progress = Signal(object)
    finished = Signal(object)
    failed = Signal(str, str)
    cancelled = Signal()
    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._current: _JobThread | None = None
        self._name = ""
        self._threads: set[_JobThread] = set()
        self._throttle = QTimer(self)
        self._throttle.setSingleShot(True)
        self._throttle.setInterval(PROGRESS_INTERVAL_MS)
        self._throttle.timeout.connect(self._on_throttle_timeout)
        self._progress_waiting = False
        self._serial = 0

    @property
    def is_busy(self) -> bool:
        return self._current is not None

    @property
    def running_threads(self) -> int:
        """Worker threads still running: the job's, or any a timed-out shutdown left behind."""
        return sum(thread.isRunning() for thread in self._threads)

    def start(self, factory: JobFactory, name: str) -> None:
        """Start ``factory(cancel_token)`` on a worker thread; one job at a time."""
        if self._current is not None:
            raise SieveError(f"cannot start {name}: {self._name} is still running")
        self._serial += 1
        thread = _JobThread(factory, name, self._serial)
        thread.progress_ready.connect(self._on_progress_ready)
        thread.succeeded.connect(self._on_succeeded)
        thread.errored.connect(self._on_errored)
        thread.stopped.connect(self._on_stopped)
        thread.finished.connect(self._reap)
        self._reap()
        self._threads.add(thread)
        self._current, self._name = thread, name
        self._progress_waiting = False
        thread.start()
        self.busy_changed.emit(True)
        self.started.emit(name)

    def cancel(self) -> None:
        """Ask the running job to stop; it ends with ``cancelled`` at its next step."""
        if self._current is not None:
            self._current.token.cancel()

    def shutdown(self, timeout: int | QDeadlineTimer = 5000) -> bool:
        """Cancel the running job and wait for every worker thread; True when all stopped.

        ``timeout`` is in milliseconds, or a deadline shared with other runners.
        """
        self.cancel()
        self._throttle.stop()
        self._current = None
        deadline = timeout if isinstance(timeout, QDeadlineTimer) else QDeadlineTimer(timeout)
        for thread in self._threads:
            thread.wait(deadline)
        self._reap()
        if self._threads:
            log.warning("%d job thread(s) still running at shutdown", len(self._threads))
        return not self._threads

    # ------------------------------------------------------------ worker events
    def _is_current(self, serial: int) -> bool:
        return self._current is not None and self._current.serial == serial

    @Slot(int)
    def _on_progress_ready(self, serial: int) -> None:
        if not self._is_current(serial):
            return
        if self._throttle.isActive():
            self._progress_waiting = True
            return
        self._deliver_progress()
        self._throttle.start()

    @Slot()
    def _on_throttle_timeout(self) -> None:
        if self._progress_waiting:
            self._progress_waiting = False
            self._deliver_progress()
            self._throttle.start()

    def _deliver_progress(self) -> None:
        if self._current is None:
            return
        progress = self._current.take_progress()
        if progress is not None:
            self.progress.emit(progress)

    def _finish(self, serial: int) -> bool:
        """Deliver the job's last progress and go idle; False for an abandoned job's signal."""
        if not self._is_current(serial):
            return False
        self._throttle.stop()
        self._progress_waiting = False
        self._deliver_progress()
        self._current = None
        self.busy_changed.emit(False)
        return True

    @Slot(int, object)
    def _on_succeeded(self, serial: int, result: object) -> None:
        if self._finish(serial):
            self.finished.emit(result)

    @Slot(int, str, str)
    def _on_errored(self, serial: int, message: str, details: str) -> None:
        if self._finish(serial):
            self.failed.emit(message, details)

    @Slot(int)
    def _on_stopped(self, serial: int) -> None:
        if self._finish(serial):
            log.info("%s cancelled", self._name)
            self.cancelled.emit()

    @Slot()
    def _reap(self) -> None:
        """Drop the threads that have fully stopped (deleting a running QThread aborts).

        A thread's ``finished`` signal comes just before it has fully stopped, so it may be
        dropped only at the next call.
        """
        self._threads = {thread for thread in self._threads if not thread.isFinished()}


def shutdown_all(runners: Iterable[JobRunner], timeout_ms: int = 5000) -> bool:
    """Cancel every runner's job first, then wait for all of them against one deadline.

    Jobs wind down (checkpoint, close files) in parallel, so closing takes as long as the
    slowest job rather than the sum of all of them. True when every worker thread stopped.
    """
    runners = list(runners)
    for runner in runners:
        runner.cancel()
    deadline = QDeadlineTimer(timeout_ms)
    return all([runner.shutdown(deadline) for runner in runners])
