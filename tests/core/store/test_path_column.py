"""PathColumn: a sequence of paths the cycle collector does not walk."""

from __future__ import annotations

import gc
from bisect import bisect_left
from pathlib import Path

import pytest

from app.core.ingest.indexing import index_job
from app.core.jobs import run_job
from app.core.store import catalog, path_column
from app.core.store.catalog import load_table, split_paths
from app.core.store.path_column import PathColumn
from app.core.store.project import Project
from tests.factories import make_dataset

PATHS = ["a/0.jpg", "a/1.jpg", "b/0.jpg", "café/2.jpg", "raw\udcff.jpg"]


def test_the_collector_walks_one_array_not_every_path() -> None:
    paths = [f"d{i // 100:03d}/{i:06d}.jpg" for i in range(10_000)]
    column = PathColumn(paths)
    assert len(gc.get_referents(paths)) == 10_000  # a list: every path visited
    walked = [r for r in gc.get_referents(column) if r is not PathColumn]  # and its class
    assert len(walked) == 1 and not gc.is_tracked(walked[0])  # one array, not walked further


def test_a_column_reads_as_the_list_it_was_made_from() -> None:
    column = PathColumn(PATHS)
    assert len(column) == 5 and column and not PathColumn()
    assert column[0] == "a/0.jpg" and column[-1] == "raw\udcff.jpg"
    assert column[1:3] == ["a/1.jpg", "b/0.jpg"] and isinstance(column[1:3], list)
    assert list(column) == PATHS and column == PATHS and column == PathColumn(PATHS)
    assert column != PATHS[:-1] and column != ["x"] * 5
    assert "b/0.jpg" in column and "b/1.jpg" not in column and "a" not in PathColumn()
    assert bisect_left(column, "b/") == 2
    with pytest.raises(TypeError):
        hash(column)


def test_joined_columns_keep_their_order_a_piece_at_a_time(monkeypatch) -> None:
    monkeypatch.setattr(path_column, "JOIN_PIECE", 2)
    joined = PathColumn(PATHS[:3]) + PathColumn(PATHS[3:])
    assert joined == PATHS and isinstance(joined, PathColumn)
    assert PathColumn(PATHS) + [] == PATHS and PathColumn() + PATHS == PATHS


def test_a_column_is_filled_from_pieces_of_the_count_it_was_told() -> None:
    assert PathColumn.from_pieces([PATHS[:2], PATHS[2:]], 5) == PATHS
    with pytest.raises(ValueError, match="4 paths given for a column of 5"):
        PathColumn.from_pieces([PATHS[:4]], 5)


def test_paths_split_into_a_column_as_into_a_list(monkeypatch) -> None:
    monkeypatch.setattr(catalog, "PIECE_CHARS", 8)
    data = "\x00".join(PATHS + ["é" * 9]).encode("utf-8", "surrogateescape")
    assert split_paths(data, "\x00") == data.decode("utf-8", "surrogateescape").split("\x00")
    assert split_paths(data, "\x00") == PATHS + ["é" * 9]
    assert split_paths(b"", "\x00") == [""]
    assert split_paths(data, "\x00", len(PATHS) + 1) == PATHS + ["é" * 9]
    with pytest.raises(ValueError, match="paths given"):
        split_paths(data, "\x00", len(PATHS))  # a count that disagrees is refused


def test_a_loaded_table_holds_its_paths_in_a_column(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "data", {"b": 1, "a": 2})
    project = Project.for_dataset(root)
    run_job(index_job(project))
    table = load_table(project)
    project.close()
    assert isinstance(table.relpaths, PathColumn)
    assert table.relpaths == ["a/000.png", "a/001.png", "b/000.png"]
    assert table.name(0) == "a/000.png" and table.folders == ["a", "b"]
