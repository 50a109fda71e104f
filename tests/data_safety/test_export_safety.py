"""What an export promises about the user's data, in one place.

The dataset's files are never written, renamed or deleted, whatever ``--out`` names (the dataset,
a folder in it, a link to either, the project folder, a relative path leading there); an export
writes nothing outside ``--out``, not even through a symbolic link found inside it; a copy is
written file by file under temporary names, so an interrupted export leaves no torn file and
a rerun finishes it.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from app.cli.entry import main
from app.core.errors import JobCancelled, SieveError
from app.core.export import subset as export_module
from app.core.export.subset import export_subset_job
from app.core.ingest.indexing import IndexOptions, index_job
from app.core.jobs import CancelToken, run_job
from app.core.store.project import Project
from tests.factories import gradient, make_dataset, write_image

FORMATS = ("txt", "csv", "json", "copy", "symlink")
LIST_SUFFIX = {"txt": ".txt", "csv": ".csv", "json": ".json"}
REFUSED = "choose a folder outside the dataset"
# --out values that all lead into the dataset "data" or its project "data/.sieve": below the
# test's folder, or relative to the working folder "work" in it when they start with ".."
ALIASES = (
    "data",
    "data/cats",
    "data/new",
    "data/.sieve",
    "alias",
    "alias/new/deeper",
    "alias_sub",
    "alias_sub/..",
    "../data/cats",
    "../alias_sub/..",
)


def index_and_tag_all(root: Path) -> Path:
    """Index ``root`` and tag every sample "all"."""
    with Project.for_dataset(root) as project:
        run_job(index_job(project, IndexOptions(), CancelToken()))
        tag = project.create_tag("all")
        project.add_tag(tag, [row.id for row in project.samples()])
    return root


@pytest.fixture()
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Four tiny images in two class folders, indexed, tagged "all"; links to it; cwd "work"."""
    root = index_and_tag_all(make_dataset(tmp_path / "data", {"cats": 2, "dogs": 2}, size=(8, 8)))
    (tmp_path / "alias").symlink_to(root)
    (tmp_path / "alias_sub").symlink_to(root / "cats")
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    return root


def snapshot(top: Path) -> dict[str, str]:
    """Every entry below ``top``, links not followed: a file's hash, a link's target, or "dir".

    The project's SQLite files (and their journals) change on every run and are left out.
    """
    entries = {}
    for folder, dirs, files in os.walk(top):
        for name in [*dirs, *files]:
            path = Path(folder, name)
            relative = str(path.relative_to(top))
            if path.is_symlink():
                entries[relative] = f"-> {os.readlink(path)}"
            elif path.is_dir():
                entries[relative] = "dir"
            elif not name.startswith(("project.sqlite", "thumbs.sqlite")):
                entries[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return entries


def export_args(data: Path, fmt: str, out: str, split: bool = False) -> list[str]:
    args = ["export", str(data), "--tag", "all", "--format", fmt, "--out", out, "--overwrite"]
    return [*args, "--val-fraction", "0.5"] if split else args


def list_or_folder(fmt: str, folder: str) -> str:
    """``--out`` for ``fmt``: a list file in ``folder``, or ``folder`` itself."""
    return f"{folder}/subset{LIST_SUFFIX[fmt]}" if fmt in LIST_SUFFIX else folder


# The dataset and its project are never a target


@pytest.mark.parametrize("split", [False, True], ids=["whole", "split"])
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("alias", ALIASES)
def test_no_export_writes_into_the_dataset(data, tmp_path, capsys, alias, fmt, split) -> None:
    before = snapshot(tmp_path)
    folder = alias if alias.startswith("..") else str(tmp_path / alias)
    assert main(export_args(data, fmt, list_or_folder(fmt, folder), split)) == 1
    assert REFUSED in capsys.readouterr().err
    assert snapshot(tmp_path) == before


def test_copying_the_dataset_onto_itself_deletes_nothing(data, tmp_path, capsys) -> None:
    before = snapshot(tmp_path)
    assert main(export_args(data, "copy", str(data))) == 1
    assert f"is the dataset folder {data}" in capsys.readouterr().err
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("fmt", ["txt", "csv", "json"])
def test_a_list_named_like_an_original_is_refused(data, tmp_path, capsys, fmt) -> None:
    before = snapshot(tmp_path)
    for image in (data / "cats" / "000.png", tmp_path / "alias" / "dogs" / "001.png"):
        assert main(export_args(data, fmt, str(image))) == 1
        assert REFUSED in capsys.readouterr().err
    assert snapshot(tmp_path) == before


def test_a_parent_of_the_dataset_is_a_target_only_where_nothing_lands_inside_it(
    tmp_path, capsys
) -> None:
    data = index_and_tag_all(make_dataset(tmp_path / "data", {"data": 1, "cats": 1}, size=(8, 8)))
    before = snapshot(tmp_path)
    assert main(export_args(data, "copy", str(tmp_path))) == 1
    assert "data/000.png" in capsys.readouterr().err
    assert snapshot(tmp_path) == before
    other = index_and_tag_all(make_dataset(tmp_path / "other", {"cats": 2}, size=(8, 8)))
    before = snapshot(other)
    assert main(export_args(other, "copy", str(tmp_path))) == 0
    assert (tmp_path / "cats" / "001.png").read_bytes() == (other / "cats/001.png").read_bytes()
    assert snapshot(other) == before


def test_an_original_the_dataset_links_to_is_never_a_target(tmp_path, capsys) -> None:
    data = make_dataset(tmp_path / "data", {"cats": 1}, size=(8, 8))
    external = write_image(tmp_path / "ext" / "cats" / "linked.png", gradient(8, 8, seed=5))
    (data / "cats" / "linked.png").symlink_to(external)
    index_and_tag_all(data)
    before = snapshot(tmp_path)
    for fmt, out in [("copy", external.parent.parent), ("txt", external), ("symlink", external)]:
        assert main(export_args(data, fmt, str(out))) == 1
        assert "is one of the files being exported" in capsys.readouterr().err
    assert snapshot(tmp_path) == before


# Nothing is written outside --out


@pytest.mark.parametrize("split", [False, True], ids=["whole", "split"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_an_export_writes_only_below_out(data, tmp_path, fmt, split) -> None:
    before = snapshot(tmp_path)
    assert main(export_args(data, fmt, list_or_folder(fmt, str(tmp_path / "out")), split)) == 0
    after = snapshot(tmp_path)
    assert {k: v for k, v in after.items() if not k.startswith("out")} == before
    for name in ("cats/000.png", "dogs/001.png"):
        for part in ("train", "val") if split and fmt in ("copy", "symlink") else ("",):
            target = tmp_path / "out" / part / name
            if fmt == "copy" and target.exists():
                assert target.read_bytes() == (data / name).read_bytes()
                assert not target.is_symlink()
            if fmt == "symlink" and target.is_symlink():
                assert target.resolve() == (data / name).resolve()


@pytest.mark.parametrize(
    ("link", "split"), [("cats", False), ("train", True), ("train/dogs", True)]
)
@pytest.mark.parametrize("fmt", ["copy", "symlink"])
def test_a_linked_folder_inside_out_does_not_lead_outside(
    data, tmp_path, capsys, fmt, link, split
) -> None:
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    elsewhere.mkdir()
    (out / link).parent.mkdir(parents=True, exist_ok=True)
    (out / link).symlink_to(elsewhere)
    before = snapshot(tmp_path)
    assert main(export_args(data, fmt, str(out), split)) == 1
    error = capsys.readouterr().err
    assert f"outside {out}" in error and "nothing was written" in error
    assert snapshot(tmp_path) == before


def test_a_list_named_like_a_link_to_an_original_replaces_the_link(data, tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "subset.txt").symlink_to(data / "cats" / "000.png")
    original = (data / "cats" / "000.png").read_bytes()
    assert main(export_args(data, "txt", str(out / "subset.txt"))) == 0
    assert not (out / "subset.txt").is_symlink()
    assert (data / "cats" / "000.png").read_bytes() == original


# A copy is atomic and resumable


def export_all(root: Path, fmt: str, out: Path, **kw):
    with Project.open(root) as project:
        ids = [row.id for row in project.samples()]
        return run_job(export_subset_job(project, ids, fmt, out, CancelToken(), **kw))


def files_below(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_a_rerun_finishes_an_interrupted_copy(data, tmp_path) -> None:
    out = tmp_path / "out"
    (out / "cats").mkdir(parents=True)
    shutil.copy2(data / "cats" / "000.png", out / "cats" / "000.png")
    (out / "cats" / ".001.png.k2x9q0zz.tmp").write_bytes(b"torn")
    before = snapshot(data)
    report = export_all(data, "copy", out)
    assert report.written == {str(out): 4} and report.skipped == []
    originals = {k: v for k, v in files_below(data).items() if not k.startswith(".sieve")}
    assert files_below(out) == originals
    assert snapshot(data) == before


def test_a_cancelled_copy_leaves_whole_files_and_resumes(data, tmp_path, monkeypatch) -> None:
    out, cancel, copied = tmp_path / "out", CancelToken(), []
    real_copy = export_module._copy_contents

    def copy_then_cancel(source, handle):
        real_copy(source, handle)
        copied.append(source)
        if len(copied) == 2:
            cancel.cancel()

    monkeypatch.setattr(export_module, "_copy_contents", copy_then_cancel)
    with Project.open(data) as project:
        ids = [row.id for row in project.samples()]
        with pytest.raises(JobCancelled):
            run_job(export_subset_job(project, ids, "copy", out, cancel))
    partial = files_below(out)
    assert len(partial) == 2
    assert all(content == (data / name).read_bytes() for name, content in partial.items())
    assert export_all(data, "copy", out).written == {str(out): 4}
    assert len(copied) == 4 and len(files_below(out)) == 4


def test_a_full_disk_names_the_file_and_leaves_no_partial_file(data, tmp_path, monkeypatch):
    def half_then_full(source, handle):
        handle.write(Path(source).read_bytes()[:10])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(export_module, "_copy_contents", half_then_full)
    out = tmp_path / "out"
    with pytest.raises(SieveError, match=r"disk full while writing .*cats/000\.png"):
        export_all(data, "copy", out)
    assert [p for p in out.rglob("*") if p.is_file()] == []


def test_a_rerun_still_refuses_a_file_that_differs(data, tmp_path) -> None:
    out = tmp_path / "out"
    export_all(data, "copy", out)
    export_all(data, "symlink", tmp_path / "links")
    assert export_all(data, "symlink", tmp_path / "links").written == {str(tmp_path / "links"): 4}
    (out / "dogs" / "000.png").write_bytes(b"mine")
    with pytest.raises(SieveError, match="exists"):
        export_all(data, "copy", out)
    assert (out / "dogs" / "000.png").read_bytes() == b"mine"
    export_all(data, "copy", out, overwrite=True)
    assert (out / "dogs" / "000.png").read_bytes() == (data / "dogs" / "000.png").read_bytes()


# Names that a line-based output cannot hold


def test_names_with_a_line_break_are_skipped_by_ls_and_txt(data, tmp_path, capsys) -> None:
    with Project.open(data) as project, project.db:
        project.db.execute(
            "UPDATE files SET relpath = 'cats/a' || char(10) || 'b.png' "
            "WHERE relpath = 'cats/001.png'"
        )
    assert main(["ls", str(data)]) == 0
    listed = capsys.readouterr()
    assert listed.out.splitlines() == ["cats/000.png", "dogs/000.png", "dogs/001.png"]
    assert "'cats/a\\nb.png'" in listed.err and "line break" in listed.err
    out = tmp_path / "subset.txt"
    assert main(["export", str(data), "--tag", "all", "--format", "txt", "--out", str(out)]) == 1
    assert "skipped: 'cats/a\\nb.png'" in capsys.readouterr().err
    assert out.read_text().splitlines() == ["cats/000.png", "dogs/000.png", "dogs/001.png"]


def test_names_that_are_not_utf8_are_listed_and_exported_as_on_disk(tmp_path, capsysbinary) -> None:
    data = make_dataset(tmp_path / "data", {"cats": 1}, size=(8, 8))
    odd = os.fsdecode(bytes(data / "cats") + b"/caf\xe9.png")
    write_image(Path(odd), gradient(8, 8, seed=3))
    index_and_tag_all(data)
    assert main(["ls", str(data)]) == 0
    assert capsysbinary.readouterr().out == b"cats/000.png\ncats/caf\xe9.png\n"
    out = tmp_path / "out"
    for fmt in FORMATS:
        assert main(export_args(data, fmt, list_or_folder(fmt, str(out / fmt)))) == 0
    assert (out / "txt" / "subset.txt").read_bytes() == b"cats/000.png\ncats/caf\xe9.png\n"
    assert "cats/caf\\xe9.png,cats,1" in (out / "csv" / "subset.csv").read_text(encoding="utf-8")
    samples = json.loads((out / "json" / "subset.json").read_text(encoding="utf-8"))["samples"]
    assert samples[1]["name"] == "cats/caf\\xe9.png"
    assert Path(out / "copy" / os.path.relpath(odd, data)).read_bytes() == Path(odd).read_bytes()
    assert Path(out / "symlink" / os.path.relpath(odd, data)).resolve() == Path(odd)


@pytest.mark.parametrize("fmt", FORMATS)
def test_samples_whose_file_went_missing_are_skipped_and_named(data, tmp_path, fmt, capsys):
    """A tag that holds a missing file exports the rest and names the one it skipped."""
    (data / "cats" / "000.png").rename(tmp_path / "away.png")
    with Project.open(data) as project:
        run_job(index_job(project, IndexOptions(), CancelToken()))
    out = tmp_path / f"out{LIST_SUFFIX.get(fmt, '')}"
    code = main(["export", str(data), "--tag", "all", "--format", fmt, "--out", str(out)])
    assert code == 1
    assert "cats/000.png: its file was missing" in capsys.readouterr().err
    written = (
        out.read_text()
        if fmt in LIST_SUFFIX
        else "\n".join(str(p.relative_to(out)) for p in sorted(out.rglob("*.png")))
    )
    assert "cats/001.png" in written and "cats/000.png" not in written
