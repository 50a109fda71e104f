"""Embedding sets after files leave the project, and embeddings imported from other tools.

Removing files deletes their samples (``files`` rows cascade); the embedding set keeps its rows.
Every command then works on the samples that remain and says how many rows it dropped, and the
set's arrays stay untouched, so a file that comes back (same sample id) gets its row back.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from app.cli.entry import main
from app.core.embeddings.neighbours import load_embeddings, nearest_ids, usable_rows
from app.core.jobs import CancelToken
from app.core.store.project import Project
from app.gui_model.map_sources import layout_job

GONE = ("cats/001.png", "dogs/004.png")
DROPPED = "2 rows dropped (their samples are gone from the project)"


def remove_files(project: Project, relpaths: tuple[str, ...]) -> list[tuple[list, list]]:
    """Delete the files (their samples cascade); returns their rows to put back later."""
    saved = []
    with project.db:
        for relpath in relpaths:
            file_row = project.db.execute("SELECT * FROM files WHERE relpath = ?", (relpath,))
            file_row = list(file_row.fetchone())
            query = "SELECT * FROM samples WHERE file_id = ?"
            samples = [list(row) for row in project.db.execute(query, (file_row[0],))]
            saved.append((file_row, samples))
            project.db.execute("DELETE FROM files WHERE relpath = ?", (relpath,))
    return saved


def restore_files(project: Project, saved: list[tuple[list, list]]) -> None:
    """Put removed files back with their old ids (what re-indexing a returning file does)."""
    with project.db:
        for file_row, samples in saved:
            marks = ", ".join("?" * len(file_row))
            project.db.execute(f"INSERT INTO files VALUES ({marks})", file_row)
            for sample in samples:
                marks = ", ".join("?" * len(sample))
                project.db.execute(f"INSERT INTO samples VALUES ({marks})", sample)


def set_files(embedding_set) -> dict[str, bytes]:
    """The bytes of the set's arrays (they must never change when samples come and go)."""
    folder = embedding_set.folder
    return {name: (folder / f"{name}.npy").read_bytes() for name in ("ids", "vectors")}


def last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture()
def pruned(embedded_project):
    """The embedded project after two of its twelve files were removed."""
    project, embedding_set = embedded_project
    saved = remove_files(project, GONE)
    return project, embedding_set, saved


def test_map_works_on_the_samples_that_remain(pruned, tmp_path, capsys) -> None:
    project, embedding_set, _ = pruned
    out = tmp_path / "map.csv"
    args = ["map", str(project.path), "--method", "pca", "--out", str(out), "--json"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert last_json(captured.out)["points"] == 10
    assert f"embedding set {embedding_set.id}: {DROPPED}" in captured.err
    with out.open(newline="") as handle:
        names = [row["name"] for row in csv.DictReader(handle)]
    assert len(names) == 10 and not set(GONE) & set(names)


def test_export_embeddings_writes_the_rows_that_remain(pruned, tmp_path, capsys) -> None:
    project, embedding_set, _ = pruned
    out = tmp_path / "vectors.npy"
    args = ["export-embeddings", str(project.path), "--format", "npy", "--out", str(out)]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "wrote 10 embeddings" in captured.out and DROPPED in captured.err
    names = (tmp_path / "vectors.filenames.txt").read_text().splitlines()
    assert len(names) == 10 and not set(GONE) & set(names)
    assert np.load(out).shape == (10, 8)


def test_duplicates_score_the_samples_that_remain(pruned, capsys) -> None:
    project, _, _ = pruned
    assert main(["duplicates", str(project.path), "--threshold", "0.5", "--json"]) == 0
    captured = capsys.readouterr()
    assert DROPPED in captured.err
    groups = last_json(captured.out)["groups"]
    named = {n for group in groups for n in [group["keep"], *group["duplicates"]]}
    assert not set(GONE) & named
    scored = project.db.execute("SELECT COUNT(DISTINCT sample_id) FROM metadata").fetchone()[0]
    assert scored == 10


def test_neighbours_never_name_a_removed_sample(pruned, capsys) -> None:
    project, _, _ = pruned
    assert main(["neighbors", str(project.path), "--sample", "cats/000.png", "-k", "12"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.strip().splitlines()) == 10
    assert not any(name in captured.out for name in GONE)
    assert DROPPED in captured.err


def test_select_picks_among_the_samples_that_remain(pruned, capsys) -> None:
    project, _, _ = pruned
    args = ["select", str(project.path), "--n", "10", "--name", "all", "--json"]
    assert main(args) == 0
    captured = capsys.readouterr()
    picked = last_json(captured.out)["samples"]
    assert len(picked) == 10 and not set(GONE) & set(picked)
    assert DROPPED in captured.err


def test_label_next_picks_among_the_samples_that_remain(pruned, capsys) -> None:
    project, _, _ = pruned
    rows = {row.name: row.id for row in project.samples()}
    for name, members in (("cat", ["cats/000.png", "cats/002.png"]), ("dog", ["dogs/000.png"])):
        project.add_tag(project.create_tag(name), [rows[m] for m in members])
    args = ["label-next", str(project.path), "-n", "7", "--label-tags", "cat,dog", "--json"]
    assert main(args) == 0
    captured = capsys.readouterr()
    picked = last_json(captured.out)["picked"]
    assert len(picked) == 7 and not set(GONE) & set(picked)
    assert DROPPED in captured.err


def test_the_gui_map_draws_no_ghost_points(pruned) -> None:
    project, _, _ = pruned
    reports = list(_reports(layout_job(project.path, "pca", CancelToken())))
    layouts = [r.partial for r in reports if isinstance(r.partial, dict)]
    source = layouts[-1]["source"]
    gone = {row.id for row in project.samples()} ^ set(source.ids.tolist())
    assert not gone, "every map point is a sample of the project and every sample is drawn"
    assert (source.rows >= 0).all() and len(layouts[-1]["xy"]) == len(source.ids) == 10
    assert any(DROPPED in r.message for r in reports)


def test_the_detail_strip_names_no_removed_sample(pruned) -> None:
    project, embedding_set, _ = pruned
    vectors, ids = load_embeddings(embedding_set.folder)
    query = next(row.id for row in project.samples() if row.name == "cats/000.png")
    found, _ = nearest_ids(vectors, ids, query, 12, usable_rows(project, ids))
    names = {row.id: row.name for row in project.samples()}
    assert len(found) == 9 and all(int(i) in names for i in found)


def _reports(job):
    while True:
        try:
            yield next(job)
        except StopIteration:
            return


def test_a_file_that_comes_back_gets_its_embedding_back(pruned, tmp_path, capsys) -> None:
    project, embedding_set, saved = pruned
    before = set_files(embedding_set)
    path = str(project.path)
    assert main(["map", path, "--method", "pca"]) == 0
    assert main(["duplicates", path]) == 0
    assert main(["select", path, "--n", "3", "--name", "s"]) == 0
    assert set_files(embedding_set) == before
    restore_files(project, saved)
    capsys.readouterr()
    assert main(["map", path, "--method", "pca", "--json"]) == 0
    captured = capsys.readouterr()
    assert last_json(captured.out)["points"] == 12 and "dropped" not in captured.err
    out = tmp_path / "all.npy"
    assert main(["export-embeddings", path, "--format", "npy", "--out", str(out)]) == 0
    assert set(GONE) <= set((tmp_path / "all.filenames.txt").read_text().splitlines())


def test_files_missing_at_the_last_index_leave_the_map_until_they_return(
    embedded_project, capsys
) -> None:
    project, embedding_set = embedded_project
    before = set_files(embedding_set)
    path = str(project.path)
    with project.db:
        project.db.execute("UPDATE files SET missing = 1 WHERE relpath IN (?, ?)", GONE)
    assert main(["map", path, "--method", "pca", "--json"]) == 0
    captured = capsys.readouterr()
    assert last_json(captured.out)["points"] == 10 and DROPPED in captured.err
    with project.db:
        project.db.execute("UPDATE files SET missing = 0")
    assert main(["map", path, "--method", "pca", "--json"]) == 0
    captured = capsys.readouterr()
    assert last_json(captured.out)["points"] == 12 and "dropped" not in captured.err
    assert set_files(embedding_set) == before


def test_deleted_files_reindexed_then_pruned_keep_every_command_working(
    embedded_project, capsys
) -> None:
    project, embedding_set = embedded_project
    root, path = project.dataset_root, str(project.path)
    for relpath in GONE:
        (root / relpath).unlink()
    for extra in ([], ["--prune"]):
        assert main(["index", str(root), *extra]) == 0
        capsys.readouterr()
        assert main(["duplicates", path, "--json"]) == 0
        assert main(["select", path, "--n", "10", "--name", "s", "--overwrite", "--json"]) == 0
        captured = capsys.readouterr()
        assert not set(GONE) & set(last_json(captured.out)["samples"])
        assert captured.err.count(DROPPED) == 2
    assert embedding_set.ids().shape == (12,)


def _write_npy(folder: Path, names: list[str], vectors: np.ndarray) -> Path:
    path = folder / "imported.npy"
    np.save(path, vectors.astype(np.float32))
    (folder / "imported.filenames.txt").write_text("".join(f"{n}\n" for n in names))
    return path


def test_import_refuses_duplicated_names_and_lists_them(embedded_project, tmp_path, capsys):
    project, _ = embedded_project
    names = [row.name for row in project.samples()]
    names[3], names[7] = names[0], names[1]
    vectors = np.random.default_rng(1).standard_normal((len(names), 8))
    path = _write_npy(tmp_path, names, vectors)
    assert main(["import-embeddings", str(project.path), str(path)]) == 1
    error = capsys.readouterr().err
    assert "duplicate" in error and names[0] in error and names[1] in error


@pytest.mark.parametrize("bad", [0.0, np.nan, np.inf])
def test_import_refuses_zero_and_non_finite_vectors_naming_the_rows(
    embedded_project, tmp_path, capsys, bad
) -> None:
    project, _ = embedded_project
    names = [row.name for row in project.samples()]
    vectors = np.random.default_rng(1).standard_normal((len(names), 8))
    vectors[[2, 5]] = bad
    path = _write_npy(tmp_path, names, vectors)
    assert main(["import-embeddings", str(project.path), str(path)]) == 1
    error = capsys.readouterr().err
    assert "rows 3, 6" in error and names[2] in error
