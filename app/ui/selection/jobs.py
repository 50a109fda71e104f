"""The selection panel's jobs. Each opens its own Project on the worker thread and returns plain
data, so the GUI thread never waits on SQLite or numpy."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.core.errors import SieveError
from app.core.export.annotations import ANNOTATION_FORMATS, export_annotations_job
from app.core.export.subset import ExportReport, export_subset_job
from app.core.jobs import CancelToken, Job, Progress
from app.core.selection.coverage import Coverage, coverage_job
from app.core.selection.spec import SelectSpec, selection_run_job
from app.core.store.catalog import SampleTable, load_table, score_keys
from app.core.store.embedding_sets import active_embedding_set, require_active_set
from app.core.store.metadata import numeric_scores
from app.core.store.project import Project
from app.core.store.selections import get_selection, list_selections

GROUPINGS = ("label", "folder")
NO_CLASS = "(none)"


@dataclass(frozen=True)
class PoolInfo:
    """What the strategy form offers: pool size, tags, score keys, saved selection names.

    ``tagged``: per tag, how many embedded samples it holds (excluding it shrinks the pool).
    """

    project_dir: Path
    embedded: int
    tags: list[str] = field(default_factory=list)
    scores: list[str] = field(default_factory=list)
    selections: list[str] = field(default_factory=list)
    tagged: dict[str, int] = field(default_factory=dict)

    def pool(self, exclude_tag: str | None) -> int:
        """Candidates left when ``exclude_tag``'s samples are excluded."""
        return self.embedded - (self.tagged.get(exclude_tag, 0) if exclude_tag else 0)


@dataclass(frozen=True, eq=False)
class SelectionOutcome:
    """A finished run: the picks in order with what they scored, coverage and class shares.

    ``distances``: each pick's distance to the nearest earlier (or excluded) one, None without
    a diversity strategy. ``pool_counts`` / ``subset_counts``: per grouping (label, folder),
    class -> number of samples among the embedded pool / the picks.
    """

    project_dir: Path
    name: str
    ids: np.ndarray
    names: list[str]
    labels: list[str]
    scores: np.ndarray
    distances: np.ndarray | None
    coverage: Coverage
    pool_counts: dict[str, dict[str, int]]
    subset_counts: dict[str, dict[str, int]]
    message: str


def pool_info_job(project_dir: Path, cancel: CancelToken | None = None) -> Job[PoolInfo]:
    """Read what the form offers (after a project opens, or its tags change)."""
    yield Progress("read", 0, None, "reading tags and scores")
    with Project.open(project_dir) as project:
        embedding_set = active_embedding_set(project)
        ids = np.empty(0, np.int64) if embedding_set is None else embedding_set.live(project).ids
        tags = project.tags()
        tagged = {tag.name: int(np.isin(project.tagged(tag.id), ids).sum()) for tag in tags}
        return PoolInfo(
            Path(project_dir),
            len(ids),
            [tag.name for tag in tags],
            score_keys(project),
            [s.name for s in list_selections(project)],
            tagged,
        )


def run_selection_job(
    project_dir: Path, spec: SelectSpec, name: str, cancel: CancelToken
) -> Job[SelectionOutcome]:
    """Select and save ``name``, then measure its coverage and class shares."""
    with Project.open(project_dir) as project:
        embedding_set = require_active_set(project)
        run = yield from selection_run_job(project, embedding_set, spec, name, cancel)
        yield Progress("describe", 0, None, "reading names and classes")
        table = load_table(project)
        embedded = embedding_set.live(project).ids
        coverage = yield from coverage_job(
            embedding_set.vectors(), run.rows, cancel, candidates=run.pool
        )
    ids = run.saved.members
    rows = table.row_of(ids)
    pool_rows = table.row_of(embedded)
    message = f"selected {len(ids):,} of {len(run.pool):,} as {name!r}"
    if run.saved.strategy.get("stopped_early"):
        message += f" (stopped early: {run.saved.strategy['stopped_early']})"
    return SelectionOutcome(
        project_dir=Path(project_dir),
        name=run.saved.name,
        ids=ids,
        names=[
            table.name(int(row)) if row >= 0 else f"#{i}" for row, i in zip(rows, ids, strict=True)
        ],
        labels=classes_of(table, "label", rows),
        scores=run.saved.scores,
        distances=run.distances,
        coverage=coverage,
        pool_counts={by: _counts(classes_of(table, by, pool_rows)) for by in GROUPINGS},
        subset_counts={by: _counts(classes_of(table, by, rows)) for by in GROUPINGS},
        message=message,
    )


def classes_of(table: SampleTable, by: str, rows: np.ndarray) -> list[str]:
    """Per table row: its label or top-level folder (:data:`NO_CLASS` when it has none)."""
    if by == "label":
        names, codes = table.labels, table.label_code
    else:
        names, codes = table.folders, table.folder_code()
    known = rows >= 0
    picked = np.full(len(rows), -1, dtype=np.int64)
    picked[known] = codes[rows[known]]
    return [names[c] or NO_CLASS if c >= 0 else NO_CLASS for c in picked.tolist()]


def _counts(classes: list[str]) -> dict[str, int]:
    return dict(Counter(classes).most_common())


def export_selection_job(
    project_dir: Path,
    selection: str,
    fmt: str,
    out: Path,
    cancel: CancelToken,
    overwrite: bool = False,
    val_fraction: float | None = None,
    seed: int = 0,
) -> Job[ExportReport]:
    """Export a saved selection in pick order, with its scores for csv and json (as the CLI)."""
    with Project.open(project_dir) as project:
        saved = get_selection(project, selection)
        if not len(saved.members):
            raise SieveError(f"nothing to export: selection {selection!r} is empty")
        scores = {"score": saved.scores}
        if fmt in ("csv", "json"):
            scores.update(numeric_scores(project, saved.members))
        if fmt in ANNOTATION_FORMATS:
            return (
                yield from export_annotations_job(
                    project,
                    saved.members,
                    fmt,
                    out,
                    cancel,
                    overwrite=overwrite,
                    val_fraction=val_fraction,
                    seed=seed,
                )
            )
        return (
            yield from export_subset_job(
                project,
                saved.members,
                fmt,
                out,
                cancel,
                scores=scores,
                overwrite=overwrite,
                val_fraction=val_fraction,
                seed=seed,
            )
        )
