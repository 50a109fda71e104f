"""Background work makes way for the window: loops wait while it paints (foreground /
make_way), and a reader thread runs below its priority (run_below_the_window)."""

from __future__ import annotations

import os
import sys
import threading
import time

import pytest

from app.core.jobs import BACKGROUND_NICENESS, foreground, make_way, run_below_the_window


def _make_way_in_a_thread(max_wait_s: float) -> tuple[threading.Thread, threading.Event]:
    passed = threading.Event()

    def loop_step() -> None:
        make_way(max_wait_s)
        passed.set()

    thread = threading.Thread(target=loop_step)
    thread.start()
    return thread, passed


def test_a_background_step_waits_until_the_paint_is_over() -> None:
    with foreground():
        thread, passed = _make_way_in_a_thread(max_wait_s=30.0)
        assert not passed.wait(0.2)  # held back while the paint lasts
    assert passed.wait(5.0)  # and goes on as soon as it ends
    thread.join()


def test_nested_paints_hold_background_steps_until_the_outer_one_ends() -> None:
    with foreground():
        with foreground():
            pass
        thread, passed = _make_way_in_a_thread(max_wait_s=30.0)
        assert not passed.wait(0.2)
    assert passed.wait(5.0)
    thread.join()


def test_a_background_step_waits_at_most_its_limit() -> None:
    with foreground():
        thread, passed = _make_way_in_a_thread(max_wait_s=0.05)
        assert passed.wait(5.0)  # a paint that never ends does not stop the work
        thread.join()


def test_the_painting_thread_itself_and_a_process_without_paints_never_wait() -> None:
    started = time.perf_counter()
    make_way(max_wait_s=30.0)
    with foreground():
        make_way(max_wait_s=30.0)  # the paint's own thread reading a table must not wait on itself
    assert time.perf_counter() - started < 5.0


@pytest.mark.skipif(sys.platform != "linux", reason="a priority per thread is Linux's")
def test_a_thread_run_below_the_window_lowers_only_its_own_priority() -> None:
    own = os.getpriority(os.PRIO_PROCESS, os.getpid())
    seen: dict[str, int] = {}

    def reader() -> None:
        run_below_the_window()
        run_below_the_window()  # once: a second call changes nothing
        seen["reader"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

        def started_by_it() -> None:
            seen["child"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

        child = threading.Thread(target=started_by_it)
        child.start()
        child.join()

    thread = threading.Thread(target=reader)
    thread.start()
    thread.join()
    wanted = min(19, own + BACKGROUND_NICENESS)
    assert seen == {"reader": wanted, "child": wanted}
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == own  # the window's
