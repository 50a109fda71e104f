"""Checks on an indexed folder with planted problems: they find the planted images and leave the
ordinary ones alone; thresholds can be set; video frames and old projects are measured too."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from app.core.ingest.indexing import IndexOptions, index_job
from app.core.ingest.thumbnails import thumbnail_job
from app.core.jobs import run_job
from app.core.quality.checks import CHECKS
from app.core.quality.run import check_names, issues_job
from app.core.store.metadata import numeric_scores
from app.core.store.project import Project
from tests.core.quality.planted import CHECK_OF_KIND, make_planted, photo
from tests.factories import write_clip

STAT_CHECKS = [c for c in CHECK_OF_KIND.values() if not c.endswith("duplicates")]


@pytest.fixture(scope="module")
def planted_project(tmp_path_factory):
    root = tmp_path_factory.mktemp("planted")
    planted = make_planted(root / "data", ordinary=60, per_kind=3, seed=3)
    project = Project.for_dataset(root / "data")
    run_job(index_job(project, IndexOptions(workers=2)))
    report = run_job(issues_job(project))
    yield project, planted, report
    project.close()


def _flagged(report, name: str) -> set[str]:
    result = report.results[name]
    return {report.stats.names[row] for row in np.flatnonzero(result.flagged)}


@pytest.mark.parametrize("kind", [k for k in CHECK_OF_KIND if not CHECK_OF_KIND[k].endswith("s")])
def test_each_check_finds_its_planted_images_and_few_ordinary_ones(planted_project, kind):
    _, planted, report = planted_project
    flagged = _flagged(report, CHECK_OF_KIND[kind])
    assert set(planted.paths[kind]) <= flagged
    ordinary = [p for p in planted.paths["ordinary"] if p in flagged]
    assert len(ordinary) <= 0.03 * len(planted.paths["ordinary"])


def test_exact_and_recompressed_copies_are_grouped_with_their_originals(planted_project):
    _, planted, report = planted_project
    for name, kind in (("exact_duplicates", "exact_copy"), ("near_duplicates", "recompressed")):
        groups = report.to_json()["checks"][name]["groups"]
        pairs = {frozenset(group["paths"]) for group in groups}
        for copy in planted.paths[kind]:
            assert frozenset({copy, planted.originals[copy]}) in pairs
        assert len(groups) == len(planted.paths[kind])
    exact = report.to_json()["checks"]["exact_duplicates"]
    for group in exact["groups"]:
        assert group["keep"] in group["paths"]
    listed = {sample["path"] for sample in exact["samples"]}
    assert listed == {p for g in exact["groups"] for p in g["paths"] if p != g["keep"]}


def test_json_shape_and_stored_scores(planted_project):
    project, _, report = planted_project
    data = json.loads(json.dumps(report.to_json()))
    assert set(data["checks"]) == set(CHECKS)
    dark = data["checks"]["dark"]
    assert dark["count"] == len(dark["samples"]) == 3
    assert all(s["score"] < dark["threshold"] for s in dark["samples"])
    scores = [s["score"] for s in dark["samples"]]
    assert scores == sorted(scores)  # worst (darkest) first
    assert data["checks"]["label_errors"]["note"].startswith("needs embeddings")
    stored = numeric_scores(project, report.stats.ids)
    assert np.allclose(stored["quality.dark"], report.stats.values["brightness"], equal_nan=True)


def test_a_threshold_given_replaces_the_default(planted_project):
    project, planted, _ = planted_project
    report = run_job(issues_job(project, ["dark"], {"dark": 0.5}, store_scores=False))
    assert report.results["dark"].threshold == 0.5
    assert report.results["dark"].count > 20
    with pytest.raises(Exception, match="unknown check"):
        check_names("dark,shiny")
    assert check_names("blurry, dark") == ["dark", "blurry"]


def test_grayscale_is_no_issue_where_most_images_are_grayscale(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(12):
        photo(rng, (64, 48)).convert("L").save(tmp_path / f"{i}.png")
    photo(rng, (64, 48)).save(tmp_path / "colour.png")
    with Project.for_dataset(tmp_path) as project:
        run_job(index_job(project, IndexOptions(workers=2)))
        result = run_job(issues_job(project, ["grayscale"])).results["grayscale"]
    assert result.count == 0 and "grayscale" in result.note


def test_video_frames_are_measured_when_thumbnailed_and_checked(tmp_path):
    data = tmp_path / "data"
    write_clip(data / "clip.mp4", frames=6)
    rng = np.random.default_rng(1)
    for i in range(8):
        photo(rng, (64, 48)).save(data / f"{i}.jpg")
    with Project.for_dataset(data) as project:
        run_job(index_job(project, IndexOptions(workers=2)))
        before = run_job(issues_job(project, ["dark"], store_scores=False))
        assert int((~before.stats.measured).sum()) == 6  # frames: measured with thumbnails
        run_job(thumbnail_job(project, workers=2))
        report = run_job(issues_job(project, ["dark", "low_information"]))
    assert report.stats.measured.all()
    frames = report.stats.kind == "frame"
    assert report.results["dark"].flagged[frames][:2].all()  # frames 0, 1: grey levels 10, 14
    assert "clip-0-mp4.png" in report.stats.names
    flat = report.results["low_information"]
    assert flat.flagged[frames].all() and not flat.flagged[~frames].any()


def test_an_existing_project_gets_its_statistics_on_the_next_index(tmp_path: Path):
    rng = np.random.default_rng(2)
    for i in range(6):
        photo(rng, (64, 48)).save(tmp_path / f"{i}.jpg")
    with Project.for_dataset(tmp_path) as project:
        run_job(index_job(project, IndexOptions(workers=2)))
        kept = dict(project.db.execute("SELECT sample_id, phash FROM sample_stats"))
        with project.db:
            project.db.execute("DELETE FROM sample_stats")  # as a project indexed before stats
        run_job(index_job(project, IndexOptions(workers=2)))
        again = dict(project.db.execute("SELECT sample_id, phash FROM sample_stats"))
    assert again == kept and len(kept) == 6


def _embedded(tmp_path: Path, vectors: np.ndarray) -> Project:
    from app.core.store.embedding_sets import create_embedding_set, finish_embedding_set

    rng = np.random.default_rng(4)
    for i in range(len(vectors)):
        photo(rng, (64, 48)).save(tmp_path / f"{i:02d}.jpg")
    project = Project.for_dataset(tmp_path)
    run_job(index_job(project, IndexOptions(workers=2)))
    rows = project.samples()
    embedding_set = create_embedding_set(project, {"source": "test vectors"})
    ids = np.array([row.id for row in rows], dtype=np.int64)
    finish_embedding_set(project, embedding_set, ids, vectors.astype(np.float32))
    return project


def test_near_duplicates_by_embedding_only_where_unusually_close(tmp_path: Path):
    rng = np.random.default_rng(5)
    vectors = rng.standard_normal((24, 16))
    vectors[7] = vectors[3] + 0.01 * rng.standard_normal(16)  # an edit phash cannot see
    (tmp_path / "a").mkdir()
    with _embedded(tmp_path / "a", vectors) as project:
        result = run_job(issues_job(project, ["near_duplicates"])).results["near_duplicates"]
        pairs = [sorted(int(m) for m in members) for _, members in result.groups]
    assert pairs == [[3, 7]] and result.count == 1

    weak = np.ones((24, 16)) + 0.1 * rng.standard_normal((24, 16))  # everything is alike
    (tmp_path / "b").mkdir()
    with _embedded(tmp_path / "b", weak) as project:
        result = run_job(issues_job(project, ["near_duplicates"])).results["near_duplicates"]
    assert result.count <= 2


def test_outliers_are_far_from_their_nearest_embeddings(tmp_path: Path):
    rng = np.random.default_rng(6)
    centres = rng.standard_normal((3, 16)) * 4
    vectors = centres[np.arange(40) % 3] + 0.3 * rng.standard_normal((40, 16))
    vectors[[5, 17, 33]] = rng.standard_normal((3, 16)) * 4  # away from every cluster
    with _embedded(tmp_path, vectors) as project:
        result = run_job(issues_job(project, ["outliers"])).results["outliers"]
    assert sorted(np.flatnonzero(result.flagged).tolist()) == [5, 17, 33]
    assert result.worst_first()[0] in (5, 17, 33)


def test_files_still_pending_are_neither_checked_nor_measured(tmp_path: Path):
    from app.core.store.stats import read_stats, unmeasured_images

    rng = np.random.default_rng(7)
    for i in range(4):
        photo(rng, (64, 48)).save(tmp_path / f"{i}.jpg")
    with Project.for_dataset(tmp_path) as project:
        run_job(index_job(project, IndexOptions(workers=2)))
        with project.db:
            project.db.execute("UPDATE files SET pending = 1 WHERE relpath = '2.jpg'")
            project.db.execute("DELETE FROM sample_stats")
        assert "2.jpg" not in read_stats(project).names
        assert [path for _, path, _ in unmeasured_images(project)] == ["0.jpg", "1.jpg", "3.jpg"]
