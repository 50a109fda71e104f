"""The panel's jobs: each opens its own Project on the worker thread and returns plain data.

The active-learning core imports torch; it is imported here only when a job runs, so opening the
window stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from app.core.active.probe_fit import ProbeFit, fit_probe_job
from app.core.jobs import CancelToken, Job, Progress
from app.core.store.project import Project

if TYPE_CHECKING:
    from app.core.active.rounds import Round


@dataclass(frozen=True)
class RoundOutcome:
    """A finished round and every round so far (oldest first)."""

    record: Round
    rounds: list[Round]


def load_rounds_job(project_dir: Path, cancel: CancelToken) -> Job[list[Round]]:
    """The recorded rounds of the project, oldest first."""
    yield Progress("rounds", 0, None, "reading the round history")
    from app.core.active.rounds import list_rounds

    with Project.open(project_dir) as project:
        return list_rounds(project)


def fit_job(project_dir: Path, label_tags: list[str] | None, cancel: CancelToken) -> Job[ProbeFit]:
    """Fit the probe and store uncertainty for every sample of the active embedding set."""
    with Project.open(project_dir) as project:
        return (yield from fit_probe_job(project, cancel, label_tags))


def round_job(
    project_dir: Path,
    n: int,
    strategy: str,
    label_tags: list[str] | None,
    cancel: CancelToken,
) -> Job[RoundOutcome]:
    """Run one active-learning round (the picks are tagged by the panel, undoably)."""
    from app.core.active.rounds import active_round_job, list_rounds

    with Project.open(project_dir) as project:
        record = yield from active_round_job(project, n, cancel, strategy, label_tags)
        return RoundOutcome(record, list_rounds(project))
