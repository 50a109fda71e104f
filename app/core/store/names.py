"""The one rule that matches names users give (files, flags, imports) to a project's samples.

A sample's name is its path relative to the dataset folder with forward slashes, or lightly's
frame name for a video frame (``clips/walk-007-mp4.png``). A given name matches when, after
:func:`normalise_name`, it equals a sample's name: backslashes become slashes, leading ``./``
segments go, and an absolute path inside the dataset folder becomes relative to it. Nothing
else is guessed: ``../x.png`` or ``.hidden.png`` keep their dots, and case matters.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from app.core.store.project import Project


def normalise_name(name: str, dataset_root: Path | None = None) -> str:
    """``name`` in the form sample names take (see the module docstring)."""
    name = name.replace("\\", "/")
    if dataset_root is not None and os.path.isabs(name):
        try:
            name = Path(name).relative_to(dataset_root).as_posix()
        except ValueError:
            return name
    while name.startswith("./"):
        name = name[2:].lstrip("/")
    return name


@dataclass
class NameMatch:
    """Per given name, its sample id (None when it matches none), and the unmatched names."""

    ids: list[int | None] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)

    @property
    def matched_positions(self) -> list[int]:
        return [position for position, sample_id in enumerate(self.ids) if sample_id is not None]


def sample_ids_by_name(project: Project, status: str | None = None) -> dict[str, int]:
    """Every sample's name -> its id (only samples with ``status`` when given)."""
    return {row.name: row.id for row in project.samples(status=status)}


def match_names(project: Project, names: Sequence[str], status: str | None = None) -> NameMatch:
    """Match ``names`` to sample ids by the one rule (restricted to ``status`` when given)."""
    by_name = sample_ids_by_name(project, status)
    root = project.dataset_root
    match = NameMatch()
    for name in names:
        sample_id = by_name.get(normalise_name(name, root))
        match.ids.append(sample_id)
        if sample_id is None:
            match.unmatched.append(name)
    return match


def duplicated(names: Iterable[str]) -> list[str]:
    """Names given more than once (normalised), in first-seen order."""
    seen: set[str] = set()
    repeated: dict[str, None] = {}
    for name in names:
        key = normalise_name(name)
        if key in seen:
            repeated[key] = None
        seen.add(key)
    return list(repeated)
