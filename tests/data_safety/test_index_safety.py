"""Indexing never loses, corrupts or leaks the user's data: the promises, through the CLI.

A vanished dataset (drive unmounted, share down) keeps its curation until the user forgets it
with ``--prune``; odd file names, a corrupt thumbnail cache and deep trees index; the dataset's
files are never written.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from app.cli.entry import main
from app.core.store.metadata import numeric_scores, write_scores
from app.core.store.project import Project
from app.core.store.selections import get_selection
from tests.factories import make_dataset, nested, remove_tree, write_image

ODD_NAME = b"caf\xe9.png"  # Latin-1, not valid UTF-8


def digests(root: Path) -> dict[str, str]:
    """Every file below ``root``: relative path -> SHA-256 of its bytes."""
    return {
        os.fsdecode(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in root.rglob("*")
        if path.is_file()
    }


def info(project: Path, capsys) -> dict:
    capsys.readouterr()
    assert main(["info", str(project), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def index(data: Path, project: Path, *extra: str) -> int:
    return main(["index", str(data), "--project", str(project), "--workers", "2", *extra])


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    return make_dataset(tmp_path / "data", {"cats": 3, "dogs": 3})


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    return tmp_path / "project"


def curate(data: Path, project: Path, capsys) -> dict[str, int]:
    """Index, tag two samples, save them as a selection and score every sample."""
    assert index(data, project) == 0
    names = project.parent / "names.txt"
    names.write_text("cats/000.png\ndogs/002.png\n", encoding="utf-8")
    assert main(["tag", str(project), "keep", "--samples", str(names)]) == 0
    assert main(["selections", str(project), "--combine", "union", "tag:keep", "tag:keep",
                 "--name", "picked"]) == 0  # fmt: skip
    with Project.open(project) as opened:
        ids = {row.relpath: row.id for row in opened.samples()}
        order = np.array(sorted(ids.values()), dtype=np.int64)
        write_scores(opened, order, {"typicality": order * 0.5})
    capsys.readouterr()
    return ids


def curation(project: Path) -> tuple[dict[str, int], list[int], list[int], dict]:
    """Sample ids by path, tag members, selection members, scores."""
    with Project.open(project) as opened:
        ids = {row.relpath: row.id for row in opened.samples()}
        tagged = opened.tagged(opened.tag_id("keep"))
        picked = sorted(get_selection(opened, "picked").members.tolist())
        order = np.array(sorted(ids.values()), dtype=np.int64)
        scores = {key: values.tolist() for key, values in numeric_scores(opened, order).items()}
    return ids, tagged, picked, scores


def test_curation_survives_a_vanished_and_returning_dataset(data, project, tmp_path, capsys):
    ids = curate(data, project, capsys)
    before = curation(project)
    away = tmp_path / "away"
    data.rename(away)
    data.mkdir()  # the empty mount point of an unmounted drive

    assert index(data, project) == 0
    err = capsys.readouterr().err
    assert "6" in err and "is the drive mounted?" in err
    summary = info(project, capsys)
    assert summary["missing"] == 6 and summary["samples"] == 0
    assert summary["tags"] == {"keep": 2}
    assert curation(project) == before

    data.rmdir()
    away.rename(data)
    assert index(data, project) == 0
    summary = info(project, capsys)
    assert summary["missing"] == 0 and summary["samples"] == 6
    assert curation(project) == before
    assert curation(project)[0] == ids


def test_an_empty_root_is_reported_and_never_acted_on(data, project, capsys):
    curate(data, project, capsys)
    before = curation(project)
    for path in data.rglob("*.png"):
        path.unlink()
    assert index(data, project) == 0
    captured = capsys.readouterr()
    assert "is the drive mounted?" in captured.err and "6" in captured.err
    assert curation(project) == before
    assert index(data, project, "--prune") == 1
    assert "--force" in capsys.readouterr().err
    assert curation(project) == before


def test_prune_is_the_only_way_to_forget(data, project, capsys):
    ids = curate(data, project, capsys)
    (data / "cats" / "000.png").unlink()
    for _ in range(2):
        assert index(data, project) == 0
    assert "1 missing" in capsys.readouterr().out
    assert info(project, capsys)["missing"] == 1
    assert curation(project)[1] == sorted([ids["cats/000.png"], ids["dogs/002.png"]])

    assert index(data, project, "--prune") == 0
    assert "forgot 1 missing file" in capsys.readouterr().out
    ids_after, tagged, picked, scores = curation(project)
    assert "cats/000.png" not in ids_after and len(ids_after) == 5
    assert tagged == picked == [ids["dogs/002.png"]]
    assert len(scores["typicality"]) == 5
    assert info(project, capsys)["missing"] == 0


def test_prune_of_a_mostly_vanished_root_needs_force(data, project, capsys):
    curate(data, project, capsys)
    for name in ("cats/000.png", "cats/001.png", "cats/002.png", "dogs/000.png"):
        (data / name).unlink()
    assert index(data, project, "--prune") == 1
    assert info(project, capsys)["missing"] == 4
    assert index(data, project, "--prune", "--force") == 0
    assert "forgot 4 missing files" in capsys.readouterr().out
    assert info(project, capsys)["missing"] == 0


def test_a_file_name_that_is_not_utf8_indexes(data, project, tmp_path, capsys):
    odd = Path(os.fsdecode(os.fsencode(data / "cats") + b"/" + ODD_NAME))
    write_image(odd)
    assert index(data, project) == 0
    assert info(project, capsys)["samples"] == 7
    with Project.open(project) as opened:
        row = next(row for row in opened.samples() if row.relpath == f"cats/{odd.name}")
        assert opened.thumbs.get(row.id) is not None
        assert opened.samples_by_id([row.id])[row.id].relpath == row.relpath
    assert index(data, project) == 0
    assert "0 new" in capsys.readouterr().out  # found again by its exact name

    with Project.open(project) as opened:
        opened.add_tag(opened.create_tag("odd"), [row.id])
    out = tmp_path / "copied"
    export = ["export", str(project), "--tag", "odd", "--format", "copy", "--out", str(out)]
    assert main(export) == 0
    copied = [path for path in out.rglob("*") if path.is_file()]
    assert len(copied) == 1 and copied[0].read_bytes() == odd.read_bytes()


def test_a_corrupt_thumbnail_cache_is_set_aside_and_rebuilt(data, project, capsys):
    assert index(data, project) == 0
    (project / "thumbs.sqlite").write_bytes(b"this is not a database " * 200)
    capsys.readouterr()
    assert index(data, project) == 0
    captured = capsys.readouterr()
    assert "thumbnail cache" in captured.out + captured.err
    assert len(list(project.glob("thumbs.sqlite.broken-*"))) == 1
    with Project.open(project) as opened:
        assert opened.thumbs.count() == 6


def test_a_deep_tree_indexes(tmp_path, capsys):
    data = tmp_path / "deep"
    try:
        write_image(nested(data, 1200) / "bottom.png")
        write_image(data / "top.png")
        assert index(data, tmp_path / "project", "--no-thumbnails") == 0
        assert info(tmp_path / "project", capsys)["samples"] == 2
    finally:
        remove_tree(data)


def test_originals_are_byte_identical_after_indexing(data, project, tmp_path, capsys):
    write_image(Path(os.fsdecode(os.fsencode(data) + b"/" + ODD_NAME)))
    (data / "dogs" / "broken.png").write_bytes(b"not a png")
    inside = data / ".sieve"
    before = digests(data)
    stats = {path: path.stat().st_mtime_ns for path in data.rglob("*") if path.is_file()}
    curate(data, project, capsys)
    assert main(["index", str(data), "--workers", "2"]) == 0  # project inside the dataset
    (data / "cats" / "001.png").rename(tmp_path / "001.png")
    assert index(data, project, "--prune") == 0
    shutil.move(tmp_path / "001.png", data / "cats" / "001.png")
    assert index(data, project) == 0
    shutil.rmtree(inside)
    assert digests(data) == before
    assert {path: path.stat().st_mtime_ns for path in data.rglob("*") if path.is_file()} == stats
