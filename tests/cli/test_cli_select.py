"""`sieve tag`, `sieve selections` and `sieve export` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from app.cli.entry import main
from app.core.ingest.indexing import IndexOptions, index_job
from app.core.jobs import CancelToken, run_job
from app.core.store.project import Project
from app.core.store.selections import save_selection
from tests.factories import make_dataset


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    root = make_dataset(tmp_path / "data", {"cats": 3, "dogs": 3}, size=(20, 16))
    with Project.for_dataset(root) as project:
        run_job(index_job(project, IndexOptions(), CancelToken()))
        rows = {row.name: row.id for row in project.samples()}
        picked = [rows["dogs/002.png"], rows["cats/000.png"], rows["dogs/000.png"]]
        save_selection(project, "picked", np.array(picked), {"n": 3}, np.array([3.0, 2.0, 1.0]))
    return root


def test_tag_a_selection_then_list_and_remove(data, capsys) -> None:
    assert main(["tag", str(data), "labelled", "--selection", "picked"]) == 0
    assert "3 samples tagged 'labelled'" in capsys.readouterr().out
    assert main(["tag", str(data), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0] == {
        "name": "labelled",
        "count": 3,
        "color": "#4c9be8",
    }
    names = data / "names.txt"
    names.write_text("cats/000.png\n")
    assert main(["tag", str(data), "labelled", "--samples", str(names), "--remove"]) == 0
    assert "(2 now tagged)" in capsys.readouterr().out


def test_combine_selections_and_tags(data, capsys) -> None:
    names = data / "names.txt"
    names.write_text("dogs/000.png\ncats/001.png\n")
    assert main(["tag", str(data), "seen", "--samples", str(names)]) == 0
    args = ["selections", str(data), "--combine", "difference", "picked", "tag:seen"]
    assert main([*args, "--name", "fresh"]) == 0
    capsys.readouterr()
    assert main(["selections", str(data), "--json"]) == 0
    listing = {s["name"]: s for s in json.loads(capsys.readouterr().out)}
    assert listing["fresh"]["count"] == 2 and listing["picked"]["count"] == 3
    out = data.parent / "fresh.txt"
    assert (
        main(["export", str(data), "--selection", "fresh", "--format", "txt", "--out", str(out)])
        == 0
    )
    assert out.read_text().splitlines() == ["dogs/002.png", "cats/000.png"]


def test_export_formats_from_the_cli(data, tmp_path, capsys) -> None:
    csv_path = tmp_path / "picked.csv"
    assert (
        main(
            [
                "export",
                str(data),
                "--selection",
                "picked",
                "--format",
                "csv",
                "--out",
                str(csv_path),
            ]
        )
        == 0
    )
    lines = csv_path.read_text().splitlines()
    assert lines[0] == "name,label,position,score" and lines[1] == "dogs/002.png,dogs,0,3.0"
    folder = tmp_path / "copy"
    args = ["export", str(data), "--selection", "picked", "--format", "copy", "--out", str(folder)]
    assert main(args) == 0
    assert (folder / "cats" / "000.png").read_bytes() == (data / "cats" / "000.png").read_bytes()
    assert main(args) == 0
    (folder / "cats" / "000.png").write_bytes(b"changed")
    assert main(args) == 1
    assert "exists" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 0


def test_bad_requests_say_what_is_wrong(data, tmp_path, capsys) -> None:
    assert main(["tag", str(data), "x", "--selection", "nope"]) == 1
    assert "no selection named 'nope'" in capsys.readouterr().err
    assert (
        main(
            ["export", str(data), "--tag", "none", "--format", "txt", "--out", str(tmp_path / "a")]
        )
        == 1
    )
    assert "no selection or tag" in capsys.readouterr().err
    assert (
        main(["selections", str(data), "--combine", "xor", "picked", "picked", "--name", "z"]) == 1
    )
    assert "unknown operation" in capsys.readouterr().err
