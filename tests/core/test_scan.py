"""Scanning a dataset folder: which files, in what order, with which labels."""

from __future__ import annotations

import os

from app.core.data.scan import kind_of, label_of, scan_folder
from tests.factories import write_image


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
