"""Exporting a subset as a list of file names."""

from __future__ import annotations

import pytest

from app.core.errors import SieveError
from app.core.export import export_filenames


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
