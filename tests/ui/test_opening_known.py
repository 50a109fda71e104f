"""Re-opening a known project: the window's first read of it runs before the index process."""

from __future__ import annotations

import threading
import time

import pytest

from app.core.errors import JobCancelled
from app.core.ingest.indexing import IndexOptions, index_job
from app.core.jobs import CancelToken, run_job
from app.core.store.project import Project
from app.ui import opening
from app.ui.opening import OpenedProject, index_in_place_job
from tests.factories import make_dataset


def known_project(tmp_path):
    root = make_dataset(tmp_path / "data", {"a": 3})
    with Project.for_dataset(root) as project:
        run_job(index_job(project, IndexOptions(workers=2)))
    return root


def test_a_known_projects_index_process_starts_once_the_window_shows_it(tmp_path):
    root = known_project(tmp_path)
    opened = OpenedProject()
    job = index_in_place_job(root, None, opened)
    assert next(job).stage == "open" and opened.get()[2] == 3  # the window may show it now
    shown = []

    def window_shows_it() -> None:
        shown.append(True)
        opened.shown.set()

    timer = threading.Timer(1.5, window_shows_it)
    timer.start()
    try:
        next(job)  # the relay's first word: the index process has started
        assert shown
        for _ in job:
            pass
    finally:
        timer.cancel()


def test_waiting_for_the_window_can_be_cancelled(tmp_path):
    root = known_project(tmp_path)
    cancel = CancelToken()
    job = index_in_place_job(root, None, OpenedProject(), cancel=cancel)
    assert next(job).stage == "open"
    cancel.cancel()
    with pytest.raises(JobCancelled):
        next(job)


def test_a_known_project_without_rows_is_indexed_at_once(tmp_path, monkeypatch):
    root = tmp_path / "empty"
    root.mkdir()
    Project.for_dataset(root).close()  # known, but nothing to show before its index
    monkeypatch.setattr(opening, "SHOWN_WAIT_S", 60.0)
    started = time.monotonic()
    run_job(index_in_place_job(root, None, OpenedProject()))
    assert time.monotonic() - started < 30  # did not wait for a window that shows nothing
