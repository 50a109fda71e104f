"""The index in a child process (what the app runs): reports, stops, failures, crashes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.core.errors import JobCancelled, SieveError
from app.core.ingest import remote
from app.core.ingest.priority import VisibleFirst
from app.core.ingest.remote import NICENESS, WorkerUnavailable, index_in_worker
from app.core.ingest.worker import DECODE_NICENESS
from app.core.jobs import CancelToken, run_job
from app.core.store.db import connect
from app.core.store.project import DB_NAME, Project
from app.core.workers.lines import close_pipes
from tests.factories import make_dataset


def children_running(folder: Path) -> list[int]:
    """Pids of index processes working on ``folder`` (from /proc)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().split()[2]
        except OSError:
            continue
        if b"_index-worker" in argv and os.fsencode(folder) in argv and state != "Z":
            pids.append(int(entry.name))
    return pids


def test_the_child_indexes_the_folder_and_reports_as_it_goes(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "data", {"cats": 4, "dogs": 3})
    (root / "dogs" / "broken.jpg").write_bytes(b"not a jpeg")
    opened = []
    seen = []
    for progress in index_in_worker(root, None, lambda *a: opened.append(a)):
        seen.append(progress)
    assert opened == [(root / ".sieve", root, 0)]
    stages = [p.stage for p in seen]
    assert stages[:2] == ["open", "list"] and stages[-1] == "index" and seen[-1].message == "done"
    assert seen[-1].done == seen[-1].total == 8
    with Project.open(root / ".sieve") as project:
        assert project.sample_count(status="ok") == 7 and project.pending_count() == 0
        assert project.thumbs.count() == 7
        assert [row["path"] for row in project.broken()] == ["dogs/broken.jpg"]
    assert children_running(root) == []


def test_a_cancelled_child_stops_and_the_next_run_carries_on(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "data", {"a": 150, "b": 150})
    cancel = CancelToken()
    with pytest.raises(JobCancelled):
        for progress in index_in_worker(root, None, lambda *a: None, cancel=cancel):
            if progress.stage == "index":
                cancel.cancel()
    assert children_running(root) == []
    with Project.open(root / ".sieve") as project:
        left = project.pending_count()
    assert 0 < left <= 300  # stopped before the end; every row was listed
    seen = list(index_in_worker(root, None, lambda *a: None))
    assert seen[-1].total == left and seen[-1].message == "done"
    with Project.open(root / ".sieve") as project:
        assert project.pending_count() == 0 and project.sample_count(status="ok") == 300


def test_a_child_that_fails_says_why(tmp_path: Path) -> None:
    with pytest.raises(SieveError, match="not a folder"):
        run_job(index_in_worker(tmp_path / "nowhere", None, lambda *a: None))


def test_a_killed_child_fails_the_job_and_what_it_committed_is_kept(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "data", {"a": 200, "b": 200})
    job = index_in_worker(root, None, lambda *a: None)
    with pytest.raises(SieveError, match="ended unexpectedly"):
        for progress in job:
            if progress.stage == "index" and progress.done > 0:
                for pid in children_running(root):
                    os.kill(pid, signal.SIGKILL)
    with Project.open(root / ".sieve") as project:
        assert project.sample_count() == 400  # every listed row survived
        assert project.pending_count() < 400
    for _ in index_in_worker(root, None, lambda *a: None):
        pass
    with Project.open(root / ".sieve") as project:
        assert project.pending_count() == 0 and project.thumbs.count() == 400


def test_a_line_left_unsent_to_a_dead_child_does_not_hide_how_it_ended() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", "pass"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    child.wait()
    child.stdin.write("want 1,2,3\n")  # buffered: its flush meets a closed pipe
    close_pipes(child)  # raises no broken pipe
    assert child.stdin.closed and child.stdout.closed


def test_the_rows_on_screen_reach_the_child(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "data", {"a": 200, "b": 200})
    visible = VisibleFirst()
    job = index_in_worker(root, None, lambda *a: None, visible=visible)
    for progress in job:
        if progress.stage == "list" and progress.total is not None:
            break
    with Project.open(root / ".sieve") as project:
        last_ids = [row.id for row in project.samples()][-20:]  # folder b's end: decoded last
    visible.prefer(last_ids)
    deadline = time.monotonic() + 60
    done_first = False
    for progress in job:
        with Project.open(root / ".sieve") as project:
            wanted = len(project.thumbs.get_many(last_ids))
            thumbed = project.thumbs.count()
        if wanted == len(last_ids) and thumbed < 400:
            done_first = True
        if progress.message == "done" or time.monotonic() > deadline:
            break
    assert done_first


def test_a_child_that_cannot_start_is_reported_as_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(remote, "worker_command", lambda *a: [str(tmp_path / "no-such-program")])
    with pytest.raises(WorkerUnavailable, match="cannot start the index process"):
        run_job(index_in_worker(tmp_path, None, lambda *a: None))


def test_the_child_runs_below_the_window_and_further_below_once_it_has_listed(
    tmp_path: Path,
) -> None:
    """Nice 5 while it lists (held here: its rows wait for this test's write lock), nice 10
    once the files are decoded."""
    root = make_dataset(tmp_path / "data", {"a": 100, "b": 100})
    with Project.for_dataset(root) as project:
        lock = connect(project.path / DB_NAME)
    lock.execute("BEGIN IMMEDIATE")
    niceness: dict[str, list[int]] = {}

    def look(stage: str) -> None:
        niceness[stage] = []
        for pid in children_running(root):  # its main thread, which starts the decoders
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            niceness[stage].append(int(fields[16]) - os.nice(0))  # field 19: nice

    def listing(*opened: object) -> None:
        time.sleep(0.3)  # the child lists, and waits for the lock to commit the rows
        look("list")
        lock.commit()

    for progress in index_in_worker(root, None, listing):
        if progress.stage == "index" and "index" not in niceness:
            look("index")
    lock.close()
    assert niceness == {"list": [NICENESS], "index": [NICENESS + DECODE_NICENESS]}


def test_a_child_that_exits_at_start_is_reported_as_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = [sys.executable, "-c", "import sys; sys.exit(3)"]
    monkeypatch.setattr(remote, "worker_command", lambda *a: broken)
    with pytest.raises(WorkerUnavailable, match="exited at start"):
        run_job(index_in_worker(tmp_path, None, lambda *a: None))
