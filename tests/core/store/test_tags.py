"""Project.tag and Project.restore_tag: what the GUI's undo of a tag delete relies on."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.errors import SieveError
from app.core.ingest.indexing import index_job
from app.core.jobs import run_job
from app.core.store.project import Project, Tag
from tests.factories import make_dataset


@pytest.fixture
def project(tmp_path: Path):
    root = make_dataset(tmp_path / "data", {"cats": 3, "dogs": 3}, size=(16, 12))
    with Project.for_dataset(root) as project:
        run_job(index_job(project))
        yield project


def sample_ids(project: Project) -> list[int]:
    return [sample.id for sample in project.samples()]


def test_tag_reads_one_tag_with_its_count(project: Project) -> None:
    ids = sample_ids(project)
    tag_id = project.create_tag("keep", "#112233")
    project.add_tag(tag_id, ids[:4])
    assert project.tag(tag_id) == Tag(tag_id, "keep", "#112233", 4)
    assert project.tag(tag_id + 100) is None


def test_restore_tag_brings_back_id_name_colour_and_members(project: Project) -> None:
    ids = sample_ids(project)
    first = project.create_tag("first")
    tag_id = project.create_tag("gone", "#abcdef")
    project.add_tag(tag_id, [ids[1], ids[3], ids[5]])
    project.delete_tag(tag_id)
    project.create_tag("later")  # AUTOINCREMENT has moved past the deleted id
    assert project.tag(tag_id) is None and project.tagged(tag_id) == []

    project.restore_tag(tag_id, "gone", "#abcdef", [ids[5], ids[1], ids[3]])

    assert project.tag(tag_id) == Tag(tag_id, "gone", "#abcdef", 3)
    assert project.tagged(tag_id) == sorted([ids[1], ids[3], ids[5]])
    assert project.tags_of(ids[1]) == ["gone"]
    assert project.tagged(first) == []
    reopened = Project.open(project.path)
    try:
        assert reopened.tagged(tag_id) == sorted([ids[1], ids[3], ids[5]])
    finally:
        reopened.close()


def test_restore_tag_without_members(project: Project) -> None:
    tag_id = project.create_tag("empty")
    project.delete_tag(tag_id)
    project.restore_tag(tag_id, "empty", "#4e79a7")
    assert project.tag(tag_id) == Tag(tag_id, "empty", "#4e79a7", 0)


def test_restore_tag_refuses_a_taken_id_or_name_and_changes_nothing(project: Project) -> None:
    ids = sample_ids(project)
    kept = project.create_tag("kept")
    with pytest.raises(SieveError, match="taken"):
        project.restore_tag(kept, "other", "#000000", ids)
    with pytest.raises(SieveError, match="taken"):
        project.restore_tag(kept + 50, "kept", "#000000", ids)
    assert [tag.name for tag in project.tags()] == ["kept"]
    assert project.tagged(kept) == [] and project.tagged(kept + 50) == []
