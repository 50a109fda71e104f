"""Exporting subsets: name lists, CSV / JSON with scores, copied or linked folders."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image

from app.core.errors import SieveError
from app.core.export import export_filenames, export_subset_job
from app.core.indexing import IndexOptions, index_job
from app.core.jobs import CancelToken, run_job
from app.core.store.project import Project, SampleRow
from tests.factories import make_dataset, write_clip


def test_names_one_per_line(tmp_path):
    path = tmp_path / "out" / "subset.txt"
    assert export_filenames(["a/1.png", "clips/v-03-mp4.png", "ünï.png"], path) == 3
    assert path.read_text(encoding="utf-8") == "a/1.png\nclips/v-03-mp4.png\nünï.png\n"
    assert [p.name for p in path.parent.iterdir()] == ["subset.txt"]


def test_unwritable_target_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SieveError, match="cannot write"):
        export_filenames(["a"], blocker / "subset.txt")


# Subsets: lists, folders, frames, splits, refusals


@pytest.fixture()
def mixed(tmp_path):
    """Four labelled images and a 6-frame clip, indexed."""
    root = make_dataset(tmp_path / "data", {"cats": 2, "dogs": 2}, size=(20, 16))
    write_clip(root / "clips" / "walk.mp4", 6)
    project = Project.for_dataset(root)
    run_job(index_job(project, IndexOptions(), CancelToken()))
    yield project
    project.close()


def by_name(project) -> dict[str, SampleRow]:
    return {row.name: row for row in project.samples()}


def export(project, names, fmt, out, **kw):
    rows = by_name(project)
    ids = [rows[name].id for name in names]
    return run_job(export_subset_job(project, ids, fmt, out, CancelToken(), **kw))


def test_txt_csv_json_keep_the_order_and_the_scores(mixed, tmp_path) -> None:
    names = ["dogs/001.png", "cats/000.png", "clips/walk-3-mp4.png"]
    assert (tmp_path / "s.txt").exists() is False
    export(mixed, names, "txt", tmp_path / "s.txt")
    assert (tmp_path / "s.txt").read_text().splitlines() == names
    scores = {"diversity": np.array([0.9, 0.5, np.nan])}
    export(mixed, names, "csv", tmp_path / "s.csv", scores=scores)
    with (tmp_path / "s.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["name"] for r in rows] == names and rows[0]["label"] == "dogs"
    assert rows[0]["diversity"] == "0.9" and rows[2]["diversity"] == ""
    export(mixed, names, "json", tmp_path / "s.json", scores=scores)
    samples = json.loads((tmp_path / "s.json").read_text())["samples"]
    assert [s["position"] for s in samples] == [0, 1, 2] and samples[2]["diversity"] is None


def test_copy_keeps_the_layout_and_writes_frames_as_images(mixed, tmp_path) -> None:
    names = ["dogs/001.png", "cats/000.png", "clips/walk-3-mp4.png", "clips/walk-5-mp4.png"]
    source = mixed.dataset_root
    before = {
        p: p.read_bytes() for p in source.rglob("*") if p.is_file() and ".sieve" not in p.parts
    }
    out = tmp_path / "subset"
    report = export(mixed, names, "copy", out)
    assert report.written == {str(out): 4} and report.skipped == []
    for name in names[:2]:
        assert (out / name).read_bytes() == (source / name).read_bytes()
    frame = Image.open(out / "clips" / "walk-3-mp4.png")
    assert frame.size == (64, 48) and abs(np.asarray(frame).mean() - (10 + 4 * 3)) < 3
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == sorted(names)
    after = {
        p: p.read_bytes() for p in source.rglob("*") if p.is_file() and ".sieve" not in p.parts
    }
    assert after == before


def test_symlinks_point_at_the_originals(mixed, tmp_path) -> None:
    out = tmp_path / "links"
    export(mixed, ["cats/001.png"], "symlink", out)
    link = out / "cats" / "001.png"
    assert link.is_symlink() and link.resolve() == (mixed.dataset_root / "cats/001.png").resolve()


def test_split_is_seeded_and_complete(mixed, tmp_path) -> None:
    names = sorted(by_name(mixed))
    export(mixed, names, "txt", tmp_path / "s.txt", val_fraction=0.3, seed=1)
    train = (tmp_path / "s-train.txt").read_text().splitlines()
    val = (tmp_path / "s-val.txt").read_text().splitlines()
    assert sorted(train + val) == names and len(val) == 3
    export(mixed, names, "copy", tmp_path / "folders", val_fraction=0.3, seed=1)
    copied_val = sorted(
        str(p.relative_to(tmp_path / "folders" / "val"))
        for p in (tmp_path / "folders" / "val").rglob("*")
        if p.is_file()
    )
    assert copied_val == sorted(val)


def test_existing_files_are_never_overwritten_without_asking(mixed, tmp_path) -> None:
    (tmp_path / "s.txt").write_text("mine")
    with pytest.raises(SieveError, match="exists"):
        export(mixed, ["cats/000.png"], "txt", tmp_path / "s.txt")
    assert (tmp_path / "s.txt").read_text() == "mine"
    out = tmp_path / "subset"
    (out / "cats").mkdir(parents=True)
    (out / "cats" / "000.png").write_text("mine")
    with pytest.raises(SieveError, match="exists"):
        export(mixed, ["cats/001.png", "cats/000.png"], "copy", out)
    assert (out / "cats" / "000.png").read_text() == "mine"
    assert not (out / "cats" / "001.png").exists()
    export(mixed, ["cats/000.png"], "copy", out, overwrite=True)
    assert (out / "cats" / "000.png").read_bytes() == (
        mixed.dataset_root / "cats/000.png"
    ).read_bytes()


def test_a_name_escaping_the_target_is_refused(mixed, tmp_path) -> None:
    with mixed.db:
        mixed.db.execute(
            "UPDATE files SET relpath = '../../escape.png' WHERE relpath = 'cats/000.png'"
        )
    out = tmp_path / "subset"
    with pytest.raises(SieveError, match="outside"):
        export(mixed, ["../../escape.png"], "copy", out)
    assert not (tmp_path / "escape.png").exists()


def test_unknown_format_and_bad_split_are_refused(mixed, tmp_path) -> None:
    with pytest.raises(SieveError, match="unknown export format"):
        export(mixed, ["cats/000.png"], "zip", tmp_path / "s.zip")
    with pytest.raises(SieveError, match="between 0 and 1"):
        export(mixed, ["cats/000.png"], "txt", tmp_path / "s.txt", val_fraction=1.5)
