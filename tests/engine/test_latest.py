"""LatestRunner: a new request cancels the running job; only the latest answer arrives."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from app.core.jobs import CancelToken, Job, Progress
from app.engine import LatestRunner

TIMEOUT_MS = 5000


@pytest.fixture
def latest(qtbot) -> Iterator[LatestRunner]:
    latest = LatestRunner()
    yield latest
    assert latest.shutdown(TIMEOUT_MS)


def answer(value: str, gate: threading.Event | None = None):
    """A job that reports progress until ``gate`` opens (or at once), then returns ``value``."""

    def factory(cancel: CancelToken) -> Job[str]:
        def job() -> Job[str]:
            while gate is not None and not gate.wait(0.01):
                yield Progress(value, 0, None)
            return value

        return job()

    return factory


def test_a_new_request_cancels_the_running_job_and_only_the_latest_answers(qtbot, latest):
    results: list[object] = []
    started: list[str] = []
    latest.finished.connect(results.append)
    latest.runner.started.connect(started.append)
    never = threading.Event()
    latest.request(answer("first", never), "first")
    qtbot.waitUntil(lambda: latest.runner.is_busy)
    latest.request(answer("second", never), "second")
    latest.request(answer("third"), "third")
    qtbot.waitUntil(lambda: not latest.is_busy, timeout=TIMEOUT_MS)
    assert results == ["third"]
    assert started == ["first", "third"]


def running_past_its_cancel(qtbot, latest, value: str) -> tuple[list[object], list[Progress]]:
    """Request a job that reports ``value`` until cancelled, then ends *normally* (as one that
    finishes before it sees the cancel); the answers and progress that reach the view."""
    results: list[object] = []
    progress: list[Progress] = []
    latest.finished.connect(results.append)
    latest.progress.connect(progress.append)
    gate = threading.Event()
    latest.request(answer(value, gate), value)
    qtbot.waitUntil(lambda: bool(progress))
    latest.runner.cancel = lambda: gate.set()
    return results, progress


def test_a_stale_result_that_beat_the_cancel_is_dropped(qtbot, latest):
    results, progress = running_past_its_cancel(qtbot, latest, "stale")
    latest.request(answer("fresh"), "fresh")
    qtbot.waitUntil(lambda: not latest.is_busy, timeout=TIMEOUT_MS)
    assert results == ["fresh"]
    assert all(report.stage == "stale" for report in progress)


def test_a_failure_of_a_superseded_job_is_dropped(qtbot, latest):
    failures: list[str] = []
    latest.failed.connect(lambda message, _details: failures.append(message))
    gate = threading.Event()

    def failing(cancel: CancelToken) -> Job[None]:
        def job() -> Job[None]:
            while not gate.wait(0.01):
                yield Progress("failing", 0, None)
            raise RuntimeError("stale failure")

        return job()

    latest.request(failing, "failing")
    qtbot.waitUntil(lambda: latest.runner.is_busy)
    latest.runner.cancel = lambda: gate.set()  # the job fails before it sees a cancel
    with qtbot.waitSignal(latest.finished, timeout=TIMEOUT_MS) as blocker:
        latest.request(answer("last"), "last")
    assert blocker.args == ["last"] and failures == []


def test_a_cancelled_job_reports_nothing_more_and_the_next_request_answers(qtbot, latest):
    """A cancel with no request after it (another project shown): the job's late progress and
    its result are dropped; a request after it is answered as usual."""
    results, progress = running_past_its_cancel(qtbot, latest, "old")
    latest.cancel()
    seen = len(progress)
    qtbot.waitUntil(lambda: not latest.is_busy, timeout=TIMEOUT_MS)
    assert results == [] and len(progress) == seen
    del latest.runner.cancel
    latest.request(answer("new"), "new")
    qtbot.waitUntil(lambda: results == ["new"], timeout=TIMEOUT_MS)
