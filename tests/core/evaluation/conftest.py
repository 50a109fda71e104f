"""A small indexed project whose samples carry generated ground truth and predictions."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.ingest.indexing import IndexOptions, index_job
from app.core.jobs import CancelToken, run_job
from app.core.store.project import Project
from tests.factories import make_dataset


@pytest.fixture()
def project(tmp_path: Path):
    """12 images of 100 x 80 pixels, indexed; yields the open project."""
    root = make_dataset(tmp_path / "data", {"a": 6, "b": 6}, size=(100, 80))
    project = Project.for_dataset(root)
    run_job(index_job(project, IndexOptions(), CancelToken()))
    yield project
    project.close()


def sample_ids(project: Project) -> list[int]:
    return sorted(row.id for row in project.samples())
