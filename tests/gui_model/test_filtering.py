"""Filtering and sorting table rows: masks and sorts over numpy columns."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from app.core.ingest.indexing import index_job
from app.core.jobs import run_job
from app.core.store.catalog import SampleTable, load_table, scores, tag_members
from app.core.store.project import Project
from app.gui_model.filtering import apply_filter, members_by_name
from app.gui_model.state import Filter
from tests.factories import make_dataset, write_clip


def synthetic(relpaths: list[str], labels: list[str | None], broken: list[bool]) -> SampleTable:
    """One image per relpath (ids 10, 11, ...), no database."""
    n = len(relpaths)
    names = sorted({label for label in labels if label is not None})
    codes = [names.index(label) if label is not None else -1 for label in labels]
    i32 = np.int32
    return SampleTable(
        ids=np.arange(10, 10 + n, dtype=np.int64),
        file_index=np.arange(n, dtype=i32),
        relpaths=relpaths,
        frame=np.full(n, -1, i32),
        n_frames=np.zeros(n, i32),
        label_code=np.array(codes, dtype=i32),
        labels=names,
        broken=np.array(broken, dtype=bool),
        missing=np.zeros(n, dtype=bool),
        width=np.full(n, 8, i32),
        height=np.full(n, 8, i32),
    )


@pytest.fixture
def table() -> SampleTable:
    return synthetic(
        ["a/Cat1.png", "a/dog2.png", "b/cat3.png", "b/x.png", "top.png"],
        ["a", "a", "b", "b", None],
        [False, False, False, True, False],
    )


def test_no_filter_keeps_table_order(table: SampleTable) -> None:
    assert apply_filter(table, Filter(), {}).tolist() == [0, 1, 2, 3, 4]


def test_text_is_case_insensitive_substring(table: SampleTable) -> None:
    assert apply_filter(table, Filter(text="CAT"), {}).tolist() == [0, 2]
    assert apply_filter(table, Filter(text="zzz"), {}).tolist() == []


def test_label_folder_broken_tag_selection(table: SampleTable) -> None:
    assert apply_filter(table, Filter(labels=frozenset({"b"})), {}).tolist() == [2, 3]
    assert apply_filter(table, Filter(folder="a"), {}).tolist() == [0, 1]
    assert apply_filter(table, Filter(folder=""), {}).tolist() == [4]
    assert apply_filter(table, Filter(broken=True), {}).tolist() == [3]
    assert apply_filter(table, Filter(broken=False), {}).tolist() == [0, 1, 2, 4]
    tags = {"keep": np.array([11, 14])}
    assert apply_filter(table, Filter(tag="keep"), tags).tolist() == [1, 4]
    assert apply_filter(table, Filter(tag="gone"), tags).tolist() == []
    picked = {"best": np.array([10, 12])}
    assert apply_filter(table, Filter(selection="best"), {}, picked).tolist() == [0, 2]
    both = Filter(tag="keep", broken=False, text="top")
    assert apply_filter(table, both, tags).tolist() == [4]


def test_sort_by_label_and_score_with_missing_last(table: SampleTable) -> None:
    by_label = Filter(sort="label", descending=True)
    assert apply_filter(table, by_label, {}).tolist() == [2, 3, 0, 1, 4]
    assert apply_filter(table, Filter(sort="name", descending=True), {}).tolist() == [4, 3, 2, 1, 0]
    values = np.array([0.5, np.nan, 0.1, 0.9, np.nan])
    assert apply_filter(table, Filter(sort="q"), {}, None, values).tolist() == [2, 0, 3, 1, 4]
    down = Filter(sort="q", descending=True)
    assert apply_filter(table, down, {}, None, values).tolist() == [3, 0, 2, 1, 4]


def test_on_an_indexed_project_with_a_video(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "data", {"cats": 2, "dogs": 2})
    write_clip(root / "clips" / "walk.mp4", frames=12)
    with Project.for_dataset(root) as project:
        run_job(index_job(project))
        table = load_table(project)
        keep = project.create_tag("keep")
        project.add_tag(keep, table.ids[:2].tolist())
        with project.db:
            project.db.executemany(
                "INSERT INTO metadata VALUES (?, 'size', ?)",
                [(int(i), float(-k)) for k, i in enumerate(table.ids)],
            )
        by_name = members_by_name({t.id: t.name for t in project.tags()}, tag_members(project))
        values = scores(project, "size", table)
    names = [table.name(int(r)) for r in apply_filter(table, Filter(text="WALK-1"), {})]
    assert names == ["clips/walk-10-mp4.png", "clips/walk-11-mp4.png"]
    assert len(apply_filter(table, Filter(text="mp4"), {})) == 12
    assert apply_filter(table, Filter(tag="keep"), by_name).tolist() == [0, 1]
    by_size = apply_filter(table, Filter(sort="size"), by_name, None, values)
    assert by_size.tolist() == list(range(len(table)))[::-1]


def test_a_million_rows_stay_fast() -> None:
    n = 1_000_000
    table = synthetic(
        [f"class{i % 100:03d}/img{i:07d}.jpg" for i in range(n)],
        [f"class{i % 100:03d}" for i in range(n)],
        (np.arange(n) % 1000 == 0).tolist(),
    )
    for flt in (
        Filter(text="IMG00123"),
        Filter(sort="label", descending=True),
        Filter(broken=False),
    ):
        started = time.perf_counter()
        shown = apply_filter(table, flt, {})
        assert time.perf_counter() - started < 1.0, flt
        assert len(shown)
    assert len(apply_filter(table, Filter(text="img00123"), {})) == 100


def test_usable_only_hides_missing_rows_and_the_other_choice_shows_them(table) -> None:
    table.missing[1] = True
    assert apply_filter(table, Filter(broken=False), {}).tolist() == [0, 2, 4]
    assert apply_filter(table, Filter(broken=True), {}).tolist() == [1, 3]
    assert apply_filter(table, Filter(), {}).tolist() == [0, 1, 2, 3, 4]
