"""Test-wide setup: Qt offscreen, per-test user data folder, a small embedded project."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from app.core.ingest.indexing import IndexOptions, index_job  # noqa: E402
from app.core.jobs import CancelToken, run_job  # noqa: E402
from app.core.store.embedding_sets import create_embedding_set, finish_embedding_set  # noqa: E402
from app.core.store.project import Project  # noqa: E402
from tests.factories import make_dataset  # noqa: E402


@pytest.fixture(autouse=True)
def _user_data_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Keep the demo project and logs of each test out of the real home folder."""
    monkeypatch.setenv("SIEVE_DATA_DIR", str(tmp_path_factory.mktemp("userdata")))


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
