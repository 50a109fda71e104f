"""The evaluation view's jobs: each opens its own Project on the worker thread."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.evaluation.evaluate import Evaluation, evaluation_job, stored_summary
from app.core.jobs import CancelToken, Job, Progress
from app.core.store.objects import AnnotationSource, ground_truth, sources
from app.core.store.project import Project


@dataclass(frozen=True)
class SourcesInfo:
    """The project's annotation sources, its ground truth, and the last stored evaluation."""

    sources: list[AnnotationSource]
    truth: str | None
    summary: dict[str, Any] | None


def read_sources_job(project_dir: Path, cancel: CancelToken) -> Job[SourcesInfo]:
    yield Progress("evaluation", 0, None, "reading the annotation sources")
    with Project.open(project_dir) as project:
        truth = ground_truth(project)
        return SourcesInfo(
            sources(project), None if truth is None else truth.name, stored_summary(project)
        )


def evaluate_job(
    project_dir: Path, gt: str | None, predictions: str | None, iou: float, cancel: CancelToken
) -> Job[Evaluation]:
    """Evaluate and store the per-image scores (see :mod:`app.core.evaluation.evaluate`)."""
    with Project.open(project_dir) as project:
        return (yield from evaluation_job(project, cancel, gt, predictions, iou))
