"""The index's probe threads: every file once, wanted files next, failures raised, memory bound."""

from __future__ import annotations

import threading
import time

import pytest

from app.core.data.scan import FoundFile
from app.core.ingest import probers
from app.core.ingest.priority import ProbeQueue
from app.core.ingest.probers import Probers


def files(count: int) -> list[FoundFile]:
    return [FoundFile(f"{i:03d}.jpg", "image", 100, 1) for i in range(count)]


def collect(pool: Probers, deadline_s: float = 10.0) -> list:
    got: list = []
    end = time.monotonic() + deadline_s
    while not pool.done and time.monotonic() < end:
        got.extend(pool.arrivals(timeout=0.05))
    assert pool.done, "the workers did not finish"
    return got


def test_every_file_is_probed_once_and_handed_back() -> None:
    items = files(200)
    pool = Probers(ProbeQueue(items, 3), lambda item: item.relpath, workers=3)
    got = collect(pool)
    pool.stop()
    assert sorted(got) == [item.relpath for item in items]


def test_a_file_wanted_meanwhile_is_taken_next() -> None:
    items = files(50)
    started, release = threading.Event(), threading.Event()
    order: list[str] = []

    def probe(item: FoundFile) -> str:
        if not order:
            started.set()
            release.wait(5)
        order.append(item.relpath)
        return item.relpath

    pool = Probers(ProbeQueue(items, 1), probe, workers=1)
    assert started.wait(5)
    pool.want(["040.jpg"])  # while the only worker is busy with the first file
    release.set()
    collect(pool)
    pool.stop()
    assert order[:2] == ["000.jpg", "040.jpg"]


def test_a_failure_in_a_worker_is_raised_by_the_job() -> None:
    def probe(item: FoundFile) -> str:
        if item.relpath == "003.jpg":
            raise RuntimeError("bug while probing")
        return item.relpath

    pool = Probers(ProbeQueue(files(10), 2), probe, workers=2)
    with pytest.raises(RuntimeError, match="bug while probing"):
        collect(pool)
    pool.stop()


def wait_for(condition, timeout_s: float = 5.0) -> None:
    end = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < end:
        time.sleep(0.01)


def test_workers_wait_while_their_results_are_not_taken(monkeypatch) -> None:
    monkeypatch.setattr(probers, "AHEAD_PER_WORKER", 3)
    made: list[FoundFile] = []
    pool = Probers(ProbeQueue(files(100), 2), lambda item: made.append(item) or item, workers=2)
    wait_for(lambda: len(made) >= 6)
    time.sleep(0.2)
    assert len(made) == 6  # 2 workers x 3 ahead, then they wait for the job to take them
    assert len(pool.arrivals(timeout=1)) == 6
    wait_for(lambda: len(made) >= 12)
    time.sleep(0.2)
    assert len(made) == 12
    stopping = threading.Thread(target=pool.stop)
    stopping.start()
    stopping.join(5)
    assert not stopping.is_alive(), "stop() hung on workers waiting for room"


def test_a_lone_result_is_not_held_back_for_a_handful() -> None:
    """The job wakes when half the room is used, or after GATHER_S when fewer results wait: a
    file probed while the others are slow still reaches it at once."""
    release = threading.Event()

    def probe(item: FoundFile) -> str:
        if item.relpath != "000.jpg":
            release.wait(5)
        return item.relpath

    pool = Probers(ProbeQueue(files(3), 3), probe, workers=3)
    started = time.monotonic()
    assert pool.arrivals(timeout=5) == ["000.jpg"]
    assert time.monotonic() - started < 1.0
    release.set()
    assert sorted(collect(pool)) == ["001.jpg", "002.jpg"]
    pool.stop()
