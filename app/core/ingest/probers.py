"""The index's probe threads: each takes the next file from a :class:`ProbeQueue` the moment it
is free and hands back what it made.

A thread pool would cost the interpreter a future, a submit and a completion wait per file
(about 0.2 ms a file at 2 workers, during which the decode threads wait for the interpreter
lock), and it would need a few files queued ahead per worker. Here a worker asks the queue
itself, so the rows on screen are taken next as soon as a view wants them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from app.core.data.scan import FoundFile
from app.core.ingest.priority import ProbeQueue

Result = TypeVar("Result")
# Results a worker may make before the job takes them: bounds the memory, and how many files
# come before one wanted meanwhile when the job's writes fall behind.
AHEAD_PER_WORKER = 4
# The job wakes when half the room is used or after GATHER_S, not at each result: on tiny
# files a wake-up a file (a thread switch, a hand-over of the interpreter lock) costs about
# as much as the decode.
GATHER_S = 0.02


class Probers(Generic[Result]):
    """``workers`` threads probing ``queue``'s files with ``probe``, until it is empty or
    :meth:`stop`. A failure in ``probe`` is raised by :meth:`arrivals`. The workers wait while
    :data:`AHEAD_PER_WORKER` results each are not taken (a job whose writes wait for the lock
    holds no more thumbnails than that)."""

    def __init__(
        self, queue: ProbeQueue, probe: Callable[[FoundFile], Result], workers: int
    ) -> None:
        self._queue = queue
        self._probe = probe
        self._lock = threading.Lock()  # the queue's: the workers and want() share it
        self._stopping = False
        self._handed: list[tuple[Result | None, BaseException | None, bool]] = []
        self._handed_lock = threading.Lock()
        self._wake = threading.Event()
        self._wake_at = max(1, workers * AHEAD_PER_WORKER // 2)
        self._working = workers
        self._room = threading.Semaphore(workers * AHEAD_PER_WORKER)
        self._threads = [
            threading.Thread(target=self._work, name=f"sieve-index-{n}", daemon=True)
            for n in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def done(self) -> bool:
        """Every file was probed and handed back (or the workers stopped)."""
        return self._working == 0

    def want(self, relpaths: Iterable[str]) -> None:
        """:meth:`ProbeQueue.want`, safely while the workers take files."""
        with self._lock:
            self._queue.want(relpaths)

    def arrivals(self, timeout: float) -> list[Result]:
        """What was probed since the last call: waits up to ``timeout`` for a handful of
        results (or a failure, or the end), then takes what is there."""
        self._wake.wait(min(timeout, GATHER_S))
        with self._handed_lock:
            handed, self._handed = self._handed, []
            self._wake.clear()
        arrived: list[Result] = []
        for result, error, finished in handed:
            if finished:
                self._working -= 1
                continue
            self._room.release()
            if error is not None:
                raise error
            arrived.append(result)  # type: ignore[arg-type]
        return arrived

    def stop(self) -> None:
        """Take no new file; return once every worker finished the one in hand."""
        with self._lock:
            self._stopping = True
        for _ in self._threads:
            self._room.release()  # a worker waiting for room wakes up and sees the stop
        for thread in self._threads:
            thread.join()

    def _work(self) -> None:
        while True:
            self._room.acquire()
            with self._lock:
                item = None if self._stopping else self._queue.next()
            if item is None:
                self._hand((None, None, True))
                return
            try:
                handed: tuple[Result | None, BaseException | None, bool]
                handed = (self._probe(item), None, False)
            except BaseException as error:  # handed to the job's thread, which raises it
                handed = (None, error, False)
            finally:
                with self._lock:
                    self._queue.finished(item)
            self._hand(handed)

    def _hand(self, handed: tuple[Result | None, BaseException | None, bool]) -> None:
        """Give the job a result; wake it when enough wait, or at a failure or the end."""
        with self._handed_lock:
            self._handed.append(handed)
            if len(self._handed) >= self._wake_at or handed[1] is not None or handed[2]:
                self._wake.set()
