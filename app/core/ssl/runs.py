"""Training runs as rows of the project store's ``runs`` table (kind ``train``).

A run that starts records its owner process in its metrics; listing the runs turns a ``running``
run whose owner is gone (killed, crashed) into ``interrupted``, which can be resumed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.errors import SieveError
from app.core.ssl.config import TrainConfig
from app.core.ssl.process_owner import ProcessOwner
from app.core.store.project import Project

KIND = "train"
FINISHED = "finished"
RUNNING = "running"
INTERRUPTED = "interrupted"
_OWNER_PID = "COALESCE(json_extract(metrics, '$.owner.pid'), json_extract(metrics, '$.pid'))"


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

    @property
    def owner(self) -> ProcessOwner | None:
        return run_owner(self.metrics)


def run_owner(metrics: dict[str, Any]) -> ProcessOwner | None:
    """The process that last ran a run (an older record's bare ``pid``: one on this host)."""
    if "owner" in metrics:
        return ProcessOwner.from_dict(metrics["owner"])
    pid = metrics.get("pid")
    return ProcessOwner(int(pid), ProcessOwner.current().host) if pid else None


def create_run(project: Project, config: TrainConfig) -> RunRecord:
    run_id = project.add_run(KIND, config.to_dict())
    project.update_run(run_id, status="created", metrics={"epochs_done": 0, "history": []})
    return RunRecord(run_id, config, "created", {"epochs_done": 0, "history": []})


def train_runs(project: Project) -> list[RunRecord]:
    """Training runs, oldest first; running ones whose process is gone become interrupted."""
    records = []
    for row in project.runs():
        if row["kind"] != KIND:
            continue
        checkpoint = project.path / row["checkpoint"] if row["checkpoint"] else None
        config = TrainConfig.from_dict(row["config"], check=False)
        status = _status_now(project, row["id"], row["status"], row["metrics"])
        records.append(RunRecord(row["id"], config, status, row["metrics"], checkpoint))
    return records


def mark_interrupted_runs(project: Project) -> list[int]:
    """Store ``interrupted`` for every running training run whose process is gone; return their
    ids (listings that read the store's rows directly, such as ``sieve info``, call this first)."""
    marked = []
    for row in project.runs():
        if row["kind"] != KIND or row["status"] != RUNNING:
            continue
        if _status_now(project, row["id"], row["status"], row["metrics"]) == INTERRUPTED:
            marked.append(row["id"])
    return marked


def _status_now(project: Project, run_id: int, status: str, metrics: dict[str, Any]) -> str:
    """``status``, or ``interrupted`` (stored) for a running run whose owner process is gone.

    The update only applies while the row still names that owner, so a run resumed meanwhile by
    another process keeps its ``running``.
    """
    owner = run_owner(metrics)
    if status != RUNNING or owner is None or not owner.is_gone():
        return status
    with project.db:
        project.db.execute(
            f"UPDATE runs SET status = ?, updated = datetime('now') "
            f"WHERE id = ? AND status = ? AND {_OWNER_PID} = ?",
            (INTERRUPTED, run_id, RUNNING, owner.pid),
        )
    return INTERRUPTED


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
    """Refuse to resume a finished run, one without a checkpoint, or one still running
    (``record`` comes from :func:`train_runs`, so a run whose process is gone is interrupted)."""
    if record.status == FINISHED:
        raise SieveError(f"run {record.id} already finished ({record.epochs_done} epochs)")
    if record.checkpoint is None or not record.checkpoint.exists():
        raise SieveError(f"run {record.id} has no checkpoint yet: start a new run instead")
    owner = record.owner
    if record.status == RUNNING and owner is not None and not owner.is_current():
        raise SieveError(
            f"run {record.id} is still running (process {owner.pid} on {owner.host}); "
            "stop it there first"
        )
