"""One rule matches given names to samples: in imports of embeddings and predictions, in
``--samples FILE`` and in ``sieve neighbors --sample``."""

from __future__ import annotations

import numpy as np
import pytest

from app.cli import main
from app.core.active.predictions import import_predictions_job
from app.core.embeddings.lightly_io import import_embeddings_job
from app.core.ingest.indexing import IndexOptions, index_job
from app.core.jobs import CancelToken, run_job
from app.core.store.names import duplicated, match_names, normalise_name
from app.core.store.project import Project
from tests.factories import make_dataset


@pytest.mark.parametrize(
    ("given", "name"),
    [
        ("cats/000.png", "cats/000.png"),
        ("./cats/000.png", "cats/000.png"),
        ("././cats/000.png", "cats/000.png"),
        (".//cats/000.png", "cats/000.png"),
        ("cats\\000.png", "cats/000.png"),
        ("../cats/000.png", "../cats/000.png"),
        (".hidden/000.png", ".hidden/000.png"),
        ("...png", "...png"),
    ],
)
def test_names_are_normalised_without_guessing(given, name):
    assert normalise_name(given) == name


@pytest.fixture()
def project(tmp_path):
    """Samples 'cats/000.png', 'cats/001.png' and 'hidden/000.png' (a folder named hidden)."""
    root = make_dataset(tmp_path / "data", {"cats": 2, "hidden": 1}, size=(16, 16))
    with Project.for_dataset(root) as project:
        run_job(index_job(project, IndexOptions(), CancelToken()))
        yield project


def test_a_name_matches_by_the_one_rule(project):
    root = project.dataset_root
    given = ["./cats/000.png", str(root / "cats" / "001.png"), ".hidden/000.png", "hidden/000.png"]
    match = match_names(project, given)
    by_name = {row.name: row.id for row in project.samples()}
    assert match.ids == [
        by_name["cats/000.png"],
        by_name["cats/001.png"],
        None,
        by_name["hidden/000.png"],
    ]
    assert match.unmatched == [".hidden/000.png"]
    assert duplicated(["cats/000.png", "./cats/000.png", "x"]) == ["cats/000.png"]


def test_the_neighbours_flag_never_strips_dots_off_a_name(project, capsys):
    ids = np.array([row.id for row in project.samples()], dtype=np.int64)
    run_job(_random_set(project, ids))
    assert main(["neighbors", str(project.path), "--sample", "./cats/000.png", "-k", "1"]) == 0
    capsys.readouterr()
    assert main(["neighbors", str(project.path), "--sample", ".hidden/000.png"]) == 1
    assert "no sample named '.hidden/000.png'" in capsys.readouterr().err


def test_imports_match_names_written_with_a_leading_dot_slash(project, tmp_path):
    names = ["./cats/000.png", "./cats/001.png", "./hidden/000.png"]
    csv = tmp_path / "embeddings.csv"
    rows = [f"{name},{i + 1}.0,{2 - i}.0,0" for i, name in enumerate(names)]
    csv.write_text("filenames,embedding_0,embedding_1,labels\n" + "\n".join(rows) + "\n")
    report = run_job(import_embeddings_job(project, csv, CancelToken()))
    assert report.matched == 3 and report.unmatched == []

    predictions = tmp_path / "predictions.csv"
    lines = [f"{name},0.9,0.1" for name in names]
    predictions.write_text("filename,cat,dog\n" + "\n".join(lines) + "\n")
    imported = run_job(import_predictions_job(project, predictions, CancelToken()))
    assert imported.matched == 3


def test_a_samples_file_matches_by_the_one_rule(project, tmp_path, capsys):
    listing = tmp_path / "names.txt"
    listing.write_text("./cats/000.png\ncats\\001.png\n")
    assert main(["tag", str(project.path), "picked", "--samples", str(listing)]) == 0
    assert project.tags()[0].count == 2


def _random_set(project, ids):
    from app.core.store.embedding_sets import create_embedding_set, finish_embedding_set

    vectors = np.random.default_rng(0).standard_normal((len(ids), 4)).astype(np.float32)
    finish_embedding_set(project, create_embedding_set(project, {"source": "test"}), ids, vectors)
    yield from ()
