"""The jobs behind File > Open: they open their own Project on the worker thread.

Each returns a :class:`LoadedProject`, plain data the GUI can show without touching SQLite.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.core.demo import demo_project_job
from app.core.indexing import index_job
from app.core.jobs import CancelToken, Job, Progress
from app.core.store.project import Project, SampleRow
from app.core.thumbnails import thumbnail_job


@dataclass(frozen=True)
class LoadedProject:
    """What the window shows of an open project."""

    path: Path
    dataset_root: Path
    samples: list[SampleRow]
    broken_files: int
    labels: int

    @property
    def usable(self) -> int:
        return sum(row.status == "ok" for row in self.samples)


def load_project(project: Project) -> Job[LoadedProject]:
    """Read what the window shows (on the thread that owns ``project``)."""
    yield Progress("load", 0, None, "reading samples")
    samples = project.samples()
    return LoadedProject(
        path=project.path,
        dataset_root=project.dataset_root,
        samples=samples,
        broken_files=len(project.broken()),
        labels=len(project.label_counts()),
    )


def open_folder_job(
    folder: str | Path, project_dir: str | Path | None = None, cancel: CancelToken | None = None
) -> Job[LoadedProject]:
    """Index a dataset folder into its project (incrementally), then load it."""
    with Project.for_dataset(folder, project_dir) as project:
        yield from index_job(project, cancel=cancel)
        return (yield from load_project(project))


def open_project_job(path: str | Path, cancel: CancelToken | None = None) -> Job[LoadedProject]:
    """Load an existing project, given its folder or its dataset folder."""
    with Project.open(path) as project:
        return (yield from load_project(project))


def open_demo_job(cancel: CancelToken | None = None) -> Job[LoadedProject]:
    """Create or update the bundled demo project, then load it."""
    path = yield from demo_project_job(cancel=cancel)
    return (yield from open_project_job(path, cancel))


def fill_thumbnails_job(project_dir: Path, cancel: CancelToken | None = None) -> Job[int]:
    """Make the thumbnails the project still lacks (video frames, a deleted cache)."""
    with Project.open(project_dir) as project:
        return (yield from thumbnail_job(project, cancel=cancel))
