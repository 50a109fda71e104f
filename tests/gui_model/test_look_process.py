"""The quick look in its own process: a real child that embeds, lays out and reports back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from app.core.errors import JobCancelled, SieveError
from app.core.ingest.indexing import IndexOptions, index_job
from app.core.jobs import CancelToken, Progress, run_job
from app.core.store.embedding_sets import active_embedding_set
from app.core.store.project import Project
from app.gui_model import look_process
from app.gui_model.look_process import LookProcess, LookUnavailable
from app.gui_model.look_worker import _Current, decode_points, encode_points
from app.ui.map.quick_look import quick_look_job
from tests.factories import make_dataset

COUNT = 12  # UMAP needs at least 10 points


def indexed(root: Path, project_dir: Path) -> Path:
    with Project.for_dataset(root, project_dir) as project:
        run_job(index_job(project, IndexOptions(), CancelToken()))
        return project.path


@pytest.fixture(scope="module")
def process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LookProcess]:
    """One child for the module's looks (it loads torch and UMAP once); no ImageNet weights."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("torch_home")))
        shared = LookProcess(log_file=False)
        shared.start()
    yield shared
    shared.close()


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    root = make_dataset(tmp_path / "data", {"a": COUNT // 2, "b": COUNT // 2}, size=(40, 30))
    return indexed(root, tmp_path / "project")


def finish(job) -> tuple[list[Progress], np.ndarray]:
    """``(reports, result)`` of ``job``."""
    reports: list[Progress] = []
    result = run_job(job, reports.append)
    return reports, result


def test_a_look_runs_in_the_child_and_its_layouts_come_back_with_their_source(
    process: LookProcess, project_dir: Path
) -> None:
    reports, xy = finish(process.look(project_dir, "umap", CancelToken()))
    layouts = [r.partial for r in reports if isinstance(r.partial, dict)]
    assert layouts[0]["method"] == "pca" and layouts[-1]["method"] in ("pca", "umap")
    assert all(p["xy"].shape == (COUNT, 2) and p["xy"].dtype == np.float32 for p in layouts)
    source = layouts[0]["source"]
    assert len(source.ids) == COUNT and source.vectors.shape[0] == COUNT
    assert xy.shape == (COUNT, 2) and np.isfinite(xy).all()
    assert any(r.stage == "embedding" for r in reports)
    with Project.open(project_dir) as project:
        found = active_embedding_set(project)
        assert found is not None and found.config["quick"] and found.config["weights"] == "random"
        assert found.id == source.set_id and found.metrics["from_thumbnails"] == COUNT
    assert process.wait_until_warm(120), "the child loads torch and UMAP ahead"
    pid = process.pid
    _, again = finish(process.look(project_dir, "pca", CancelToken()))
    assert again.shape == (COUNT, 2) and process.pid == pid, "the next look reuses the child"


def test_a_stopped_look_ends_cancelled_and_the_child_serves_the_next(
    process: LookProcess, project_dir: Path
) -> None:
    cancel = CancelToken()
    cancel.cancel()  # stopped before the child has even begun it
    with pytest.raises(JobCancelled):
        finish(process.look(project_dir, "umap", cancel))
    pid = process.pid
    _, xy = finish(process.look(project_dir, "pca", CancelToken()))
    assert xy.shape == (COUNT, 2) and process.pid == pid


def test_the_childs_error_reaches_the_window_with_its_message(
    process: LookProcess, tmp_path: Path
) -> None:
    with pytest.raises(SieveError, match="no Sieve project"):
        finish(process.look(tmp_path / "nothing here", "umap", CancelToken()))
    assert process.running


def test_a_child_killed_midway_fails_the_look_and_the_next_starts_a_new_one(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    own = LookProcess(log_file=False)
    try:
        own.start()
        first = own.pid
        assert first is not None
        job = own.look(project_dir, "umap", CancelToken())
        with pytest.raises(SieveError, match="ended unexpectedly"):
            for _ in job:
                os.kill(first, signal.SIGKILL)
        assert not own.running
        _, xy = finish(own.look(project_dir, "pca", CancelToken()))
        second = own.pid
        assert xy.shape == (COUNT, 2) and second not in (None, first)
        started = time.perf_counter()
        own.release()  # a child with torch loaded takes a second or more to exit
        assert time.perf_counter() - started < 0.5 and not own.running
        deadline = time.monotonic() + 30
        while Path(f"/proc/{second}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not Path(f"/proc/{second}").exists(), "the released child ends"
    finally:
        own.close()


def test_without_the_child_the_quick_look_runs_in_this_process(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setattr(look_process, "look_command", lambda *a: [str(tmp_path / "no-program")])
    own = LookProcess(log_file=False)
    with pytest.raises(LookUnavailable):
        finish(own.look(project_dir, "pca", CancelToken()))
    exits = [sys.executable, "-c", "raise SystemExit(3)"]
    monkeypatch.setattr(look_process, "look_command", lambda *a: exits)
    with pytest.raises(LookUnavailable, match="exit status 3"):
        finish(own.look(project_dir, "pca", CancelToken()))
    reports, xy = finish(quick_look_job(project_dir, "pca", CancelToken(), own))
    assert xy.shape == (COUNT, 2) and any(r.stage == "embedding" for r in reports)


def test_points_cross_the_pipe_unchanged() -> None:
    xy = np.random.default_rng(0).normal(size=(7, 2)).astype(np.float32)
    assert np.array_equal(decode_points(encode_points(xy)), xy)
    assert decode_points(encode_points(np.zeros((0, 2)))).shape == (0, 2)


def test_a_stop_for_a_look_not_begun_cancels_it_when_it_begins() -> None:
    current = _Current()
    current.stop(2)
    first = current.begin(1)
    assert not first.cancelled
    current.stop(None)  # the parent is gone: the running look stops
    assert first.cancelled
    current.end()
    assert current.begin(2).cancelled


def test_the_program_has_a_look_worker_sub_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "app", "_look-worker", "--no-log-file"],
        input="",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
