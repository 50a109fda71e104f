"""The statistics pass after the index: thumbnails first, then every image measured from its
stored thumbnail, whichever way it got there (a fresh index, a changed file, an old project, a
deleted thumbnail cache)."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from app.core.data.images import probe_image
from app.core.errors import JobCancelled
from app.core.ingest.indexing import IndexOptions, index_job
from app.core.jobs import CancelToken, Progress, run_job
from app.core.quality.backfill import measure_missing_job
from app.core.quality.stats import thumbnail_stats
from app.core.store.project import Project
from app.core.store.stats import read_stats, unmeasured_image_count, unmeasured_images
from tests.core.quality.planted import photo

COLUMNS = "brightness, contrast, colourfulness, sharpness, entropy, content_hash, phash"


def _photos(folder: Path, count: int, seed: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        photo(rng, (80, 60)).save(folder / f"{i}.jpg", quality=90)


def _stats(project: Project) -> dict[int, tuple]:
    query = f"SELECT sample_id, {COLUMNS} FROM sample_stats ORDER BY sample_id"
    return {row[0]: row[1:] for row in project.db.execute(query)}


def _expected(project: Project) -> dict[int, tuple]:
    """Each usable image's statistics as measured from its stored thumbnail and file bytes."""
    expected = {}
    for row in project.samples():
        digest = hashlib.sha256((project.dataset_root / row.relpath).read_bytes()).hexdigest()
        stats = thumbnail_stats(project.thumbs.get(row.id), digest)
        expected[row.id] = tuple(getattr(stats, name) for name in COLUMNS.split(", "))
    return expected


def test_the_index_thumbnails_every_file_before_it_measures_them(tmp_path: Path):
    _photos(tmp_path / "data", 12)
    at_measure: list[tuple[int, int, int]] = []

    def on_progress(progress: Progress) -> None:
        if progress.stage == "measure" and not at_measure:
            db = project.db
            hashed = db.execute("SELECT COUNT(content_hash) FROM sample_stats").fetchone()[0]
            measured = db.execute("SELECT COUNT(brightness) FROM sample_stats").fetchone()[0]
            at_measure.append((project.thumbs.count(), hashed, measured))

    with Project.for_dataset(tmp_path / "data") as project:
        run_job(index_job(project, IndexOptions(workers=2)), on_progress)
        assert at_measure == [(12, 12, 0)]
        assert _stats(project) == _expected(project)
        assert read_stats(project).measured.all()


def test_the_index_probe_hashes_without_measuring(tmp_path: Path):
    _photos(tmp_path, 1)
    path = tmp_path / "0.jpg"
    probe = probe_image(path, measure=False)
    assert probe.ok and probe.thumbnail and probe.stats is None
    assert probe.content_hash == hashlib.sha256(path.read_bytes()).hexdigest()
    assert probe_image(path).stats.content_hash == probe.content_hash


def test_larger_files_are_hashed_by_the_statistics_pass(tmp_path: Path, monkeypatch):
    from app.core.data import images

    _photos(tmp_path / "data", 6)
    big = tmp_path / "data" / "3.jpg"
    limit = big.stat().st_size - 1  # 3.jpg is over it
    monkeypatch.setattr(images, "HASH_WHILE_PROBING_BYTES", limit)
    assert probe_image(big, measure=False).content_hash is None
    assert probe_image(big).content_hash == hashlib.sha256(big.read_bytes()).hexdigest()
    hashed_at_measure: list[int] = []

    def on_progress(progress: Progress) -> None:
        if progress.stage == "measure" and not hashed_at_measure:
            query = "SELECT COUNT(content_hash), COUNT(*) FROM sample_stats"
            hashed_at_measure.extend(project.db.execute(query).fetchone())

    with Project.for_dataset(tmp_path / "data") as project:
        run_job(index_job(project, IndexOptions(workers=2)), on_progress)
        small = sum((tmp_path / "data" / f"{i}.jpg").stat().st_size <= limit for i in range(6))
        assert hashed_at_measure == [small, 6] and small < 6
        assert _stats(project) == _expected(project)


def test_hash_only_rows_are_unmeasured_until_the_pass(tmp_path: Path):
    _photos(tmp_path / "data", 3)
    with Project.for_dataset(tmp_path / "data") as project:
        run_job(index_job(project, IndexOptions(workers=2)))
        hashes = {i: row[5] for i, row in _stats(project).items()}
        with project.db:
            project.db.execute("UPDATE sample_stats SET brightness = NULL WHERE sample_id = 2")
        assert read_stats(project).measured.tolist() == [True, False, True]
        assert unmeasured_images(project) == [(2, "1.jpg", hashes[2])]
        assert run_job(measure_missing_job(project)) == 1
        assert unmeasured_image_count(project) == 0


def test_a_changed_file_is_hashed_and_measured_again(tmp_path: Path):
    data = tmp_path / "data"
    _photos(data, 4)
    with Project.for_dataset(data) as project:
        run_job(index_job(project, IndexOptions(workers=2)))
        before = _stats(project)
        photo(np.random.default_rng(99), (80, 60)).save(data / "2.jpg", quality=70)
        os.utime(data / "2.jpg", ns=(1, 1))
        run_job(index_job(project, IndexOptions(workers=2)))
        after = _stats(project)
        assert after == _expected(project)
        changed = [i for i in after if after[i] != before[i]]
        assert changed == [3] and after[3][5] != before[3][5]  # 2.jpg: a new content hash


def test_an_image_whose_thumbnail_is_gone_is_decoded_again(tmp_path: Path):
    _photos(tmp_path / "data", 4)
    with Project.for_dataset(tmp_path / "data") as project:
        run_job(index_job(project, IndexOptions(workers=2)))
        before, thumbnail = _stats(project), project.thumbs.get(2)
        project.thumbs.delete([2])
        project.thumbs.put_many([(3, b"not a jpeg")])  # an unreadable cache entry
        with project.db:
            project.db.execute("UPDATE sample_stats SET brightness = NULL")
        assert run_job(measure_missing_job(project)) == 4
        assert project.thumbs.get(2) == thumbnail  # stored again
        assert _stats(project) == before


def test_a_project_from_before_statistics_gets_its_hashes_from_the_files(tmp_path: Path):
    _photos(tmp_path / "data", 5)
    with Project.for_dataset(tmp_path / "data") as project:
        run_job(index_job(project, IndexOptions(workers=2)))
        before = _stats(project)
        with project.db:
            project.db.execute("DELETE FROM sample_stats")
        assert run_job(measure_missing_job(project)) == 5
        assert _stats(project) == before


def test_a_vanished_file_is_left_unmeasured_and_the_rest_measured(tmp_path: Path):
    data = tmp_path / "data"
    _photos(data, 5)
    with Project.for_dataset(data) as project:
        run_job(index_job(project, IndexOptions(workers=2)))
        with project.db:
            project.db.execute("DELETE FROM sample_stats")
        project.thumbs.delete([1])
        (data / "0.jpg").unlink()
        assert run_job(measure_missing_job(project)) == 5
        assert sorted(_stats(project)) == [2, 3, 4, 5]
        assert [row[1] for row in unmeasured_images(project)] == ["0.jpg"]


def _pools(monkeypatch, **extra) -> list[type]:
    """The kinds of pool the statistics pass makes, in order; ``extra`` given to its process
    pools."""
    from app.core.quality import backfill

    made: list[type] = []
    for kind in (ProcessPoolExecutor, ThreadPoolExecutor):

        class Kept(kind):
            def __init__(self, *args, _kind=kind, **options) -> None:
                options.update(extra if _kind is ProcessPoolExecutor else {})
                super().__init__(*args, **options)
                made.append(_kind)

        monkeypatch.setattr(backfill, kind.__name__, Kept)
    return made


def test_many_images_are_measured_by_worker_processes_alike(tmp_path: Path, monkeypatch):
    from app.core.quality import backfill

    _photos(tmp_path / "data", 10)
    with Project.for_dataset(tmp_path / "data") as project:
        run_job(index_job(project, IndexOptions(workers=2)))
        before, thumbnail = _stats(project), project.thumbs.get(2)
        project.thumbs.delete([2])  # decoded again in a worker process, its thumbnail stored
        with project.db:
            project.db.execute("UPDATE sample_stats SET brightness = NULL")
        monkeypatch.setattr(backfill, "PROCESSES_FROM", 10)
        monkeypatch.setattr(backfill, "BATCH", 3)  # four batches, several on their way at once
        pools = _pools(monkeypatch)
        assert run_job(measure_missing_job(project, workers=2)) == 10
        assert pools == [ProcessPoolExecutor]
        assert _stats(project) == before
        assert project.thumbs.get(2) == thumbnail
        monkeypatch.setattr(backfill, "PROCESSES_FROM", 11)  # fewer images: threads
        with project.db:
            project.db.execute("UPDATE sample_stats SET brightness = NULL")
        assert run_job(measure_missing_job(project, workers=2)) == 10
        assert pools == [ProcessPoolExecutor, ThreadPoolExecutor]
        assert _stats(project) == before


def test_a_cancelled_pass_keeps_what_it_stored_and_leaves_no_worker_behind(
    tmp_path: Path, monkeypatch
):
    from app.core.quality import backfill

    _photos(tmp_path / "data", 12)
    with Project.for_dataset(tmp_path / "data") as project:
        run_job(index_job(project, IndexOptions(workers=2)))
        before = _stats(project)
        with project.db:
            project.db.execute("UPDATE sample_stats SET brightness = NULL")
        monkeypatch.setattr(backfill, "PROCESSES_FROM", 1)
        monkeypatch.setattr(backfill, "BATCH", 2)
        cancel = CancelToken()
        stored: list[int] = []

        def on_progress(progress: Progress) -> None:
            if progress.done:
                stored.append(progress.done)
                cancel.cancel()

        with pytest.raises(JobCancelled):
            run_job(measure_missing_job(project, workers=2, cancel=cancel), on_progress)
        assert stored == [2]  # the first batch, committed; then the pass stopped
        assert unmeasured_image_count(project) == 12 - 2
        assert not multiprocessing.active_children()  # its worker processes have ended
        assert run_job(measure_missing_job(project, workers=2)) == 10  # the next run carries on
        assert _stats(project) == before


def test_worker_processes_that_die_leave_the_rest_to_threads(tmp_path: Path, monkeypatch):
    from app.core.quality import backfill

    _photos(tmp_path / "data", 6)
    with Project.for_dataset(tmp_path / "data") as project:
        run_job(index_job(project, IndexOptions(workers=2)))
        before = _stats(project)
        with project.db:
            project.db.execute("UPDATE sample_stats SET brightness = NULL")
        monkeypatch.setattr(backfill, "PROCESSES_FROM", 1)
        pools = _pools(monkeypatch, initializer=os._exit, initargs=(3,))  # each exits at start
        assert run_job(measure_missing_job(project, workers=2)) == 6
        assert pools == [ProcessPoolExecutor, ThreadPoolExecutor]
        assert _stats(project) == before


def test_processes_asked_for_that_die_are_a_failure_not_left_to_threads(tmp_path, monkeypatch):
    from concurrent.futures.process import BrokenProcessPool

    _photos(tmp_path / "data", 3)
    with Project.for_dataset(tmp_path / "data") as project:
        run_job(index_job(project, IndexOptions(workers=2)))
        with project.db:
            project.db.execute("UPDATE sample_stats SET brightness = NULL")
        pools = _pools(monkeypatch, initializer=os._exit, initargs=(3,))
        with pytest.raises(BrokenProcessPool):
            run_job(measure_missing_job(project, workers=2, processes=True))
        assert pools == [ProcessPoolExecutor] and unmeasured_image_count(project) == 3
