"""Scanning a dataset folder: which files, in what order, with which labels."""

from __future__ import annotations

import os

import pytest

from app.core.data import scan
from app.core.data.scan import (
    NOT_READ,
    FoundFile,
    Skipped,
    Unread,
    kind_of,
    label_of,
    readable_name,
    scan_batches,
    scan_folder,
)
from tests.factories import nested, remove_tree, write_image


def relpaths(root, **kwargs):
    return [found.relpath for found in scan_folder(root, **kwargs)]


def test_recursive_sorted_any_case_extensions(tmp_path):
    for name in ["b/2.PNG", "b/1.jpeg", "a/x.JPG", "top.webp", "a/deep/er/z.tiff"]:
        write_image(tmp_path / name, format="PNG")
    (tmp_path / "notes.txt").write_text("not a sample")
    (tmp_path / "clip.MP4").write_bytes(b"")
    assert relpaths(tmp_path) == [
        "a/deep/er/z.tiff",
        "a/x.JPG",
        "b/1.jpeg",
        "b/2.PNG",
        "clip.MP4",
        "top.webp",
    ]
    kinds = {found.relpath: found.kind for found in scan_folder(tmp_path)}
    assert kinds["clip.MP4"] == "video" and kinds["top.webp"] == "image"


def test_the_walk_follows_the_order_of_whole_paths(tmp_path):
    """A folder's files come where its path sorts, not where its name does: "a b.png" and
    "a-c/1.png" sort before "a/1.png" (a space and "-" come before "/"), as SQLite orders them."""
    names = ["a/1.png", "a b.png", "a-c/1.png", "a.png", "a/b/1.png", "a/b c.png", "ab/1.png"]
    for name in names:
        write_image(tmp_path / name, format="PNG")
    found = relpaths(tmp_path)
    assert found == sorted(names)
    assert found.index("a b.png") < found.index("a-c/1.png") < found.index("a/1.png")


def test_batches_stop_at_folders_and_at_the_batch_size(tmp_path, monkeypatch):
    """A batch is a run of one folder's files, between its sub-folders, of BATCH files at most."""
    monkeypatch.setattr(scan, "BATCH", 3)
    names = [f"{stem}.jpg" for stem in "abcdefg"] + ["b/1.jpg", "b/2.jpg", "e/1.jpg", "e/f/1.jpg"]
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")  # never decoded: a scan reads names only
    unread = Unread(known=(), suffixes=frozenset({".jpg"}))
    batches = [
        [found.relpath for found in batch] for batch in scan_batches(tmp_path, unread=unread)
    ]
    assert batches == [
        ["a.jpg", "b.jpg"],
        ["b/1.jpg", "b/2.jpg"],
        ["c.jpg", "d.jpg", "e.jpg"],
        ["e/1.jpg"],
        ["e/f/1.jpg"],
        ["f.jpg", "g.jpg"],
    ]
    assert all(type(found) is FoundFile for batch in scan_batches(tmp_path) for found in batch)


def test_hidden_files_and_project_folder_skipped(tmp_path):
    write_image(tmp_path / "a" / "ok.png")
    write_image(tmp_path / "a" / ".hidden.png")
    write_image(tmp_path / ".cache" / "x.png")
    write_image(tmp_path / "proj" / "thumb.png")
    assert relpaths(tmp_path, exclude=[tmp_path / "proj"]) == ["a/ok.png"]


def test_symlink_loops_are_safe(tmp_path):
    write_image(tmp_path / "a" / "one.png")
    os.symlink(tmp_path, tmp_path / "a" / "loop")
    os.symlink(tmp_path / "a", tmp_path / "a_again")
    assert relpaths(tmp_path) == ["a/one.png"]


def test_symlinked_folder_and_broken_link(tmp_path):
    outside = tmp_path / "outside"
    write_image(outside / "img.png")
    data = tmp_path / "data"
    data.mkdir()
    os.symlink(outside, data / "linked")
    os.symlink(tmp_path / "missing.png", data / "dangling.png")
    found = {item.relpath: item for item in scan_folder(data)}
    assert set(found) == {"linked/img.png", "dangling.png"}
    assert found["dangling.png"].broken_link and not found["linked/img.png"].broken_link


def test_labels_from_first_level_folder():
    assert label_of("cats/a.png") == "cats"
    assert label_of("cats/sub/a.png") == "cats"
    assert label_of("a.png") is None
    assert kind_of("x.Mkv") == "video" and kind_of("x.gif") is None


@pytest.fixture()
def deep(tmp_path):
    """1,200 nested folders below ``tmp_path/deep``, removed afterwards (pytest cannot)."""
    root = tmp_path / "deep"
    deepest = nested(root, 1200)
    yield root, deepest
    remove_tree(root)


def test_a_deep_tree_is_walked_in_order(deep):
    root, deepest = deep
    write_image(deepest / "bottom.png")
    write_image(root / "d" / "z.png")
    write_image(root / "top.png")
    skipped = []
    found = relpaths(root, skipped=skipped)
    assert found == ["d/" * 1200 + "bottom.png", "d/z.png", "top.png"]
    assert skipped == []


def test_an_unreadable_folder_is_skipped_with_a_reason(tmp_path, monkeypatch):
    write_image(tmp_path / "a" / "one.png")
    write_image(tmp_path / "locked" / "two.png")
    write_image(tmp_path / "z.png")
    real_scandir = os.scandir

    def scandir(path):
        if os.fspath(path) == os.fspath(tmp_path / "locked"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    skipped = []
    assert relpaths(tmp_path, skipped=skipped) == ["a/one.png", "z.png"]
    assert skipped == [Skipped("locked", "permission denied")]


def test_a_path_over_the_system_limit_is_skipped_with_a_reason(tmp_path):
    write_image(tmp_path / "ok.png")
    name = "n" * 200
    fd = os.open(tmp_path, os.O_RDONLY)
    depth = 0
    try:
        while depth * (len(name) + 1) < 4300:
            os.mkdir(name, dir_fd=fd)
            inner = os.open(name, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd, depth = inner, depth + 1
    finally:
        os.close(fd)
    skipped = []
    assert relpaths(tmp_path, skipped=skipped) == ["ok.png"]
    assert len(skipped) == 1 and skipped[0].reason == "path too long for the system"
    assert skipped[0].relpath.startswith(f"{name}/{name}/")


def test_names_that_are_not_utf8_keep_their_bytes(tmp_path):
    raw = os.fsencode(tmp_path) + b"/caf\xe9.png"
    write_image(tmp_path / os.fsdecode(raw))
    assert [os.fsencode(p) for p in relpaths(tmp_path)] == [b"caf\xe9.png"]
    assert readable_name(os.fsdecode(b"caf\xe9.png")) == "caf\ufffd.png"


def test_unread_files_come_without_a_stat_and_the_others_with_theirs(tmp_path):
    for name in ["a/new.jpg", "a/new.JPEG", "a/known.jpg", "a/new.png"]:
        write_image(tmp_path / name, format="JPEG" if "jp" in name.lower() else "PNG")
    os.symlink(tmp_path / "a" / "new.jpg", tmp_path / "a" / "link.jpg")
    os.symlink(tmp_path / "gone.jpg", tmp_path / "a" / "dangling.jpg")
    unread = Unread(known={"a/known.jpg"}, suffixes=frozenset({".jpg", ".jpeg"}))
    found = {item.relpath: item for item in scan_folder(tmp_path, unread=unread)}
    assert {p for p, item in found.items() if not item.stat_read} == {"a/new.jpg", "a/new.JPEG"}
    assert found["a/new.jpg"].size == found["a/new.jpg"].mtime_ns == NOT_READ
    stat = (tmp_path / "a" / "known.jpg").stat()
    assert (found["a/known.jpg"].size, found["a/known.jpg"].mtime_ns) == (
        stat.st_size,
        stat.st_mtime_ns,
    )
    assert found["a/new.png"].stat_read and found["a/link.jpg"].stat_read  # links: always
    assert found["a/dangling.jpg"].broken_link
