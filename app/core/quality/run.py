"""Running checks over a project: read the statistics (and the active embeddings), run each
check, store per-sample scores as ``quality.<check>`` metadata, and report as JSON-ready data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from app.core.errors import SieveError
from app.core.jobs import CancelToken, Job, Progress
from app.core.quality.checks import CHECKS, CheckResult, Inputs
from app.core.store.metadata import write_scores
from app.core.store.project import Project
from app.core.store.stats import StatsColumns, read_stats

SCORE_PREFIX = "quality."
SELECTION_PREFIX = "issues: "
KNN_K = 11  # itself and ten neighbours


@dataclass
class IssuesReport:
    """The results of the checks run, with the statistics they read (rows aligned)."""

    stats: StatsColumns
    results: dict[str, CheckResult]
    unmeasured: int

    def to_json(self, limit: int | None = None) -> dict[str, Any]:
        """``{"checks": {NAME: {"count", "threshold", "samples": [...]}}}`` (worst first)."""
        checks: dict[str, Any] = {}
        names = self.stats.names
        for name, result in self.results.items():
            rows = result.worst_first()
            rows = rows if limit is None else rows[:limit]
            entry: dict[str, Any] = {
                "count": result.count,
                "threshold": result.threshold,
                "samples": [self._sample(result, int(row)) for row in rows],
            }
            if result.groups is not None:
                entry["groups"] = [
                    {"keep": names[keeper], "paths": [names[int(m)] for m in members]}
                    for keeper, members in result.groups
                ]
            if result.note:
                entry["note"] = result.note
            checks[name] = entry
        out: dict[str, Any] = {"checks": checks}
        if self.unmeasured:
            out["note"] = unmeasured_note(self.unmeasured)
        return out

    def _sample(self, result: CheckResult, row: int) -> dict[str, Any]:
        score = float(result.scores[row])
        entry: dict[str, Any] = {"path": self.stats.names[row], "score": round(score, 6)}
        for key, values in result.extra.items():
            value = values[row]
            if key == "keep":
                entry["keep"] = self.stats.names[int(value)]
            elif value is not None:
                entry[key] = value
        label = self.stats.labels[row]
        if result.name == "label_errors" and label is not None:
            entry["label"] = label
        return entry


def unmeasured_note(count: int) -> str:
    return (
        f"{count:,} samples have no image statistics yet: run 'sieve index' (images) or make "
        "the thumbnails (video frames) to measure them"
    )


def check_names(text: str | None) -> list[str]:
    """``"dark,blurry"`` -> the checks, in registry order; None or "all": every check."""
    if text is None or text.strip() in ("", "all"):
        return list(CHECKS)
    wanted = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [name for name in wanted if name not in CHECKS]
    if unknown:
        raise SieveError(f"unknown check {unknown[0]!r}: choose among {', '.join(CHECKS)}")
    return [name for name in CHECKS if name in wanted]


def issues_job(
    project: Project,
    names: list[str] | None = None,
    thresholds: dict[str, float] | None = None,
    cancel: CancelToken | None = None,
    store_scores: bool = True,
) -> Job[IssuesReport]:
    """Run the checks ``names`` (default: all) and store their scores; return the report."""
    cancel = cancel or CancelToken()
    names = list(CHECKS) if names is None else names
    thresholds = thresholds or {}
    yield Progress("issues", 0, len(names), "reading image statistics")
    stats = read_stats(project)
    inputs = Inputs(stats, cancel=cancel)
    if any(CHECKS[name].needs_embeddings or name == "near_duplicates" for name in names):
        yield from _load_embeddings(project, inputs, cancel)
    results: dict[str, CheckResult] = {}
    for done, name in enumerate(names):
        cancel.raise_if_cancelled()
        yield Progress("issues", done, len(names), f"checking {name.replace('_', ' ')}")
        results[name] = CHECKS[name].run(inputs, thresholds.get(name))
    if store_scores and len(stats):
        yield Progress("issues", len(names), len(names), "saving scores")
        scores = {SCORE_PREFIX + name: result.scores for name, result in results.items()}
        write_scores(project, stats.ids, scores)
    total = sum(result.count for result in results.values())
    yield Progress("issues", len(names), len(names), f"{total:,} issues found")
    return IssuesReport(stats, results, int((~stats.measured).sum()))


def _load_embeddings(project: Project, inputs: Inputs, cancel: CancelToken) -> Job[None]:
    """Fill ``inputs`` with the active set's live rows and their kNN graph (when a set exists)."""
    from app.core.embeddings.neighbours import NeighborIndex, knn_graph_job
    from app.core.store.embedding_sets import active_embedding_set

    embedding_set = active_embedding_set(project)
    if embedding_set is None or not embedding_set.finished:
        return
    yield Progress("issues", 0, None, "loading embeddings")
    live = embedding_set.live(project)
    ids = inputs.stats.ids
    if not len(ids):
        return
    position = np.clip(np.searchsorted(ids, live.ids), 0, len(ids) - 1)
    known = ids[position] == live.ids
    if not known.any():
        return
    neighbours = NeighborIndex.for_set(embedding_set, live, cancel)
    rows, similarities = yield from knn_graph_job(
        neighbours.vectors, min(KNN_K, len(live.ids)), neighbours.index, cancel
    )
    vectors = neighbours.vectors
    if not known.all():  # rows of samples missing from the statistics table are left out
        keep = np.flatnonzero(known)
        remap = np.full(len(known), -1, dtype=np.int64)
        remap[keep] = np.arange(len(keep))
        rows = np.where(rows >= 0, remap[np.clip(rows, 0, None)], -1)[keep]
        similarities, position, vectors = similarities[keep], position[keep], vectors[keep]
    inputs.vectors = np.asarray(vectors)
    inputs.vector_rows = position
    inputs.knn = (rows, similarities)


def save_issue_selections(project: Project, report: IssuesReport) -> dict[str, str]:
    """Save each check's flagged samples (worst first, with their scores) as the selection
    ``"issues: <check>"`` (replaced; deleted when the check found nothing); return the names."""
    from app.core.store.selections import delete_selection, list_selections, save_selection

    existing = {selection.name for selection in list_selections(project)}
    names: dict[str, str] = {}
    for name, result in report.results.items():
        selection = SELECTION_PREFIX + name
        rows = result.worst_first()
        if not len(rows):
            if selection in existing:
                delete_selection(project, selection)
            continue
        strategy = {"issues": name, "threshold": result.threshold}
        ids = report.stats.ids[rows]
        save_selection(project, selection, ids, strategy, result.scores[rows], overwrite=True)
        names[name] = selection
    return names


def clean_sample_ids(project: Project, tag: str) -> np.ndarray:
    """Usable samples (ascending ids) that do not carry ``tag``."""
    query = (
        "SELECT s.id FROM samples s JOIN files f ON f.id = s.file_id WHERE s.status = 'ok' "
        "AND NOT f.missing AND NOT f.pending AND s.id NOT IN "
        "(SELECT st.sample_id FROM sample_tags st "
        "JOIN tags t ON t.id = st.tag_id WHERE t.name = ?) ORDER BY s.id"
    )
    return np.array([row[0] for row in project.db.execute(query, (tag,))], dtype=np.int64)
