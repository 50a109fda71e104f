"""The backbone a training run produced, loaded from its checkpoint."""

from __future__ import annotations

from app.core.errors import SieveError
from app.core.ssl.backbones import Backbone, build_backbone
from app.core.ssl.checkpoint import load_checkpoint
from app.core.ssl.runs import RunRecord, get_run, newest_finished_run
from app.core.store.project import Project

PREFIX = "backbone."


def trained_backbone(project: Project, run_id: int | None = None) -> tuple[Backbone, RunRecord]:
    """Run ``run_id``'s backbone (default: the newest finished run), in eval mode on the CPU.

    A stopped run can be used too; its backbone is the last checkpoint's.
    """
    record = get_run(project, run_id) if run_id is not None else newest_finished_run(project)
    if record.checkpoint is None or not record.checkpoint.exists():
        raise SieveError(f"run {record.id} has no checkpoint ({record.status})")
    weights = load_checkpoint(record.checkpoint)["model"]
    state = {key[len(PREFIX) :]: value for key, value in weights.items() if key.startswith(PREFIX)}
    config = record.config
    backbone = build_backbone(config.backbone, None, config.image_size)
    backbone.load_state_dict(state)
    return backbone.eval(), record
