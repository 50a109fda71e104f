"""A check shared by the cancel tests: long work stops soon after its CancelToken is set."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from app.core.errors import JobCancelled
from app.core.jobs import CancelToken


def assert_cancels_quickly(
    work: Callable[[CancelToken], object], after: float = 0.3, within: float = 2.5
) -> None:
    """Run ``work(cancel)`` on a thread, cancel it after ``after`` seconds and check that it
    raised JobCancelled no later than ``within`` seconds after the cancel.

    Work that never looks at the token ends without JobCancelled and fails here whatever the
    timing (it must outlive ``after``, which is checked). ``within`` bounds how long a chunk may
    run between checks; not tighter: one chunk of a kNN graph took 1.2 s on a loaded CI machine.
    """
    cancel = CancelToken()
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            work(cancel)
        except BaseException as error:
            outcome["error"] = error
        outcome["ended"] = time.monotonic()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    time.sleep(after)
    assert thread.is_alive(), f"the work ended before the cancel ({outcome}): make it bigger"
    cancelled = time.monotonic()
    cancel.cancel()
    thread.join(within + 5)
    assert isinstance(outcome.get("error"), JobCancelled), outcome
    took = float(outcome["ended"]) - cancelled  # type: ignore[arg-type]
    assert took < within, f"noticed the cancel after {took:.2f} s"
