"""Per-sample metadata values and stepping between the sampled frames of a video."""

from __future__ import annotations

import pytest

from app.core.ingest.indexing import IndexOptions, index_job
from app.core.jobs import run_job
from app.core.store.metadata import adjacent_frame, sample_metadata
from app.core.store.project import Project
from tests.factories import make_dataset, write_clip


@pytest.fixture()
def project(tmp_path):
    root = make_dataset(tmp_path / "data", {"cats": 2})
    write_clip(root / "clips" / "a.mp4", frames=9)
    write_clip(root / "clips" / "b.mp4", frames=4)
    with Project.for_dataset(root) as project:
        run_job(index_job(project, IndexOptions(every_nth=3, workers=2)))
        yield project


def frames_of(project: Project, relpath: str) -> list[int]:
    return [row.id for row in project.samples() if row.relpath == relpath]


def test_sample_metadata_returns_every_key_of_that_sample(project) -> None:
    first, second = (row.id for row in project.samples(label="cats"))
    with project.db:
        project.db.executemany(
            "INSERT INTO metadata VALUES (?, ?, ?)",
            [(first, "uniqueness", 0.25), (first, "blur", 3), (first, "source", "camera 2")],
        )
        project.db.execute("INSERT INTO metadata VALUES (?, 'blur', 9)", (second,))
    assert sample_metadata(project, first) == {"blur": 3, "source": "camera 2", "uniqueness": 0.25}
    assert list(sample_metadata(project, first)) == ["blur", "source", "uniqueness"]
    assert sample_metadata(project, second) == {"blur": 9}
    assert sample_metadata(project, 10_000) == {}


def test_adjacent_frame_steps_through_the_sampled_frames_of_one_video(project) -> None:
    a = frames_of(project, "clips/a.mp4")
    assert [project.samples_by_id([i])[i].frame for i in a] == [0, 3, 6]
    assert adjacent_frame(project, a[0], 1) == a[1]
    assert adjacent_frame(project, a[1], 1) == a[2]
    assert adjacent_frame(project, a[2], 1) is None  # last sampled frame: not into b.mp4
    assert adjacent_frame(project, a[2], -1) == a[1]
    assert adjacent_frame(project, a[0], -1) is None
    image = project.samples(label="cats")[0].id
    assert adjacent_frame(project, image, 1) is None
