"""Closing the window while several panels run long jobs: every job stops, in parallel."""

from __future__ import annotations

import time
from pathlib import Path

from app.core.jobs import CancelToken, Job, Progress
from app.ui.main_window import MainWindow

STEP_S = 0.05
RUN_S = 10.0
CHECKPOINT_S = 0.8


def long_job(checkpoint: Path):
    """A job that checks for cancel every 50 ms for 10 s and saves a checkpoint when stopped."""

    def factory(cancel: CancelToken) -> Job[None]:
        def job() -> Job[None]:
            try:
                steps = int(RUN_S / STEP_S)
                for step in range(steps):
                    cancel.raise_if_cancelled()
                    time.sleep(STEP_S)
                    yield Progress("working", step, steps)
            finally:
                time.sleep(CHECKPOINT_S)
                checkpoint.write_text("kept")

        return job()

    return factory


def test_close_with_running_jobs_exits_within_two_seconds(qtbot, window: MainWindow, tmp_path):
    runners = [window.runner, window.selection_panel.runner, window.active_panel.runner]
    checkpoints = [tmp_path / f"checkpoint-{i}" for i in range(len(runners))]
    for runner, checkpoint in zip(runners, checkpoints, strict=True):
        runner.start(long_job(checkpoint), f"long {checkpoint.name}")
    qtbot.waitUntil(lambda: all(runner.is_busy for runner in runners))
    qtbot.wait(200)

    began = time.monotonic()
    assert window.close()
    elapsed = time.monotonic() - began

    assert not window.isVisible()
    assert elapsed < 2.0, f"closing took {elapsed:.2f} s"
    assert all(runner.running_threads == 0 for runner in runners)
    assert all(checkpoint.read_text() == "kept" for checkpoint in checkpoints)
