"""Fixtures shared by the core tests: a small indexed project with random embeddings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.core.indexing import IndexOptions, index_job
from app.core.jobs import CancelToken, run_job
from app.core.store.embedding_sets import create_embedding_set, finish_embedding_set
from app.core.store.project import Project
from tests.factories import make_dataset


@pytest.fixture()
def embedded_project(tmp_path: Path):
    """A 12-image project with a finished, active set of random 8-D embeddings."""
    root = make_dataset(tmp_path / "data", {"cats": 6, "dogs": 6}, size=(24, 24))
    project = Project.for_dataset(root)
    run_job(index_job(project, IndexOptions(), CancelToken()))
    ids = np.array([row.id for row in project.samples()], dtype=np.int64)
    vectors = np.random.default_rng(0).standard_normal((len(ids), 8)).astype(np.float32)
    embedding_set = create_embedding_set(project, {"source": "random test vectors"})
    finish_embedding_set(project, embedding_set, ids, vectors)
    yield project, embedding_set
    project.close()
