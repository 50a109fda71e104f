"""The background prefetcher: order, failures and cancel reach the consumer promptly."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from app.core.errors import JobCancelled, SieveError
from app.core.jobs import CancelToken
from app.core.ssl.data import BatchPrefetcher, Prefetcher


class FailingPixels:
    """A pixel array whose ``fail_at``-th read raises, as a memory map on a vanished disk."""

    def __init__(self, pixels: np.ndarray, fail_at: int) -> None:
        self.pixels = pixels
        self.shape = pixels.shape
        self.fail_at = fail_at
        self.reads = 0

    def __getitem__(self, index):
        self.reads += 1
        if self.reads >= self.fail_at:
            raise OSError(5, "Input/output error")
        return self.pixels[index]


def consume(iterable, timeout: float = 2.0) -> tuple[list, BaseException | None, float]:
    """Iterate on a thread: ``(items, what it raised, seconds)``; fails if it never ends."""
    items: list = []
    outcome: list[BaseException | None] = [None]

    def run() -> None:
        try:
            items.extend(iterable)
        except BaseException as error:
            outcome[0] = error

    started = time.monotonic()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"the consumer still waits after {timeout} s"
    return items, outcome[0], time.monotonic() - started


def test_batches_come_in_order_as_channel_first_tensors() -> None:
    pixels = np.arange(6 * 2 * 2 * 3, dtype=np.uint8).reshape(6, 2, 2, 3)
    batches = [np.array([4, 1]), np.array([0, 5, 2])]
    prefetcher = BatchPrefetcher(pixels, batches, pin=False)
    got = list(prefetcher)
    prefetcher.close()
    assert [tuple(t.shape) for t in got] == [(2, 3, 2, 2), (3, 3, 2, 2)]
    assert np.array_equal(got[1].permute(0, 2, 3, 1).numpy(), pixels[[0, 5, 2]])


def test_a_read_error_ends_iteration_with_a_clear_error() -> None:
    pixels = FailingPixels(np.zeros((8, 2, 2, 3), dtype=np.uint8), fail_at=2)
    prefetcher = BatchPrefetcher(pixels, [np.array([0, 1]), np.array([2, 3])], pin=False)
    items, error, seconds = consume(prefetcher)
    prefetcher.close()
    assert len(items) == 1 and seconds < 1.0
    assert isinstance(error, SieveError)
    assert "reading the training cache failed" in str(error) and "Input/output" in str(error)
    assert isinstance(error.__cause__, OSError)


def test_a_sieve_error_reaches_the_consumer_as_it_is() -> None:
    def items() -> Iterator[int]:
        yield 1
        raise SieveError("the disk is gone")

    got, error, _ = consume(Prefetcher(items(), 2, "reading"))
    assert got == [1] and str(error) == "the disk is gone"


def test_cancel_reaches_a_consumer_waiting_on_a_stuck_read() -> None:
    release = threading.Event()

    def items() -> Iterator[int]:
        yield 1
        release.wait(10)
        yield 2

    cancel = CancelToken()
    prefetcher = Prefetcher(items(), 2, "reading", cancel)
    threading.Timer(0.3, cancel.cancel).start()
    got, error, seconds = consume(prefetcher)
    release.set()
    prefetcher.close()
    assert got == [1] and isinstance(error, JobCancelled) and seconds < 1.3


def test_closing_stops_a_producer_blocked_on_a_full_queue() -> None:
    produced: list[int] = []

    def items() -> Iterator[int]:
        for i in range(100):
            produced.append(i)
            yield i

    prefetcher = Prefetcher(items(), 2, "reading")
    time.sleep(0.2)
    prefetcher.close(timeout=1.0)
    count = len(produced)
    time.sleep(0.3)
    assert count <= 4 and len(produced) == count


@pytest.mark.parametrize("depth", [1, 3])
def test_every_item_arrives_once(depth: int) -> None:
    prefetcher = Prefetcher(iter(range(50)), depth, "reading")
    assert list(prefetcher) == list(range(50))
    prefetcher.close()
