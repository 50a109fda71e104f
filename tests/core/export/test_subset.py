"""Exporting subsets: name lists, CSV / JSON with scores, copied or linked folders."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import stat

import numpy as np
import pytest
from PIL import Image

from app.core.errors import SieveError
from app.core.export.subset import export_filenames, export_subset_job
from app.core.ingest.indexing import IndexOptions, index_job
from app.core.jobs import CancelToken, run_job
from app.core.store.arrays import atomic_file
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


# Data safety: refused targets, atomic files, names a list cannot hold


def test_targets_in_the_dataset_or_the_project_are_refused(mixed, tmp_path) -> None:
    root = mixed.dataset_root
    for fmt, out in [
        ("copy", root),
        ("symlink", root / "cats"),
        ("copy", mixed.path / "exported"),
        ("txt", root / "cats" / "000.png"),
        ("csv", mixed.path / "subset.csv"),
    ]:
        with pytest.raises(SieveError, match="choose a folder outside the dataset"):
            export(mixed, ["cats/000.png"], fmt, out, overwrite=True)
    assert (root / "cats" / "000.png").is_file() and not (root / "cats" / "000.png").is_symlink()
    assert not (mixed.path / "exported").exists() and not (mixed.path / "subset.csv").exists()


def test_a_list_of_names_is_refused_in_the_dataset_when_the_project_is_given(mixed) -> None:
    target = mixed.dataset_root / "cats" / "000.png"
    original = target.read_bytes()
    with pytest.raises(SieveError, match="choose a folder outside the dataset"):
        export_filenames(["cats/001.png"], target, mixed)
    assert target.read_bytes() == original


def test_a_split_part_linked_elsewhere_is_refused_before_writing(mixed, tmp_path) -> None:
    out, elsewhere = tmp_path / "subset", tmp_path / "elsewhere"
    elsewhere.mkdir()
    out.mkdir()
    (out / "val").symlink_to(elsewhere)
    names = sorted(by_name(mixed))
    with pytest.raises(SieveError, match="nothing was written"):
        export(mixed, names, "copy", out, val_fraction=0.5)
    assert list(elsewhere.iterdir()) == [] and [p.name for p in out.iterdir()] == ["val"]


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002])
def test_written_files_follow_the_umask(mixed, tmp_path, umask) -> None:
    old = os.umask(umask)
    try:
        with atomic_file(tmp_path / "plain.bin") as handle:
            handle.write(b"x")
        export(mixed, ["cats/000.png"], "txt", tmp_path / "s.txt")
        export(mixed, ["cats/000.png", "clips/walk-2-mp4.png"], "copy", tmp_path / "copy")
    finally:
        os.umask(old)
    for path in [
        tmp_path / "plain.bin",
        tmp_path / "s.txt",
        tmp_path / "copy" / "cats" / "000.png",
        tmp_path / "copy" / "clips" / "walk-2-mp4.png",
    ]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, path


def test_names_with_line_breaks_are_skipped_in_lists_of_names(mixed, tmp_path) -> None:
    path = tmp_path / "names.txt"
    assert export_filenames(["a.png", "b\nc.png", "d\r.png", "e.png"], path) == 2
    assert path.read_text() == "a.png\ne.png\n"
    with mixed.db:
        mixed.db.execute(
            "UPDATE files SET relpath = 'cats/x' || char(13) || 'y.png' "
            "WHERE relpath = 'cats/001.png'"
        )
    report = export(mixed, ["cats/000.png", "cats/x\ry.png"], "txt", tmp_path / "s.txt")
    assert report.written == {str(tmp_path / "s.txt"): 1}
    assert report.skipped == ["'cats/x\\ry.png': a name holding a line break (skipped)"]
    export(mixed, ["cats/000.png", "cats/x\ry.png"], "csv", tmp_path / "s.csv")
    with (tmp_path / "s.csv").open(newline="") as handle:
        assert [r["name"] for r in csv.DictReader(handle)] == ["cats/000.png", "cats/x\ry.png"]


def test_undecodable_names_are_written_raw_in_txt_and_escaped_in_csv_and_json(
    mixed, tmp_path, monkeypatch
) -> None:
    name = b"caf\xe9.png".decode("utf-8", "surrogateescape")
    real = mixed.samples_by_id

    def with_odd_name(ids):
        return {i: dataclasses.replace(row, relpath=name) for i, row in real(ids).items()}

    monkeypatch.setattr(mixed, "samples_by_id", with_odd_name)
    row_id = by_name(mixed)["cats/000.png"].id
    for fmt in ("txt", "csv", "json"):
        run_job(export_subset_job(mixed, [row_id], fmt, tmp_path / f"s.{fmt}", CancelToken()))
    assert (tmp_path / "s.txt").read_bytes() == b"caf\xe9.png\n"
    assert (
        (tmp_path / "s.csv").read_text(encoding="utf-8").splitlines()[1].startswith("caf\\xe9.png,")
    )
    samples = json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))["samples"]
    assert samples[0]["name"] == "caf\\xe9.png"
