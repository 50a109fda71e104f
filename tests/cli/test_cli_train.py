"""`sieve train`, `sieve methods` and `sieve export-backbone` from the command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from app.cli.entry import main
from app.core.ssl.backbones import load_backbone_file
from app.core.ssl.methods import METHODS
from app.core.ssl.runs import train_runs
from app.core.store.project import Project
from tests.core.ssl.test_trainer import make_demo_slice
from tests.factories import free_port, make_dataset

TINY = ["--image-size", "16", "--batch-size", "16", "--backbone", "resnet18", "--device", "cpu"]


@pytest.fixture()
def project_dir(tmp_path: Path) -> str:
    project = make_demo_slice(tmp_path / "data")
    project.close()
    return str(tmp_path / "data")


def test_methods_lists_every_method_with_defaults(capsys):
    assert main(["methods", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["name"] for row in rows] == list(METHODS)
    assert all({"optimizer", "lr", "weight_decay", "augment", "options"} <= set(r) for r in rows)
    assert main(["methods"]) == 0
    assert "simclr" in capsys.readouterr().out


def test_train_info_and_export(project_dir, tmp_path, capsys):
    code = main(["train", project_dir, "--epochs", "1", "--checkpoint-every", "0", *TINY])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "epoch 1/1 done" in out and "run 1 finished: 1 epochs" in out

    assert main(["info", project_dir, "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)["runs"]
    assert runs == [
        {
            "id": 1,
            "method": "simclr",
            "backbone": "resnet18",
            "status": "finished",
            "epochs_done": 1,
        }
    ]

    target = tmp_path / "backbone.pt"
    assert main(["export-backbone", project_dir, "--out", str(target)]) == 0
    assert "from run 1" in capsys.readouterr().out
    assert load_backbone_file(target).feature_dim == 512


@pytest.mark.parametrize(
    "args, message",
    [
        (["--option", "temperature"], "--option expects KEY=NUMBER"),
        (["--resume", "1", "--epochs", "3"], "drop --epochs"),
        (["--resume", "4"], "no training run 4"),
        (["--method", "nope"], "unknown method"),
    ],
)
def test_bad_training_arguments_fail_with_one_line(project_dir, capsys, args, message):
    assert main(["train", project_dir, *args]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize(
    "flag, value, message",
    [
        ("--lr", "nan", "must be a finite number > 0, not nan"),
        ("--lr", "0", "must be a finite number > 0, not 0"),
        ("--image-size", "4", "must be an integer from 8 to 4096, not 4"),
        ("--epochs", "0", "must be an integer >= 1, not 0"),
        ("--epochs", "2.5", "must be an integer >= 1, not 2.5"),
        ("--batch-size", "1", "must be an integer >= 2, not 1"),
        ("--weight-decay", "-1", "must be a finite number in [0, 1], not -1"),
        ("--warmup-epochs", "inf", "must be a finite number >= 0, not inf"),
        ("--knn-temperature", "0", "must be a finite number > 0, not 0"),
        ("--holdout", "1", "must be a finite number in [0, 1), not 1"),
        ("--seed", "-1", "must be an integer from 0 to 2147483647, not -1"),
        ("--workers", "-2", "must be an integer from 0 to 256, not -2"),
        ("--checkpoint-every", "nan", "must be an integer >= 0, not nan"),
    ],
)
def test_numeric_flags_are_range_checked(project_dir, capsys, flag, value, message):
    with pytest.raises(SystemExit) as exited:
        main(["train", project_dir, flag, value])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}: {message}" in err and "Traceback" not in err
    with Project.open(project_dir) as project:
        assert project.runs() == []


@pytest.mark.parametrize(
    "args, message",
    [
        (["--option", "temperature=nan"], "--option temperature must be a finite number"),
        (["--augment", "blur_prob=inf"], "--augment blur_prob must be a finite number"),
        (["--option", "temperature=0"], "option temperature of simclr must be a finite number > 0"),
        (["--method", "byol", "--option", "momentum_start=1.5"], "momentum_start of byol must"),
        (["--method", "moco", "--option", "projection_dim=0"], "projection_dim of moco must"),
    ],
)
def test_method_options_are_range_checked(project_dir, capsys, args, message):
    assert main(["train", project_dir, *args]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    with Project.open(project_dir) as project:
        assert project.runs() == []


@pytest.mark.parametrize(
    "args, message",
    [
        (["--weights", "missing.pt"], "missing.pt"),
        (["--option", "nonsense=1"], "unknown option(s) for simclr: nonsense"),
        (["--augment", "blur_prob=3"], "blur_prob must be in [0, 1]"),
        (["--backbone", "resnet19"], "resnet19"),
        (["--method", "nope"], "unknown method"),
    ],
)
def test_rejected_train_arguments_leave_no_run(project_dir, capsys, args, message):
    assert main(["train", project_dir, *TINY, "--epochs", "1", *args]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    with Project.open(project_dir) as project:
        assert project.runs() == []


def test_a_dataset_too_small_to_train_leaves_no_run(tmp_path, capsys):
    root = tmp_path / "one"
    make_dataset(root, {"a": 1}, size=(24, 24))
    assert main(["index", str(root)]) == 0
    assert main(["train", str(root), *TINY, "--epochs", "1"]) == 1
    assert "at least 2 images" in capsys.readouterr().err
    with Project.open(root) as project:
        assert project.runs() == []
        assert not project.checkpoints_dir.exists()


def test_export_without_a_finished_run_is_refused(project_dir, tmp_path, capsys):
    assert main(["export-backbone", project_dir, "--out", str(tmp_path / "b.pt")]) == 1
    assert "no finished training run" in capsys.readouterr().err


def test_kill_9_mid_training_then_resume(project_dir, capsys):
    checkpoint = Path(project_dir) / ".sieve" / "checkpoints" / "run-1" / "checkpoint.pt"
    command = [sys.executable, "-m", "app", "train", project_dir, "--epochs", "3"]
    command += ["--checkpoint-every", "1", "--holdout", "0", *TINY, "--batch-size", "4"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not checkpoint.exists() and time.monotonic() < deadline:
            assert process.poll() is None, process.stdout.read().decode()
            time.sleep(0.01)
        assert checkpoint.exists(), "no checkpoint within 2 minutes"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    killed_at = torch.load(checkpoint, weights_only=True)["position"]["global_step"]
    assert 1 <= killed_at < 36, f"killed after step {killed_at} of 36"

    with Project.open(project_dir) as project:
        assert [run.status for run in train_runs(project)] == ["interrupted"]
    assert main(["info", project_dir, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["runs"][0]["status"] == "interrupted"
    assert main(["train", project_dir, "--resume", "1"]) == 0
    out = capsys.readouterr().out
    assert "resumed run 1" in out and "run 1 finished: 3 epochs" in out
    assert main(["info", project_dir, "--json"]) == 0
    run = json.loads(capsys.readouterr().out)["runs"][0]
    assert run["status"] == "finished" and run["epochs_done"] == 3


def test_torchrun_two_processes_train_one_run(project_dir, capsys):
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2"]
    command += ["--master_port", str(free_port()), "-m", "app", "train", project_dir]
    command += ["--epochs", "2", "--checkpoint-every", "0", *TINY]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("run 1 finished: 2 epochs") == 1

    with Project.open(project_dir) as project:
        runs = train_runs(project)
    assert [r.status for r in runs] == ["finished"]
    assert runs[0].metrics["world_size"] == 2
    assert runs[0].metrics["batch_size"] == 16
