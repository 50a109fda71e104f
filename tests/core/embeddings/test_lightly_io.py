"""lightly's embeddings.csv and .npy, written by Sieve and read by lightly, and back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from lightly.utils.io import load_embeddings as lightly_load
from lightly.utils.io import save_embeddings as lightly_save

from app.core.embeddings.lightly_io import (
    export_embeddings_job,
    filenames_path,
    import_embeddings_job,
)
from app.core.errors import SieveError
from app.core.jobs import CancelToken, run_job
from app.core.store.embedding_sets import active_embedding_set


def export(project, embedding_set, path: Path, fmt: str = "lightly-csv", **kw) -> int:
    return run_job(export_embeddings_job(project, embedding_set, path, fmt, CancelToken(), **kw))


def names_of(project, ids) -> list[str]:
    rows = project.samples_by_id(ids.tolist())
    return [rows[int(i)].name for i in ids]


def test_lightly_reads_sieves_csv_with_the_same_values(embedded_project, tmp_path) -> None:
    project, embedding_set = embedded_project
    path = tmp_path / "embeddings.csv"
    assert export(project, embedding_set, path) == 12
    values, labels, filenames = lightly_load(str(path))
    np.testing.assert_array_equal(values.astype(np.float32), embedding_set.vectors())
    assert filenames == names_of(project, embedding_set.ids())
    assert labels == [0] * 6 + [1] * 6
    assert path.read_text().splitlines()[0].startswith("filenames,embedding_0,embedding_1,")


def test_sieve_imports_lightlys_csv_and_reports_unmatched_names(embedded_project, tmp_path):
    project, embedding_set = embedded_project
    ids = embedding_set.ids()
    names = names_of(project, ids)[:10] + ["elsewhere/ghost.png"]
    values = np.random.default_rng(3).standard_normal((11, 5))
    path = tmp_path / "theirs.csv"
    lightly_save(str(path), values, [0] * 11, names)
    report = run_job(import_embeddings_job(project, path, CancelToken()))
    assert report.matched == 10 and report.unmatched == ["elsewhere/ghost.png"]
    imported = active_embedding_set(project)
    assert imported.id == report.embedding_set.id != embedding_set.id
    np.testing.assert_array_equal(imported.ids(), ids[:10])
    expected = values[:10] / np.linalg.norm(values[:10], axis=1, keepdims=True)
    np.testing.assert_allclose(imported.vectors(), expected, atol=1e-6)


def test_round_trip_through_csv_keeps_every_value(embedded_project, tmp_path) -> None:
    project, embedding_set = embedded_project
    path = tmp_path / "e.csv"
    export(project, embedding_set, path)
    report = run_job(import_embeddings_job(project, path, CancelToken()))
    np.testing.assert_array_equal(report.embedding_set.vectors(), embedding_set.vectors())


def test_npy_round_trip_with_its_filename_list(embedded_project, tmp_path) -> None:
    project, embedding_set = embedded_project
    path = tmp_path / "e.npy"
    export(project, embedding_set, path, "npy")
    assert filenames_path(path).read_text().splitlines() == names_of(project, embedding_set.ids())
    report = run_job(import_embeddings_job(project, path, CancelToken()))
    np.testing.assert_array_equal(report.embedding_set.vectors(), embedding_set.vectors())


def test_export_refuses_to_overwrite_unless_asked(embedded_project, tmp_path) -> None:
    project, embedding_set = embedded_project
    path = tmp_path / "e.csv"
    path.write_text("keep me")
    with pytest.raises(SieveError, match="exists"):
        export(project, embedding_set, path)
    assert path.read_text() == "keep me"
    export(project, embedding_set, path, overwrite=True)
    assert path.read_text().startswith("filenames,")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("name,embedding_0,labels\na.png,1,0\n", "not a lightly embeddings.csv"),
        ("filenames,embedding_0,embedding_2,labels\na.png,1,2,0\n", "embedding_0 ... embedding_N"),
        ("filenames,embedding_0,labels\ncats/000.png,x,0\n", "not a number"),
        ("filenames,embedding_0,labels\ncats/000.png,1\n", "line 2"),
        ("filenames,embedding_0,labels\ncats/000.png,nan,0\n", "NaN"),
        ("filenames,embedding_0,labels\nnowhere.png,1,0\n", "none of the 1 names"),
    ],
)
def test_bad_csv_files_are_refused_clearly(embedded_project, tmp_path, text, problem) -> None:
    project, _ = embedded_project
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(SieveError, match=problem):
        run_job(import_embeddings_job(project, path, CancelToken()))
