"""Training runs as rows of the project store's ``runs`` table (kind ``train``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.errors import SieveError
from app.core.ssl.config import TrainConfig
from app.core.store.project import Project

KIND = "train"
FINISHED = "finished"


@dataclass
class RunRecord:
    """One training run: its config, status and metrics (``epochs_done``, ``history``, ...)."""

    id: int
    config: TrainConfig
    status: str
    metrics: dict[str, Any] = field(default_factory=dict)
    checkpoint: Path | None = None

    @property
    def epochs_done(self) -> int:
        return int(self.metrics.get("epochs_done", 0))


def create_run(project: Project, config: TrainConfig) -> RunRecord:
    run_id = project.add_run(KIND, config.to_dict())
    project.update_run(run_id, status="created", metrics={"epochs_done": 0, "history": []})
    return RunRecord(run_id, config, "created", {"epochs_done": 0, "history": []})


def train_runs(project: Project) -> list[RunRecord]:
    """Training runs, oldest first."""
    records = []
    for row in project.runs():
        if row["kind"] != KIND:
            continue
        checkpoint = project.path / row["checkpoint"] if row["checkpoint"] else None
        config = TrainConfig.from_dict(row["config"])
        records.append(RunRecord(row["id"], config, row["status"], row["metrics"], checkpoint))
    return records


def get_run(project: Project, run_id: int) -> RunRecord:
    for record in train_runs(project):
        if record.id == run_id:
            return record
    known = ", ".join(str(r.id) for r in train_runs(project)) or "none yet"
    raise SieveError(f"no training run {run_id} in {project.path} (runs: {known})")


def newest_finished_run(project: Project) -> RunRecord:
    """The run later commands use when no ``--run`` is given."""
    finished = [r for r in train_runs(project) if r.status == FINISHED]
    if not finished:
        raise SieveError(f"no finished training run in {project.path}: run 'sieve train' first")
    return finished[-1]


def run_folder(project: Project, run_id: int) -> Path:
    return project.checkpoints_dir / f"run-{run_id}"


def check_resumable(record: RunRecord) -> None:
    """Refuse to resume a finished run, one without a checkpoint, or one still running."""
    if record.status == FINISHED:
        raise SieveError(f"run {record.id} already finished ({record.epochs_done} epochs)")
    if record.checkpoint is None or not record.checkpoint.exists():
        raise SieveError(f"run {record.id} has no checkpoint yet: start a new run instead")
    pid = record.metrics.get("pid")
    if record.status == "running" and pid and pid != os.getpid() and _alive(pid):
        raise SieveError(f"run {record.id} is still running (process {pid})")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
