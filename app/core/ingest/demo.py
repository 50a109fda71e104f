"""The bundled demo dataset and its project in the user's data folder."""

from __future__ import annotations

from pathlib import Path

from app.core.errors import SieveError
from app.core.ingest.indexing import index_job
from app.core.jobs import CancelToken, Job
from app.core.paths import resources_dir, user_data_dir
from app.core.store.project import Project


def demo_dataset_dir() -> Path:
    folder = resources_dir() / "demo"
    if not folder.is_dir():
        raise SieveError(f"the demo dataset is missing from this installation ({folder})")
    return folder


def demo_project_dir() -> Path:
    return user_data_dir() / "demo-project"


def demo_project_job(cancel: CancelToken | None = None) -> Job[Path]:
    """Create (or bring up to date) the demo project; return its folder."""
    with Project.create(demo_project_dir(), demo_dataset_dir()) as project:
        yield from index_job(project, cancel=cancel)
        return project.path
