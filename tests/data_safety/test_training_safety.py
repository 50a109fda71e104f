"""Training never loses the user's progress or litters the project: the promises, via the CLI.

A full disk while checkpointing keeps the last good checkpoint byte for byte and the run
resumable; a run killed with ``kill -9`` is shown interrupted and resumes; a rejected
``sieve train`` leaves the project exactly as it was (no run row, cache or checkpoint).
"""

from __future__ import annotations

import errno
import hashlib
import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from app.cli.entry import main
from app.core.ssl import checkpoint as checkpoint_module
from app.core.ssl.runs import train_runs
from app.core.store.project import Project
from tests.core.ssl.test_trainer import make_demo_slice

TINY = ["--image-size", "16", "--backbone", "resnet18", "--device", "cpu", "--holdout", "0"]
SQLITE_FILES = (".sqlite", ".sqlite-wal", ".sqlite-shm")


@pytest.fixture()
def dataset(tmp_path: Path) -> Path:
    make_demo_slice(tmp_path / "data").close()
    return tmp_path / "data"


def checkpoint_of(dataset: Path, run: int = 1) -> Path:
    return dataset / ".sieve" / "checkpoints" / f"run-{run}" / "checkpoint.pt"


def snapshot(root: Path) -> dict[str, str]:
    """Every file below ``root`` by SHA-256, with the SQLite databases as their SQL dumps (the
    bytes of a WAL database may change when nothing in it did)."""
    state = {}
    for path in sorted(root.rglob("*")):
        name = path.relative_to(root).as_posix()
        if path.name.endswith(SQLITE_FILES[1:]) or not path.is_file():
            continue
        if path.name.endswith(SQLITE_FILES[0]):
            with sqlite3.connect(path) as db:
                state[name] = "\n".join(db.iterdump())
            db.close()
        else:
            state[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return state


def test_disk_full_keeps_the_last_good_checkpoint_byte_identical(dataset, monkeypatch, capsys):
    checkpoint = checkpoint_of(dataset)
    real_save, calls, before = torch.save, [0], {}

    def save(payload, handle) -> None:
        calls[0] += 1
        if calls[0] == 1:
            real_save(payload, handle)
            return
        before["bytes"] = checkpoint.read_bytes()
        handle.write(b"\0" * 4096)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint_module.torch, "save", save)
    args = ["train", str(dataset), *TINY, "--epochs", "2", "--batch-size", "16"]
    assert main([*args, "--checkpoint-every", "1"]) == 1
    err = capsys.readouterr().err
    assert f"disk full while saving the checkpoint to {checkpoint}: free space" in err
    assert "--resume 1" in err and "Traceback" not in err
    assert checkpoint.read_bytes() == before["bytes"]
    assert [p.name for p in checkpoint.parent.iterdir()] == ["checkpoint.pt"]

    monkeypatch.setattr(checkpoint_module.torch, "save", real_save)
    assert main(["train", str(dataset), "--resume", "1"]) == 0
    assert "run 1 finished: 2 epochs" in capsys.readouterr().out


def test_a_killed_run_is_shown_interrupted_and_resumes(dataset, capsys):
    checkpoint = checkpoint_of(dataset)
    command = [sys.executable, "-m", "app", "train", str(dataset), *TINY, "--epochs", "3"]
    command += ["--batch-size", "4", "--checkpoint-every", "1"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not checkpoint.exists():
            assert process.poll() is None and time.monotonic() < deadline, "no checkpoint"
            time.sleep(0.01)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()

    assert main(["info", str(dataset), "--json"]) == 0  # sieve info alone notices
    assert json.loads(capsys.readouterr().out)["runs"][0]["status"] == "interrupted"
    with Project.open(dataset) as project:
        assert [run.status for run in train_runs(project)] == ["interrupted"]
    assert main(["train", str(dataset), "--resume", "1"]) == 0
    assert "run 1 finished: 3 epochs" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args",
    [
        ["--lr", "nan"],
        ["--batch-size", "1"],
        ["--image-size", "100000"],
        ["--method", "nope"],
        ["--backbone", "resnet19"],
        ["--weights", "missing.pt"],
        ["--option", "temperature=inf"],
        ["--augment", "blur_prob=3"],
        ["--resume", "9"],
    ],
)
def test_a_rejected_train_command_leaves_the_project_unchanged(dataset, capsys, args):
    before = snapshot(dataset)
    settings = [] if "--resume" in args else TINY
    try:
        code = main(["train", str(dataset), *settings, *args])
    except SystemExit as exited:
        code = exited.code
    assert code in (1, 2)
    assert "Traceback" not in capsys.readouterr().err
    assert snapshot(dataset) == before
    assert not (dataset / ".sieve" / "checkpoints").exists()
    assert not (dataset / ".sieve" / "cache").exists()
