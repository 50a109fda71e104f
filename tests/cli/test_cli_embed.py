"""The embedding commands on the demo dataset: embed -> map -> neighbors -> duplicates, and
embeddings in and out in lightly's format."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from app.cli.entry import main
from app.core.ingest.indexing import IndexOptions, index_job
from app.core.jobs import CancelToken, run_job
from app.core.paths import resources_dir
from app.core.store.embedding_sets import active_embedding_set
from app.core.store.project import Project

ORIGINAL = "bag/03818.png"
COPY = "copies/bag-03818-copy.png"
QUICK = ["--backbone", "resnet18", "--image-size", "32", "--device", "cpu", "--batch-size", "64"]


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The demo dataset plus one exact copy of an image under another name, embedded once."""
    root = tmp_path_factory.mktemp("demo") / "data"
    shutil.copytree(resources_dir() / "demo", root)
    (root / "copies").mkdir()
    shutil.copy(root / ORIGINAL, root / COPY)
    with Project.for_dataset(root) as project:
        run_job(index_job(project, IndexOptions(), CancelToken()))
    assert main(["embed", str(root), *QUICK]) == 0
    return str(root)


def embedded(demo_dir: str) -> tuple[np.ndarray, list[str]]:
    with Project.open(demo_dir) as project:
        embedding_set = active_embedding_set(project)
        vectors, ids = np.array(embedding_set.vectors()), embedding_set.ids()
        rows = project.samples_by_id(ids.tolist())
        return vectors, [rows[int(i)].name for i in ids]


def test_embed_stores_one_unit_vector_per_sample(demo_dir, capsys) -> None:
    vectors, names = embedded(demo_dir)
    assert len(names) == 401 and vectors.shape == (401, 512) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    capsys.readouterr()
    assert main(["info", demo_dir, "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)["embeddings"]
    assert listing[-1]["count"] == 401 and listing[-1]["dim"] == 512 and listing[-1]["active"]
    assert "random" in listing[-1]["source"]


def test_pca_map_matches_numpys_svd_up_to_sign(demo_dir, tmp_path, capsys) -> None:
    out = tmp_path / "map.csv"
    assert main(["map", demo_dir, "--method", "pca", "--out", str(out)]) == 0
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    vectors, names = embedded(demo_dir)
    assert [row["name"] for row in rows] == names
    xy = np.array([[float(row["x"]), float(row["y"])] for row in rows])
    centred = vectors - vectors.mean(axis=0)
    u, s, _ = np.linalg.svd(centred.astype(np.float64), full_matrices=False)
    expected = u[:, :2] * s[:2]
    for axis in range(2):
        sign = np.sign(expected[:, axis] @ xy[:, axis])
        np.testing.assert_allclose(xy[:, axis], sign * expected[:, axis], atol=1e-3)


def test_umap_map_prints_its_bounds(demo_dir, capsys) -> None:
    assert main(["map", demo_dir, "--method", "umap", "--n-neighbors", "10", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["method"] == "umap" and result["points"] == 401
    (low_x, low_y), (high_x, high_y) = result["bounds"]
    assert high_x > low_x and high_y > low_y


def test_a_samples_nearest_neighbour_is_itself(demo_dir, capsys) -> None:
    assert (
        main(["neighbors", demo_dir, "--sample", "coat/" + first("coat"), "-k", "5", "--json"]) == 0
    )
    found = json.loads(capsys.readouterr().out)["neighbors"]
    assert len(found) == 5 and found[0]["name"] == "coat/" + first("coat")
    assert found[0]["similarity"] == pytest.approx(1.0, abs=1e-4)
    assert [row["rank"] for row in found] == [1, 2, 3, 4, 5]


def test_an_image_file_finds_its_own_sample(demo_dir, capsys) -> None:
    image = Path(demo_dir) / "dress" / first("dress")
    assert main(["neighbors", demo_dir, "--image", str(image), "-k", "3", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)["neighbors"]
    assert found[0]["name"] == "dress/" + first("dress")
    assert found[0]["similarity"] > 0.999


def test_an_exact_copy_is_found_as_a_duplicate(demo_dir, capsys) -> None:
    assert main(["duplicates", demo_dir, "--threshold", "0.9999", "--json"]) == 0
    groups = json.loads(capsys.readouterr().out)["groups"]
    assert {"keep": ORIGINAL, "duplicates": [COPY]} in groups
    assert main(["duplicates", demo_dir]) == 0
    assert f"keep {ORIGINAL}" in capsys.readouterr().out


def test_lightly_csv_round_trip_through_the_cli(demo_dir, tmp_path, capsys) -> None:
    from lightly.utils.io import load_embeddings

    out = tmp_path / "embeddings.csv"
    assert main(["export-embeddings", demo_dir, "--format", "lightly-csv", "--out", str(out)]) == 0
    values, _, filenames = load_embeddings(str(out))
    vectors, names = embedded(demo_dir)
    assert filenames == names
    np.testing.assert_array_equal(values.astype(np.float32), vectors)
    assert main(["import-embeddings", demo_dir, str(out)]) == 0
    assert "imported 401 embeddings" in capsys.readouterr().out
    again, _ = embedded(demo_dir)
    np.testing.assert_array_equal(again, vectors)


def test_bad_arguments_are_refused_clearly(demo_dir, tmp_path, capsys) -> None:
    assert main(["neighbors", demo_dir, "--sample", "no/such.png"]) == 1
    assert "no sample named" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:
        main(["duplicates", demo_dir, "--threshold", "1.5"])
    assert refused.value.code == 2
    assert "must be a finite number in (0, 1], not 1.5" in capsys.readouterr().err
    target = tmp_path / "taken.csv"
    target.write_text("mine")
    assert main(["export-embeddings", demo_dir, "--format", "npy", "--out", str(target)]) == 1
    assert target.read_text() == "mine"


def test_commands_without_embeddings_say_what_to_do(tmp_path, capsys) -> None:
    root = tmp_path / "data"
    shutil.copytree(resources_dir() / "demo" / "bag", root / "bag")
    with Project.for_dataset(root) as project:
        run_job(index_job(project, IndexOptions(), CancelToken()))
    assert main(["map", str(root), "--method", "pca"]) == 1
    assert "sieve embed" in capsys.readouterr().err


def first(label: str) -> str:
    return sorted(p.name for p in (resources_dir() / "demo" / label).iterdir())[0]
