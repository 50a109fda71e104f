"""Run records: a run whose process is gone is listed (and stored) as interrupted."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.core.errors import SieveError
from app.core.ssl.config import TrainConfig
from app.core.ssl.process_owner import ProcessOwner
from app.core.ssl.runs import check_resumable, create_run, get_run, train_runs
from app.core.store.project import Project
from tests.factories import make_dataset


@pytest.fixture()
def project(tmp_path: Path):
    project = Project.for_dataset(make_dataset(tmp_path / "data", {"a": 1}))
    yield project
    project.close()


def sleeper() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def dead_pid() -> int:
    process = sleeper()
    process.kill()
    process.wait()
    return process.pid


def running_run(project: Project, metrics: dict) -> int:
    """A run marked running by ``metrics``' owner, with a checkpoint file to resume from."""
    run_id = create_run(project, TrainConfig()).id
    checkpoint = project.checkpoints_dir / f"run-{run_id}" / "checkpoint.pt"
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(b"a checkpoint")
    relative = checkpoint.relative_to(project.path).as_posix()
    project.update_run(run_id, status="running", metrics=metrics, checkpoint=relative)
    return run_id


def stored_status(project: Project, run_id: int) -> str:
    return next(run["status"] for run in project.runs() if run["id"] == run_id)


def test_a_run_whose_recorded_pid_is_gone_is_interrupted(project):
    run_id = running_run(project, {"epochs_done": 0, "pid": dead_pid()})
    assert [record.status for record in train_runs(project)] == ["interrupted"]
    assert stored_status(project, run_id) == "interrupted"


def owned_by(owner: ProcessOwner) -> dict:
    return {"epochs_done": 0, "owner": owner.to_dict()}


def test_a_killed_owner_turns_its_running_run_interrupted_and_resumable(project):
    process = sleeper()
    try:
        run_id = running_run(project, owned_by(ProcessOwner.of(process.pid)))
        assert get_run(project, run_id).status == "running"
        with pytest.raises(SieveError, match=f"still running \\(process {process.pid} on "):
            check_resumable(get_run(project, run_id))
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    record = get_run(project, run_id)
    assert record.status == "interrupted" and stored_status(project, run_id) == "interrupted"
    check_resumable(record)


def test_a_killed_but_unreaped_owner_counts_as_gone(project):
    process = sleeper()
    process.send_signal(signal.SIGKILL)
    try:
        time.sleep(0.2)
        run_id = running_run(project, owned_by(ProcessOwner.of(process.pid)))
        assert get_run(project, run_id).status == "interrupted"
    finally:
        process.wait()


def test_a_reused_pid_does_not_keep_a_run_running(project):
    me = ProcessOwner.current()
    assert me.started is not None, "this test needs /proc"
    earlier = ProcessOwner(me.pid, me.host, me.started - 1)
    run_id = running_run(project, owned_by(earlier))
    assert get_run(project, run_id).status == "interrupted"


def test_runs_of_this_process_or_another_host_stay_running(project):
    here = running_run(project, owned_by(ProcessOwner.current()))
    elsewhere = running_run(project, owned_by(ProcessOwner(dead_pid(), "another-host", 1)))
    assert [r.status for r in train_runs(project)] == ["running", "running"]
    check_resumable(get_run(project, here))
    with pytest.raises(SieveError, match="still running .* on another-host"):
        check_resumable(get_run(project, elsewhere))


def test_only_a_running_run_becomes_interrupted(project):
    run_id = running_run(project, owned_by(ProcessOwner.of(dead_pid())))
    project.update_run(run_id, status="stopped")
    assert get_run(project, run_id).status == "stopped"
