"""Ctrl-C on a long command: it stops within 2 s, exits 130 and leaves the project consistent.

Each command runs as a real ``python -m app`` process with its output on a pseudo-terminal, so
the progress line is drawn as a user sees it; SIGINT goes out once that line shows the work
under way (files indexed, UMAP epochs, training steps).
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from app.cli.entry import main
from app.core.ingest.indexing import BATCH_SIZE, IndexOptions, index_job
from app.core.jobs import CancelToken, run_job
from app.core.ssl.runs import train_runs
from app.core.store.embedding_sets import create_embedding_set, finish_embedding_set
from app.core.store.project import Project
from tests.core.ssl.test_trainer import make_demo_slice
from tests.factories import gradient

REPO = Path(__file__).resolve().parents[2]
STOP_WITHIN_S = 2.0
START_TIMEOUT_S = 120.0
INTERRUPTED = "interrupted (the project is consistent"


@dataclass
class Stopped:
    """How an interrupted command ended: exit code, seconds after SIGINT, all it printed."""

    code: int
    seconds: float
    output: str


class Terminal:
    """A command whose stdout and stderr are a pseudo-terminal, read as it runs."""

    def __init__(self, args: list[str]) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
        leader, follower = pty.openpty()
        command = [sys.executable, "-m", "app", *args]
        self.process = subprocess.Popen(
            command, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower
        )
        os.close(follower)
        self.leader = leader
        self.output = b""

    def text(self) -> str:
        return self.output.decode(errors="replace")

    def read(self, wait_s: float) -> None:
        """Read what the command wrote within ``wait_s`` seconds (nothing at its end)."""
        ready, _, _ = select.select([self.leader], [], [], wait_s)
        if ready:
            try:
                self.output += os.read(self.leader, 65536)
            except OSError:
                time.sleep(wait_s)

    def wait_for(self, started: re.Pattern[str]) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not started.search(self.text()):
            assert self.process.poll() is None, f"ended before it started:\n{self.text()}"
            assert time.monotonic() < deadline, f"no {started.pattern!r} in:\n{self.text()}"
            self.read(0.05)

    def interrupt(self) -> Stopped:
        """Send SIGINT once; wait for the command to end (it is killed after 30 s)."""
        sent = time.monotonic()
        self.process.send_signal(signal.SIGINT)
        while self.process.poll() is None and time.monotonic() - sent < 30:
            self.read(0.01)
        seconds = time.monotonic() - sent
        if self.process.poll() is None:
            self.process.kill()
        code = self.process.wait()
        self.read(0.1)
        os.close(self.leader)
        return Stopped(code, seconds, self.text())


def interrupt_when(args: list[str], started: str) -> Stopped:
    """Run ``sieve ARGS``, send SIGINT once ``started`` shows in its output, return the end."""
    terminal = Terminal(args)
    try:
        terminal.wait_for(re.compile(started))
    except BaseException:
        terminal.process.kill()
        terminal.process.wait()
        os.close(terminal.leader)
        raise
    return terminal.interrupt()


def assert_stopped_cleanly(stopped: Stopped) -> None:
    assert stopped.code == 130, f"exit {stopped.code}:\n{stopped.output}"
    assert stopped.seconds < STOP_WITHIN_S, f"took {stopped.seconds:.1f} s:\n{stopped.output}"
    assert INTERRUPTED in stopped.output


def assert_consistent(folder: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    """The project opens, passes SQLite's integrity check and ``sieve info --json`` works."""
    with Project.open(folder) as project:
        assert project.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    capsys.readouterr()
    assert main(["info", str(folder), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def write_large_images(root: Path, count: int) -> None:
    """``count`` copies of one 1000 x 1000 PNG: small files that take a while to decode."""
    root.mkdir(parents=True)
    data_file = root / "0000.png"
    gradient(1000, 1000).save(data_file)
    data = data_file.read_bytes()
    for number in range(1, count):
        (root / f"{number:04d}.png").write_bytes(data)


def embedded_folder(root: Path, count: int) -> Path:
    """An indexed folder of ``count`` tiny images with an active set of random 32-D vectors."""
    image = gradient(16, 16)
    for number in range(count):
        folder = root / f"c{number % 4}"
        folder.mkdir(parents=True, exist_ok=True)
        image.save(folder / f"{number:05d}.png")
    with Project.for_dataset(root) as project:
        run_job(index_job(project, IndexOptions(), CancelToken()))
        ids = np.array([row.id for row in project.samples()], dtype=np.int64)
        vectors = np.random.default_rng(0).standard_normal((len(ids), 32)).astype(np.float32)
        embedding_set = create_embedding_set(project, {"source": "random test vectors"})
        finish_embedding_set(project, embedding_set, ids, vectors)
    return root


def test_ctrl_c_stops_index_between_files_and_a_rerun_finishes(tmp_path, capsys):
    root = tmp_path / "data"
    write_large_images(root, BATCH_SIZE + 150)
    args = ["index", str(root), "--no-thumbnails", "--workers", "2"]
    stopped = interrupt_when(args, r"index\s+\[[#-]+\] [1-9]")  # files decoded
    assert_stopped_cleanly(stopped)
    info = assert_consistent(root, capsys)
    assert 0 < info["samples"] < BATCH_SIZE + 150  # committed as it went
    assert info["samples"] + info["pending"] == BATCH_SIZE + 150  # every file listed at once
    assert main(args) == 0
    assert assert_consistent(root, capsys)["samples"] == BATCH_SIZE + 150


def test_ctrl_c_stops_umap_between_epochs(tmp_path, capsys):
    root = embedded_folder(tmp_path / "data", 3000)
    stopped = interrupt_when(["map", str(root), "--method", "umap"], r"map\s+\[[#-]+\] [1-9]")
    assert_stopped_cleanly(stopped)
    assert_consistent(root, capsys)
    with Project.open(root) as project:
        maps = next(project.path.rglob("maps"), None)
    assert maps is None or not any(maps.glob("umap-*.npy")), "a cancelled map was cached"
    assert main(["map", str(root), "--method", "pca"]) == 0


def test_ctrl_c_stops_training_between_steps_with_a_checkpoint(tmp_path, capsys):
    make_demo_slice(tmp_path / "data").close()
    root = tmp_path / "data"
    args = ["train", str(root), "--epochs", "50", "--holdout", "0", "--checkpoint-every", "0"]
    args += ["--image-size", "32", "--batch-size", "4", "--backbone", "mobilenet_v3_small"]
    stopped = interrupt_when([*args, "--device", "cpu"], r"step [1-9]")
    assert_stopped_cleanly(stopped)
    assert assert_consistent(root, capsys)["runs"][0]["status"] == "stopped"
    with Project.open(root) as project:
        (run,) = train_runs(project)
        assert run.checkpoint is not None and Path(run.checkpoint).is_file()


def test_ctrl_c_stops_embedding_between_batches_leaving_a_stopped_set(tmp_path, capsys):
    root = embedded_folder(tmp_path / "data", 3000)
    args = ["embed", str(root), "--backbone", "resnet18", "--image-size", "32", "--device", "cpu"]
    stopped = interrupt_when([*args, "--batch-size", "8"], r"\] [1-9][\d,]*/3,000")
    assert_stopped_cleanly(stopped)
    sets = assert_consistent(root, capsys)["embeddings"]
    assert [entry["status"] for entry in sets] == ["finished", "stopped"]
    assert [entry["active"] for entry in sets] == [True, False]
