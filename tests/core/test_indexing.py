"""Indexing real folders: images and videos together, broken files, incremental re-index."""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image

from app.core.errors import JobCancelled
from app.core.indexing import IndexOptions, index_job
from app.core.jobs import CancelToken, run_job
from app.core.store.project import Project
from app.core.thumbnails import missing_thumbnails, thumbnail_job
from tests.factories import gradient, make_dataset, truncate, write_clip, write_image


def index(project: Project, **options) -> object:
    return run_job(index_job(project, IndexOptions(**options)))


@pytest.fixture()
def mixed(tmp_path):
    """Two labelled image folders, a video folder with one broken clip, and bad files."""
    root = make_dataset(tmp_path / "data", {"cats": 3, "dogs": 2})
    write_clip(root / "clips" / "walk.mp4", frames=12)
    write_clip(root / "clips" / "run.MKV", frames=5)
    (root / "clips" / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 50)
    (root / "dogs" / "empty.png").write_bytes(b"")
    truncate(write_image(root / "dogs" / "cut.jpg", gradient(300, 200)), keep=0.3)
    (root / "dogs" / "text.jpg").write_text("hello")
    write_image(root / "top.png")
    return root


def test_index_counts_labels_and_broken(mixed):
    with Project.for_dataset(mixed) as project:
        result = index(project)
        summary = project.summary()
    assert result.added == 12 and result.removed == result.changed == 0
    assert summary["images"] == 6 and summary["frames"] == 17 and summary["videos"] == 2
    assert summary["samples"] == 23
    assert summary["labels"] == {"cats": 3, "clips": 17, "dogs": 2}
    broken = {entry["path"]: entry["reason"] for entry in summary["broken"]}
    assert set(broken) == {"clips/broken.mp4", "dogs/cut.jpg", "dogs/empty.png", "dogs/text.jpg"}
    assert "empty" in broken["dogs/empty.png"] and "not an image" in broken["dogs/text.jpg"]
    assert "truncated" in broken["dogs/cut.jpg"] or "corrupt" in broken["dogs/cut.jpg"]


def test_video_frames_named_like_lightly_and_sampled(mixed):
    with Project.for_dataset(mixed) as project:
        index(project)
        names = [row.name for row in project.samples(label="clips")]
        assert names[:2] == ["clips/run-0-MKV.png", "clips/run-1-MKV.png"]
        assert "clips/walk-00-mp4.png" in names and "clips/walk-11-mp4.png" in names
        index(project, every_nth=4)
        frames = [row.frame for row in project.samples(label="clips") if "walk" in row.relpath]
        assert frames == [0, 4, 8]
        index(project, video_fps=5.0)
        frames = [row.frame for row in project.samples(label="clips") if "walk" in row.relpath]
        assert frames == [0, 2, 4, 6, 8, 10]


def test_thumbnails_for_images_at_index_and_frames_after(mixed):
    with Project.for_dataset(mixed) as project:
        index(project)
        missing = missing_thumbnails(project)
        assert {row.kind for row in missing} == {"frame"} and len(missing) == 17
        assert run_job(thumbnail_job(project)) == 17
        assert missing_thumbnails(project) == []
        frame = next(row for row in project.samples() if row.name == "clips/walk-05-mp4.png")
        thumb = Image.open(io.BytesIO(project.thumbs.get(frame.id))).convert("L")
        assert abs(thumb.getpixel((10, 10)) - (10 + 4 * 5)) <= 4


def test_incremental_reindex_keeps_tags_of_unchanged(mixed):
    with Project.for_dataset(mixed) as project:
        index(project)
        ids = {row.relpath: row.id for row in project.samples()}
        tag = project.create_tag("keep")
        project.add_tag(tag, [ids["cats/000.png"], ids["cats/001.png"], ids["cats/002.png"]])

        (mixed / "cats" / "001.png").unlink()
        write_image(mixed / "cats" / "new.png")
        write_image(mixed / "cats" / "002.png", gradient(80, 60, seed=9))
        os.utime(mixed / "cats" / "002.png", ns=(1, 1))
        result = index(project)

        assert (result.added, result.removed, result.changed) == (1, 1, 1)
        assert result.unchanged == 10
        after = {row.relpath: row for row in project.samples()}
        assert "cats/001.png" not in after and "cats/new.png" in after
        assert after["cats/000.png"].id == ids["cats/000.png"]
        assert after["cats/002.png"].id == ids["cats/002.png"]
        assert (after["cats/002.png"].width, after["cats/002.png"].height) == (80, 60)
        assert sorted(project.tagged(tag)) == sorted([ids["cats/000.png"], ids["cats/002.png"]])
        assert index(project).unchanged == 12


def test_a_fixed_file_stops_being_broken(mixed):
    with Project.for_dataset(mixed) as project:
        index(project)
        write_image(mixed / "dogs" / "text.jpg", gradient(), format="JPEG")
        index(project)
        assert "dogs/text.jpg" not in {entry["path"] for entry in project.broken()}


def test_cancel_then_resume_completes(tmp_path):
    root = make_dataset(tmp_path / "data", {"a": 300})
    cancel = CancelToken()
    with Project.for_dataset(root) as project:
        job = index_job(project, IndexOptions(workers=2), cancel=cancel)
        with pytest.raises(JobCancelled):
            for progress in job:
                if progress.stage == "index" and progress.done > 0:
                    cancel.cancel()
        partial = project.sample_count()
        assert 0 < partial < 300
        result = index(project)
        assert result.unchanged == partial and project.sample_count() == 300


def test_index_never_writes_into_dataset_files(mixed):
    before = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in mixed.rglob("*") if p.is_file()}
    with Project.for_dataset(mixed, mixed.parent / "project") as project:
        index(project)
        run_job(thumbnail_job(project))
    after = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in mixed.rglob("*") if p.is_file()}
    assert after == before
