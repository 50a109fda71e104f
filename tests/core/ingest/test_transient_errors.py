"""A failure of the moment (EIO, EMFILE, MemoryError) never marks a file broken for ever."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from app.core.data import images
from app.core.ingest import indexing
from app.core.ingest.indexing import IndexOptions, index_job
from app.core.jobs import CancelToken, run_job
from app.core.store.project import Project
from tests.factories import make_dataset, write_clip


def index(project: Project) -> None:
    run_job(index_job(project, IndexOptions(workers=2), CancelToken()))


def status_of(project: Project, name: str) -> tuple[str, str | None]:
    (row,) = [row for row in project.samples() if row.name == name]
    return row.status, row.reason


@pytest.fixture()
def project(tmp_path: Path):
    root = make_dataset(tmp_path / "data", {"cats": 3}, size=(16, 16))
    (root / "cats" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with Project.for_dataset(root) as project:
        yield project


@pytest.mark.parametrize("failure", [OSError(errno.EIO, "I/O error"), MemoryError()])
def test_a_transient_failure_is_tried_again_at_the_next_index(project, monkeypatch, failure):
    real_read = images._read_file  # where an image's bytes are read for its probe

    def flaky_read(path):
        if str(path).endswith("001.png"):
            raise failure
        return real_read(path)

    monkeypatch.setattr(images, "_read_file", flaky_read)
    index(project)
    status, reason = status_of(project, "cats/001.png")
    assert status == "broken" and "temporarily unreadable" in reason
    monkeypatch.setattr(images, "_read_file", real_read)
    index(project)
    assert status_of(project, "cats/001.png") == ("ok", None)


def test_a_really_broken_file_is_not_decoded_again(project, monkeypatch):
    index(project)
    assert status_of(project, "cats/bad.png")[0] == "broken"
    probed: list[str] = []
    real_probe = indexing.probe_image
    monkeypatch.setattr(
        indexing, "probe_image", lambda path, *a: probed.append(str(path)) or real_probe(path, *a)
    )
    index(project)
    assert probed == []


def test_a_video_that_could_not_be_opened_for_a_moment_is_tried_again(tmp_path, monkeypatch):
    import av

    root = tmp_path / "clips"
    write_clip(root / "walk.mp4", frames=3)
    real_open = av.open

    def no_handles(*args, **kwargs):
        raise OSError(errno.EMFILE, "Too many open files")

    with Project.for_dataset(root) as project:
        monkeypatch.setattr(av, "open", no_handles)
        index(project)
        assert "temporarily unreadable" in project.broken()[0]["reason"]
        monkeypatch.setattr(av, "open", real_open)
        index(project)
        assert project.broken() == [] and project.sample_count(status="ok") == 3
