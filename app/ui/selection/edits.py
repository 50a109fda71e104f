"""Quick edits of saved selections and tags, each on a short-lived Project of its own."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.core.errors import SieveError
from app.core.store.project import Project
from app.core.store.selections import delete_selection, get_selection, save_selection


def rename_selection(project_dir: Path, old: str, new: str) -> str:
    """Save ``old`` under ``new`` (refused if taken) with its members, scores and strategy,
    then delete ``old``; returns the new name."""
    new = new.strip()
    if not new:
        raise SieveError("a selection needs a name")
    if new == old:
        return new
    with Project.open(project_dir) as project:
        saved = get_selection(project, old)
        save_selection(project, new, saved.members, saved.strategy, saved.scores)
        delete_selection(project, old)
    return new


def remove_selection(project_dir: Path, name: str) -> None:
    with Project.open(project_dir) as project:
        delete_selection(project, name)


def tag_samples(project_dir: Path, tag: str, sample_ids: np.ndarray) -> int:
    """Put ``tag`` (created when missing) on the samples; returns how many it now holds."""
    tag = tag.strip()
    if not tag:
        raise SieveError("a tag needs a name")
    with Project.open(project_dir) as project:
        tag_id = project.tag_id(tag)
        if tag_id is None:
            tag_id = project.create_tag(tag)
        project.add_tag(tag_id, [int(i) for i in sample_ids])
        return len(project.tagged(tag_id))
