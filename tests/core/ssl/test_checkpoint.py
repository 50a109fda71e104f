"""Checkpoints on a full disk: a clear message, the last good checkpoint kept, the run resumable."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
import torch

from app.core.errors import SieveError
from app.core.ssl import checkpoint as checkpoint_module
from app.core.ssl.runs import get_run
from app.core.store.project import Project
from tests.core.ssl.test_trainer import make_demo_slice, tiny, train

REAL_SAVE = torch.save


@pytest.fixture()
def project(tmp_path: Path):
    project = make_demo_slice(tmp_path / "data")
    yield project
    project.close()


def full_disk_after(good_saves: int, path: Path, seen: dict[str, bytes]):
    """A torch.save that writes ``good_saves`` checkpoints, then half a file and ENOSPC."""
    calls = [0]

    def save(payload, handle) -> None:
        calls[0] += 1
        if calls[0] <= good_saves:
            REAL_SAVE(payload, handle)
            return
        seen["before"] = path.read_bytes() if path.exists() else b""
        handle.write(b"half a checkpoint")
        raise OSError(errno.ENOSPC, "No space left on device")

    return save


def test_disk_full_keeps_the_last_checkpoint_and_says_how_to_resume(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = project.checkpoints_dir / "run-1" / "checkpoint.pt"
    seen: dict[str, bytes] = {}
    monkeypatch.setattr(checkpoint_module.torch, "save", full_disk_after(2, path, seen))

    with pytest.raises(SieveError) as raised:
        train(project, tiny(epochs=2, checkpoint_every=1))

    message = str(raised.value)
    assert message.startswith(f"disk full while saving the checkpoint to {path}: free space")
    assert "--resume 1" in message
    assert path.read_bytes() == seen["before"]
    assert sorted(p.name for p in path.parent.iterdir()) == ["checkpoint.pt"]
    record = get_run(project, 1)
    assert record.status == "failed" and record.metrics["error"] == message

    monkeypatch.setattr(checkpoint_module.torch, "save", REAL_SAVE)
    resumed, _ = train(project, resume=1)
    assert resumed.status == "finished" and resumed.epochs_done == 2


def test_disk_full_while_stopping_marks_the_run_failed(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.core.errors import JobCancelled
    from app.core.jobs import CancelToken, run_job
    from app.core.ssl.trainer import train_job

    path = project.checkpoints_dir / "run-1" / "checkpoint.pt"
    seen: dict[str, bytes] = {}
    monkeypatch.setattr(checkpoint_module.torch, "save", full_disk_after(0, path, seen))
    cancel = CancelToken()

    def stop_after_first_step(progress) -> None:
        if progress.stage == "training":
            cancel.cancel()

    with pytest.raises(SieveError, match="disk full while saving") as raised:
        run_job(train_job(project, tiny(checkpoint_every=0), cancel), stop_after_first_step)
    assert not isinstance(raised.value, JobCancelled)
    assert not path.parent.exists() or list(path.parent.iterdir()) == []
    assert get_run(project, 1).status == "failed"
