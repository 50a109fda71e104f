"""Objects for the views: the per-sample index, the class and count filter, class histograms and
class colours, over objects stored in a real project."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.core.ingest.indexing import index_job
from app.core.jobs import run_job
from app.core.store.catalog import load_table
from app.core.store.objects import NewObject, object_arrays, replace_source
from app.core.store.project import Project
from app.gui_model.class_colours import PALETTE, class_rgb
from app.gui_model.object_filters import ObjectFilter, ObjectIndex, filter_rows
from tests.factories import make_dataset

# sample position -> objects (label, box) on it; sample 4 and 5 have none
LAYOUT = {
    0: [("cat", (0, 0, 10, 10)), ("cat", (5, 5, 10, 10)), ("dog", (1, 1, 4, 4))],
    1: [("dog", (2, 2, 8, 8))],
    2: [("bird", (0, 0, 32, 24))],
    3: [("cat", (16, 12, 8, 6))] * 4,
}


@pytest.fixture()
def project(tmp_path: Path):
    root = make_dataset(tmp_path / "data", {"a": 6}, size=(32, 24))
    with Project.for_dataset(root) as project:
        run_job(index_job(project))
        ids = [row.id for row in project.samples()]
        objects = [
            NewObject(ids[pos], label, *box)
            for pos, items in LAYOUT.items()
            for label, box in items
        ]
        replace_source(project, "ground_truth", "ground_truth", "coco", objects)
        yield project


@pytest.fixture()
def index(project: Project) -> ObjectIndex:
    return ObjectIndex(object_arrays(project, 1), "ground_truth")


def ids_of(project: Project) -> np.ndarray:
    return np.array([row.id for row in project.samples()], np.int64)


def test_objects_are_grouped_by_sample(project: Project, index: ObjectIndex) -> None:
    ids = ids_of(project)
    assert index.counts_for(ids).tolist() == [3, 1, 1, 4, 0, 0]
    assert index.counts_for(ids, frozenset({"cat"})).tolist() == [2, 0, 0, 4, 0, 0]
    span = index.span(int(ids[0]))
    assert sorted(index.arrays.labels[span].tolist()) == sorted(
        index.classes.index(label) for label, _ in LAYOUT[0]
    )
    assert index.span(int(ids[4])) == slice(0, 0)


def test_class_filter_keeps_samples_with_an_object_of_a_chosen_class(
    project: Project, index: ObjectIndex
) -> None:
    ids = ids_of(project)
    rows = np.arange(len(ids))
    cats = filter_rows(ids, rows, ObjectFilter(classes=frozenset({"cat"})), index)
    assert cats.tolist() == [0, 3]
    either = filter_rows(ids, rows, ObjectFilter(classes=frozenset({"dog", "bird"})), index)
    assert either.tolist() == [0, 1, 2]
    assert filter_rows(ids, rows, ObjectFilter(classes=frozenset({"zebra"})), index).size == 0


def test_count_filter_bounds_the_number_of_objects(project: Project, index: ObjectIndex) -> None:
    ids = ids_of(project)
    rows = np.arange(len(ids))[::-1]  # the filter keeps the given order
    assert filter_rows(ids, rows, ObjectFilter(min_count=2), index).tolist() == [3, 0]
    assert filter_rows(ids, rows, ObjectFilter(max_count=0), index).tolist() == [5, 4]
    between = ObjectFilter(min_count=1, max_count=3)
    assert filter_rows(ids, rows, between, index).tolist() == [2, 1, 0]
    cats = ObjectFilter(classes=frozenset({"cat"}), min_count=3)  # counts only the chosen classes
    assert filter_rows(ids, rows, cats, index).tolist() == [3]


def test_an_inactive_filter_or_a_source_without_objects(project: Project) -> None:
    ids = ids_of(project)
    rows = np.arange(len(ids))
    assert filter_rows(ids, rows, ObjectFilter(), None) is rows
    assert filter_rows(ids, rows, ObjectFilter(classes=frozenset({"cat"})), None).size == 0
    assert filter_rows(ids, rows, ObjectFilter(max_count=0), None).tolist() == rows.tolist()


def test_histogram_counts_the_objects_of_the_given_samples(
    project: Project, index: ObjectIndex
) -> None:
    ids = ids_of(project)
    assert index.histogram(ids) == {"cat": 6, "dog": 2, "bird": 1}
    assert index.histogram(ids[[0, 2]]) == {"cat": 2, "bird": 1, "dog": 1}
    assert index.histogram(ids[[2, 0]]) == {"cat": 2, "bird": 1, "dog": 1}  # any order
    assert list(index.histogram(ids[[0, 2]])) == ["cat", "bird", "dog"]  # most first, then name
    assert index.histogram(ids[[4, 5]]) == {}
    assert index.histogram(np.empty(0, np.int64)) == {}


def test_boxes_as_fractions_of_their_image(project: Project, index: ObjectIndex) -> None:
    table = load_table(project)
    index.normalise(table.ids, table.width, table.height)
    span = index.span(int(ids_of(project)[2]))
    assert index.unit_boxes is not None
    assert index.unit_boxes[span].tolist() == [[0.0, 0.0, 1.0, 1.0]]
    assert np.allclose(index.aspects, 32 / 24)
    index.normalise(table.ids, np.zeros_like(table.width), table.height)  # sizes unknown
    assert np.isnan(index.unit_boxes).all()


def test_class_colours_are_stable_and_from_the_palette() -> None:
    assert class_rgb("cat") == class_rgb("cat")
    assert class_rgb("cat") in PALETTE
    assert len({class_rgb(name) for name in ("cat", "dog", "bird", "car", "person")}) >= 3
