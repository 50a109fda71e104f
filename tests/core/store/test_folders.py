"""First folders (and labels) of a table's paths, found by runs as a plain loop would find them."""

from __future__ import annotations

import pytest

from app.core.data.scan import label_of
from app.core.store import folders
from app.core.store.folders import folder_columns, joined_folders, labels_of, path_key


def by_loop(relpaths: list[str]) -> tuple[list[str], list[int]]:
    """The folders of ``relpaths`` the plain way: each path's first component ("" at the top)."""
    heads = [p.partition("/")[0] if "/" in p else "" for p in relpaths]
    names = sorted(set(heads))
    return names, [names.index(head) for head in heads]


def same(found: folders.Folders, relpaths: list[str]) -> None:
    names, codes = found
    assert (names, codes.tolist()) == by_loop(relpaths)


def test_folders_of_paths_out_of_order_are_found_by_a_loop() -> None:
    relpaths = ["b/x.jpg", "top.jpg", "a/y.jpg", "b/z/w.jpg", "é/v.jpg", "\udcff/raw.jpg"]
    same(folder_columns(relpaths), relpaths)


def test_folders_of_sorted_paths_found_by_runs_match_a_loop() -> None:
    relpaths = sorted(
        ["a.jpg", "a/x.jpg", "a/y/z.jpg", "a b/x.jpg", "a-c/x.jpg", "a0.jpg", "ab/x.jpg"]
        + ["b.jpg", "c.jpg", "c/x.jpg", "d/x.jpg", "d/y.jpg", "é/v.jpg", "zz.jpg"]
    )
    names, _ = folder_columns(relpaths)
    assert names == ["", "a", "a b", "a-c", "ab", "c", "d", "é"]
    same(folder_columns(relpaths), relpaths)


def test_folders_of_paths_in_byte_order_with_stray_bytes_match_a_loop() -> None:
    """SQLite orders paths by bytes: a stray byte (U+DCFF here) sorts after U+FFFF, unlike in
    str order; such paths still come as runs."""
    relpaths = sorted(
        ["\udcff/raw.jpg", "\udcff/raw2.jpg", "\uffff/x.jpg", "a/x.jpg", "top.jpg"], key=path_key
    )
    same(folder_columns(relpaths), relpaths)


@pytest.mark.parametrize("split", [1, 3, 5])
def test_folders_of_two_runs_joined_match_the_whole(split: int) -> None:
    """An appending read joins the known files' folders with the added ones' (a new folder, or
    files at the top, may sort before the known ones)."""
    relpaths = ["b/1.jpg", "b/2.jpg", "c/1.jpg", "c/2.jpg", "d/1.jpg", "zz.jpg", "a/late.jpg"]
    joined = joined_folders(folder_columns(relpaths[:split]), folder_columns(relpaths[split:]))
    assert joined[0] == ["", "a", "b", "c", "d"]
    same(joined, relpaths)


def test_labels_are_the_first_folders_and_none_at_the_top() -> None:
    relpaths = ["a/1.jpg", "a/b/2.jpg", "c/3.jpg", "top.jpg"]
    labels, per_file = labels_of(folder_columns(relpaths))
    assert labels == ["a", "c"]
    found = [labels[code] if code >= 0 else None for code in per_file]
    assert found == [label_of(path) for path in relpaths]
    labels, per_file = labels_of(folder_columns(["a/1.jpg", "b/2.jpg"]))  # none at the top
    assert labels == ["a", "b"] and per_file.tolist() == [0, 1]
    labels, per_file = labels_of(folder_columns([]))
    assert labels == [] and len(per_file) == 0
