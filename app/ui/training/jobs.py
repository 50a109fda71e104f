"""The panel's jobs and project reads. Jobs open their own Project on the worker thread."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from app.core.data.images import load_rgb
from app.core.data.video import VideoReader
from app.core.jobs import CancelToken, Job, Progress
from app.core.ssl.config import TrainConfig
from app.core.ssl.export import export_backbone
from app.core.ssl.runs import RunRecord, train_runs
from app.core.ssl.trained import trained_backbone
from app.core.ssl.trainer import TrainResult, train_job
from app.core.store.project import Project, SampleRow

PREVIEW_DECODE_SIDE = 512
RUN_STAGES = ("training", "filling memory bank")
"""Stages the trainer reports only once its run row exists."""


@dataclass
class TrainSession:
    """What the GUI learns of a training job beyond its progress: the id of its run.

    ``run_id`` is written on the worker thread once the run exists and read on the GUI thread
    after the runner's signals (which order the two).
    """

    config: TrainConfig | None
    resume: int | None = None
    run_id: int | None = None


def train_session_job(
    project_dir: Path, session: TrainSession, cancel: CancelToken
) -> Job[TrainResult]:
    """Train ``session.config`` (or resume ``session.resume``), recording the run id."""
    session.run_id = session.resume
    with Project.open(project_dir) as project:
        known = {record.id for record in train_runs(project)}
        job = train_job(project, session.config, cancel, resume=session.resume)
        try:
            return (yield from _tracking_run(project, job, session, known))
        finally:
            job.close()
            if session.run_id is None:
                session.run_id = _new_run_id(project, known)


def _tracking_run(
    project: Project, job: Job[TrainResult], session: TrainSession, known: set[int]
) -> Iterator[Progress]:
    while True:
        try:
            progress = next(job)
        except StopIteration as stop:
            return stop.value
        if session.run_id is None and progress.stage in RUN_STAGES:
            session.run_id = _new_run_id(project, known)
        yield progress


def _new_run_id(project: Project, known: set[int]) -> int | None:
    new = [record.id for record in train_runs(project) if record.id not in known]
    return max(new) if new else None


def export_job(
    project_dir: Path, run_id: int, format: str, path: Path, cancel: CancelToken | None = None
) -> Job[Path]:
    """Export run ``run_id``'s backbone to ``path`` in ``format``."""
    yield Progress("export", 0, None, f"loading run {run_id}")
    with Project.open(project_dir) as project:
        backbone, record = trained_backbone(project, run_id)
    yield Progress("export", 0, None, f"writing {format}")
    return export_backbone(backbone, path, format, record.config.image_size)


@dataclass(frozen=True)
class ProjectFacts:
    """What the panel needs of a project besides its runs."""

    samples: int
    labelled: bool


def read_facts(project_dir: Path) -> ProjectFacts:
    with Project.open(project_dir) as project:
        return ProjectFacts(project.sample_count(status="ok"), bool(project.label_counts()))


def read_runs(project_dir: Path) -> list[RunRecord]:
    """The project's training runs, oldest first (a short read on the calling thread)."""
    with Project.open(project_dir) as project:
        return train_runs(project)


def preview_sample(
    project_dir: Path, sample_id: int | None
) -> tuple[SampleRow, Image.Image] | None:
    """Sample ``sample_id`` if usable, else the project's first usable sample, decoded."""
    with Project.open(project_dir) as project:
        row = None
        if sample_id is not None:
            row = project.samples_by_id([sample_id]).get(sample_id)
        if row is None or row.status != "ok":
            rows = project.samples(status="ok")
            row = rows[0] if rows else None
        if row is None:
            return None
        path = project.dataset_root / row.relpath
    if row.frame is None:
        return row, load_rgb(path, draft_size=(PREVIEW_DECODE_SIDE, PREVIEW_DECODE_SIDE))
    with VideoReader(path) as reader:
        frame = reader.read_frame(row.frame)
    return row, frame.convert("RGB")
