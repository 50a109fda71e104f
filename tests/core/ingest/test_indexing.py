"""Indexing real folders: images and videos together, broken files, incremental re-index."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.core.errors import JobCancelled
from app.core.ingest.indexing import IndexOptions, forget_missing, index_job, mostly_missing
from app.core.ingest.thumbnails import missing_thumbnails, thumbnail_job
from app.core.jobs import CancelToken, run_job
from app.core.quality.stats import thumbnail_stats
from app.core.store.project import Project
from app.core.store.stats import read_stats
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
    assert result.added == 12 and result.changed == result.returned == result.missing == 0
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

        assert (result.added, result.missing, result.changed) == (1, 1, 1)
        assert result.unchanged == 10
        after = {row.relpath: row for row in project.samples()}
        assert after["cats/001.png"].status == "missing" and "cats/new.png" in after
        assert after["cats/000.png"].id == ids["cats/000.png"]
        assert after["cats/002.png"].id == ids["cats/002.png"]
        assert (after["cats/002.png"].width, after["cats/002.png"].height) == (80, 60)
        assert sorted(project.tagged(tag)) == sorted(ids[f"cats/00{i}.png"] for i in range(3))
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
        partial = project.sample_count("ok")
        assert 0 < partial < 300 and project.sample_count() == 300  # every row listed at once
        assert project.pending_count() == project.sample_count("pending") == 300 - partial
        result = index(project)
        assert result.unchanged == partial and result.added == 300 - partial
        assert project.sample_count("ok") == 300 and project.pending_count() == 0


def test_index_never_writes_into_dataset_files(mixed):
    before = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in mixed.rglob("*") if p.is_file()}
    with Project.for_dataset(mixed, mixed.parent / "project") as project:
        index(project)
        run_job(thumbnail_job(project))
    after = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in mixed.rglob("*") if p.is_file()}
    assert after == before


def test_vanished_files_are_kept_as_missing_and_come_back_as_they_were(mixed, tmp_path):
    away = tmp_path / "away"
    with Project.for_dataset(mixed, tmp_path / "project") as project:
        index(project)
        before = {row.name: row.id for row in project.samples()}
        walk = [i for name, i in before.items() if name.startswith("clips/walk")]
        project.add_tag(project.create_tag("keep"), [before["cats/000.png"], *walk[:3]])
        mixed.rename(away)
        mixed.mkdir()
        result = index(project)
        assert result.found == 0 and result.missing == 12 and result.mostly_missing
        assert "is the drive mounted?" in result.missing_warning(mixed)
        assert project.sample_count() == len(before) and project.sample_count("ok") == 0
        assert project.sample_count("missing") == len(before)
        assert project.label_counts() == {} and project.broken() == []
        assert project.samples(status="ok") == [] and project.samples_without_thumbnails() == []
        assert project.summary()["missing"] == 12 and project.summary()["samples"] == 0
        assert mostly_missing(project)

        mixed.rmdir()
        away.rename(mixed)
        result = index(project)
        assert result.returned == 12 and result.missing == 0 and not result.mostly_missing
        assert {row.name: row.id for row in project.samples()} == before
        assert len(project.tagged(project.tag_id("keep"))) == 4
        assert project.sample_count("ok") == 23 and not mostly_missing(project)


def test_a_few_missing_files_are_no_alarm_and_forgetting_them_is_explicit(mixed):
    with Project.for_dataset(mixed) as project:
        index(project)
        cat = next(row.id for row in project.samples() if row.relpath == "cats/000.png")
        project.add_tag(project.create_tag("keep"), [cat])
        (mixed / "cats" / "000.png").unlink()
        result = index(project)
        assert result.missing == 1 and result.missing_warning(mixed) is None
        assert index(project).missing == 1  # still kept on the next run
        assert project.tagged(project.tag_id("keep")) == [cat]
        assert forget_missing(project) == 1
        assert project.tagged(project.tag_id("keep")) == [] and project.missing_count() == 0
        assert cat not in {row.id for row in project.samples()}


def test_unreadable_folders_are_recorded_each_run(mixed, monkeypatch):
    real_scandir = os.scandir

    def scandir(path):
        if os.fspath(path) == os.fspath(mixed / "dogs"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    with Project.for_dataset(mixed) as project:
        index(project)
        monkeypatch.setattr(os, "scandir", scandir)
        result = index(project)
        expected = [{"path": "dogs", "reason": "permission denied"}]
        assert result.unreadable == expected and project.summary()["unreadable"] == expected
        monkeypatch.undo()
        assert index(project).unreadable == [] and project.unreadable() == []


def test_a_name_that_is_not_utf8_indexes_once_with_its_thumbnail(tmp_path):
    root = make_dataset(tmp_path / "data", {"a": 2})
    raw = os.fsencode(root) + b"/caf\xe9/x\xff.png"
    write_image(Path(os.fsdecode(raw)))
    with Project.for_dataset(root) as project:
        assert index(project).added == 3
        row = next(row for row in project.samples() if row.label != "a")
        assert os.fsencode(row.relpath) == b"caf\xe9/x\xff.png"
        assert os.fsencode(row.label) == b"caf\xe9"
        assert project.samples(label=row.label) == [row]
        assert project.thumbs.get(row.id) is not None
        assert index(project).unchanged == 3
        project.thumbs.delete([row.id])
        assert run_job(thumbnail_job(project)) == 1


def test_a_corrupt_thumbnail_cache_does_not_stop_the_index(mixed):
    with Project.for_dataset(mixed) as project:
        index(project)
        project.thumbs.close()
        project._thumbs = None
        (project.path / "thumbs.sqlite").write_bytes(b"garbage" * 1000)
        write_image(mixed / "cats" / "new.png")
        assert index(project).added == 1
        assert project.thumbs.set_aside is not None and project.thumbs.set_aside.exists()
        assert project.thumbs.set_aside.parent == project.path
        assert run_job(thumbnail_job(project)) > 0
        assert missing_thumbnails(project) == []


def test_rows_forgotten_behind_the_index_are_written_again(tmp_path):
    """Another process forgets a listed file between the listing and its probe: the probe
    writes its rows anew (one by one), beside the rows it writes by id in one go."""
    root = make_dataset(tmp_path / "data", {"cats": 3})
    with Project.for_dataset(root) as project:
        job = index_job(project, IndexOptions(workers=1))
        assert next(progress for progress in job if progress.stage == "index").done == 0
        with project.db:
            project.db.execute("DELETE FROM files WHERE relpath = 'cats/001.png'")
        result = run_job(job)
        rows = {row.relpath: row for row in project.samples()}
        assert sorted(rows) == ["cats/000.png", "cats/001.png", "cats/002.png"]
        assert {row.status for row in rows.values()} == {"ok"} and result.samples == 3
        assert all(project.thumbs.get(row.id) for row in rows.values())
        assert project.db.execute("SELECT COUNT(*) FROM files WHERE pending").fetchone()[0] == 0


def test_the_thumbnail_job_makes_a_deleted_image_thumbnail_again_with_its_statistics(mixed):
    with Project.for_dataset(mixed) as project:
        index(project)
        image = next(row for row in project.samples() if row.relpath == "cats/001.png")
        made_by_index = project.thumbs.get(image.id)
        project.thumbs.delete([image.id])
        with project.db:
            project.db.execute("DELETE FROM sample_stats WHERE sample_id = ?", (image.id,))
        assert image.id in {row.id for row in missing_thumbnails(project)}
        run_job(thumbnail_job(project))
        assert project.thumbs.get(image.id) == made_by_index
        digest = hashlib.sha256((mixed / "cats" / "001.png").read_bytes()).hexdigest()
        expected = thumbnail_stats(made_by_index, digest)
        stats = read_stats(project)
        row = int(np.flatnonzero(stats.ids == image.id)[0])
        assert stats.content_hash[row] == digest == expected.content_hash
        assert stats.measured[row]
        assert stats.values["brightness"][row] == pytest.approx(expected.brightness)
