"""The JobRunner drives real generator jobs on a QThread and reports through signals."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QThread

from app.core.errors import SieveError
from app.core.jobs import CancelToken, Job, Progress
from app.engine import JobRunner

TIMEOUT_MS = 5000


@pytest.fixture
def runner(qtbot) -> Iterator[JobRunner]:
    runner = JobRunner()
    yield runner
    assert runner.shutdown(TIMEOUT_MS)


def counting_job(n: int) -> Job[int]:
    for i in range(n):
        yield Progress("count", i + 1, n)
    return n * 10


def test_progress_and_result_are_delivered(qtbot, runner: JobRunner) -> None:
    seen: list[Progress] = []
    busy: list[bool] = []
    started: list[str] = []
    runner.progress.connect(seen.append)
    runner.busy_changed.connect(busy.append)
    runner.started.connect(started.append)
    with qtbot.waitSignal(runner.finished, timeout=TIMEOUT_MS) as blocker:
        runner.start(lambda cancel: counting_job(3), "counting")
    assert started == ["counting"]
    assert blocker.args == [30]
    assert seen[-1] == Progress("count", 3, 3)
    assert busy == [True, False]
    assert not runner.is_busy


def test_factory_runs_on_the_worker_thread(qtbot, runner: JobRunner) -> None:
    where: list[int] = []

    def factory(cancel: CancelToken) -> Job[int]:
        where.append(threading.get_ident())
        return counting_job(1)

    with qtbot.waitSignal(runner.finished, timeout=TIMEOUT_MS):
        runner.start(factory, "where")
    assert where and where[0] != threading.get_ident()


def failing_job(error: Exception) -> Job[None]:
    yield Progress("work", 0, 1)
    raise error


def test_sieve_error_fails_with_its_own_message(qtbot, runner: JobRunner, caplog) -> None:
    caplog.set_level(logging.ERROR, logger="sieve")
    finished: list[object] = []
    runner.finished.connect(finished.append)
    with qtbot.waitSignal(runner.failed, timeout=TIMEOUT_MS) as blocker:
        runner.start(lambda cancel: failing_job(SieveError("cannot read cat.png")), "index")
    message, details = blocker.args
    assert message == "cannot read cat.png"
    assert "Traceback" in details and "failing_job" in details and "SieveError" in details
    assert not finished and not runner.is_busy
    assert "cannot read cat.png" in caplog.text and "Traceback" in caplog.text


def test_other_exception_fails_with_readable_message(qtbot, runner: JobRunner) -> None:
    with qtbot.waitSignal(runner.failed, timeout=TIMEOUT_MS) as blocker:
        runner.start(lambda cancel: failing_job(ValueError("bad size 0\nmore")), "Embedding")
    message, details = blocker.args
    assert message == "Embedding failed: ValueError: bad size 0"
    assert "ValueError: bad size 0" in details


def test_factory_error_is_reported(qtbot, runner: JobRunner) -> None:
    def factory(cancel: CancelToken) -> Job[None]:
        raise SieveError("no Sieve project at /nowhere")

    with qtbot.waitSignal(runner.failed, timeout=TIMEOUT_MS) as blocker:
        runner.start(factory, "open")
    assert blocker.args[0] == "no Sieve project at /nowhere"


class GatedJob:
    """A job that reports a step, then waits for the test to open its gate before the next."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.waiting = threading.Event()
        self.steps = 0
        self.closed = False

    def __call__(self, cancel: CancelToken) -> Job[str]:
        try:
            for i in range(1000):
                self.steps = i + 1
                yield Progress("gated", i + 1, 1000)
                self.waiting.set()
                self.gate.wait()
                self.gate.clear()
            return "done"
        finally:
            self.closed = True


def test_cancel_stops_the_job(qtbot, runner: JobRunner) -> None:
    job = GatedJob()
    failed: list[str] = []
    finished: list[object] = []
    runner.failed.connect(lambda message, details: failed.append(message))
    runner.finished.connect(finished.append)
    runner.start(job, "gated")
    assert job.waiting.wait(TIMEOUT_MS / 1000)
    with qtbot.waitSignal(runner.cancelled, timeout=TIMEOUT_MS):
        runner.cancel()
        job.gate.set()
    assert job.steps == 2  # the step it was in finished, then the runner stopped it
    assert job.closed
    assert not failed and not finished and not runner.is_busy


def test_job_raising_job_cancelled_is_cancelled(qtbot, runner: JobRunner) -> None:
    def job(cancel: CancelToken) -> Job[None]:
        yield Progress("work", 0, None)
        cancel.cancel()
        cancel.raise_if_cancelled()

    with qtbot.waitSignal(runner.cancelled, timeout=TIMEOUT_MS):
        runner.start(job, "self-cancelling")


def test_progress_is_throttled_and_the_last_report_arrives(qtbot, runner: JobRunner) -> None:
    release = threading.Event()
    seen: list[Progress] = []
    runner.progress.connect(seen.append)

    def chatty(cancel: CancelToken) -> Job[None]:
        for i in range(20_000):
            yield Progress("chatty", i + 1, 20_000)
        yield Progress("waiting", 0, 1)
        release.wait()

    runner.start(chatty, "chatty")
    qtbot.waitUntil(lambda: bool(seen) and seen[-1].stage == "waiting", timeout=TIMEOUT_MS)
    assert runner.is_busy
    assert len(seen) < 200
    with qtbot.waitSignal(runner.finished, timeout=TIMEOUT_MS):
        release.set()


def test_start_while_busy_is_refused(qtbot, runner: JobRunner) -> None:
    job = GatedJob()
    runner.start(job, "first")
    with pytest.raises(SieveError, match="first is still running"):
        runner.start(lambda cancel: counting_job(1), "second")
    with qtbot.waitSignal(runner.cancelled, timeout=TIMEOUT_MS):
        runner.cancel()
        job.gate.set()


def test_a_new_job_can_start_from_the_finished_handler(qtbot, runner: JobRunner) -> None:
    results: list[object] = []

    def chain(result: object) -> None:
        results.append(result)
        if len(results) == 1:
            runner.start(lambda cancel: counting_job(2), "second")

    runner.finished.connect(chain)
    runner.start(lambda cancel: counting_job(1), "first")
    qtbot.waitUntil(lambda: len(results) == 2, timeout=TIMEOUT_MS)
    assert results == [10, 20]


def test_shutdown_cancels_and_leaves_no_running_thread(qtbot) -> None:
    runner = JobRunner()
    job = GatedJob()
    threads: list[QThread] = []

    def factory(cancel: CancelToken) -> Job[str]:
        threads.append(QThread.currentThread())
        return job(cancel)

    runner.start(factory, "long")
    assert job.waiting.wait(TIMEOUT_MS / 1000)
    assert threads[0].isRunning()
    job.gate.set()
    assert runner.shutdown(TIMEOUT_MS)
    assert threads[0].isFinished()
    assert job.closed and job.steps <= 2
    assert not runner.is_busy
