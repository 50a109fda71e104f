"""What the Issues tab runs on its worker: the checks (scores, selections, example thumbnails)
and the clean subset. Each opens its own project on the worker thread."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.core.jobs import CancelToken, Job, Progress
from app.core.quality.checks import CHECKS
from app.core.quality.run import (
    SELECTION_PREFIX,
    clean_sample_ids,
    issues_job,
    save_issue_selections,
    unmeasured_note,
)
from app.core.store.project import Project
from app.core.store.selections import save_selection

EXAMPLES = 6  # thumbnails per check in its strip


@dataclass
class CheckSummary:
    """One check as the tab shows it: ``scores`` per sample of ``ids`` (the report's rows),
    ``flagged`` rows worst first, and the thumbnails of the first :data:`EXAMPLES`."""

    name: str
    threshold: float | None
    direction: str
    scores: np.ndarray
    flagged: np.ndarray
    examples: list[tuple[int, str, bytes | None]]  # (sample id, name, JPEG bytes)
    note: str = ""


@dataclass
class IssuesSummary:
    ids: np.ndarray
    checks: dict[str, CheckSummary] = field(default_factory=dict)
    note: str = ""


def run_checks_job(
    project_dir: Path,
    names: list[str] | None,
    thresholds: dict[str, float],
    cancel: CancelToken,
) -> Job[IssuesSummary]:
    """Run checks ``names`` (None: all), store their scores and selections, read examples."""
    with Project.open(project_dir) as project:
        report = yield from issues_job(project, names, thresholds, cancel)
        yield Progress("issues", 0, None, "saving the selections of what was found")
        save_issue_selections(project, report)
        summary = IssuesSummary(report.stats.ids)
        if report.unmeasured:
            summary.note = unmeasured_note(report.unmeasured)
        for name, result in report.results.items():
            rows = result.worst_first()
            shown = rows[:EXAMPLES]
            ids = report.stats.ids[shown].tolist()
            thumbs = project.thumbs.get_many(ids)
            examples = [
                (i, report.stats.names[r], thumbs.get(i)) for i, r in zip(ids, shown, strict=True)
            ]
            summary.checks[name] = CheckSummary(
                name, result.threshold, result.direction, result.scores, rows, examples, result.note
            )
    return summary


def clean_subset_job(project_dir: Path, tag: str, name: str, cancel: CancelToken) -> Job[int]:
    """Save the usable samples without ``tag`` as selection ``name``; return its size."""
    yield Progress("clean subset", 0, None, f"samples without {tag!r}")
    with Project.open(project_dir) as project:
        ids = clean_sample_ids(project, tag)
        cancel.raise_if_cancelled()
        save_selection(project, name, ids, {"clean": True, "without_tag": tag}, overwrite=True)
    return len(ids)


def selection_of(check: str) -> str:
    return SELECTION_PREFIX + check


def adjustable(check: str) -> bool:
    """Whether moving the threshold re-flags from the stored scores alone (no re-run)."""
    return check in CHECKS and check not in ("near_duplicates", "exact_duplicates", "label_errors")
