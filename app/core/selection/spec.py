"""A selection request as data (``SelectSpec``): what the CLI parses, the GUI edits and the
saved selection stores; ``selection_job`` turns it into strategies over the active embeddings.

Strategy entries are dicts: ``{"kind": "diversity", "strength": 1}``, ``{"kind": "typicality",
"strength": 3}``, ``{"kind": "weight", "score": "uniqueness", "strength": 1}``, ``{"kind":
"similarity", "query": "tag:cats", "strength": 1}`` (or ``"samples": [sample ids]`` instead of a
query), ``{"kind": "random"}``; balancing is ``{"by": "label" | "folder", "target": "uniform" |
"input" | {class: share}}`` (folder: the first component of the relative path). ``n`` is a count,
or with ``fraction`` set, ``round(fraction x pool)`` where the pool is the embedded samples minus
the excluded tag's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from app.core.errors import SieveError
from app.core.jobs import CancelToken, Job, Progress
from app.core.selection.select import (
    Balancing,
    Diversity,
    Random,
    Selection,
    Similarity,
    Typicality,
    Weighting,
)
from app.core.selection.select import select as run_selection
from app.core.store.embedding_sets import EmbeddingSet, LiveRows
from app.core.store.metadata import numeric_scores
from app.core.store.project import Project
from app.core.store.selections import SavedSelection, members_of, save_selection

KINDS = ("diversity", "typicality", "weight", "similarity", "random")
BALANCE_BY = ("label", "folder")
NAME_PREFIX = "selection-"
# Without labels, typicality cubed times diversity: second only to the label-driven recommended
# strategy in tests/perf/bench_select_active.py (0.761 vs random's 0.744 at 220 labels) and the
# best one that needs no labels; diversity alone picks outliers (0.630).
DEFAULT_STRATEGIES: tuple[dict[str, Any], ...] = (
    {"kind": "typicality", "strength": 3.0},
    {"kind": "diversity", "strength": 1.0},
)


@dataclass
class SelectSpec:
    """Everything one selection run needs besides the project."""

    n: int
    strategies: list[dict[str, Any]] = field(default_factory=lambda: list(DEFAULT_STRATEGIES))
    balance: dict[str, Any] | None = None
    exclude_tag: str | None = None
    min_distance: float | None = None
    seed: int = 0
    fraction: float | None = None
    leave_out_tag: str | None = None  # never picked and, unlike exclude_tag, no coverage either

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def count(self, pool: int) -> int:
        """How many samples to pick from ``pool`` candidates: ``n``, or round(fraction x pool)."""
        if self.fraction is None:
            return self.n
        if not 0.0 < self.fraction <= 1.0:
            raise SieveError(f"the fraction must be in (0, 1], not {self.fraction}")
        wanted = int(round(self.fraction * pool))
        if wanted < 1:
            raise SieveError(f"{self.fraction:g} of {pool:,} candidates is no sample: pick more")
        return wanted


@dataclass(frozen=True, eq=False)
class SelectionRun:
    """A finished selection run: the saved selection and what the pick loop reported.

    ``rows``: the picks' rows in the embedding set's arrays, in pick order; ``distances``: each
    pick's distance to the nearest earlier pick or excluded sample (None without a Diversity
    strategy); ``pool``: the candidate rows (live embedded samples minus the excluded tag's).
    """

    saved: SavedSelection
    rows: np.ndarray
    distances: np.ndarray | None
    pool: np.ndarray


def next_selection_name(existing: Iterable[str]) -> str:
    """A fresh ``selection-N``: one past the highest N among ``existing`` names."""
    pattern = re.compile(rf"{re.escape(NAME_PREFIX)}(\d+)")
    numbers = [int(m.group(1)) for name in existing if (m := pattern.fullmatch(name))]
    return f"{NAME_PREFIX}{max(numbers, default=0) + 1}"


def parse_strategy(text: str) -> dict[str, Any]:
    """``diversity[:S]``, ``typicality[:S]``, ``weight:SCORE[:S]``, ``similarity:REF[:S]``,
    ``random`` (REF: ``selection:NAME`` or ``tag:NAME``; S a strength, negative to invert)."""
    kind, _, rest = text.partition(":")
    kind = kind.strip().lower()
    if kind not in KINDS:
        raise SieveError(f"unknown strategy {kind!r}: choose {', '.join(KINDS)}")
    if kind == "random":
        return {"kind": kind}
    if kind in ("weight", "similarity"):
        if not rest:
            example = "weight:uniqueness" if kind == "weight" else "similarity:tag:cats"
            raise SieveError(f"{kind} needs what to weigh or match, e.g. {example}")
        target, strength = _split_strength(rest, text)
        key = "score" if kind == "weight" else "query"
        return {"kind": kind, key: target, "strength": strength}
    return {"kind": kind, "strength": _strength(rest, text) if rest else 1.0}


def parse_balance(text: str) -> dict[str, Any]:
    """``label:uniform``, ``label:input``, ``label:cats=0.7,dogs=0.3``; ``folder:...`` alike."""
    by, _, target = text.partition(":")
    if by not in BALANCE_BY:
        raise SieveError(f"--balance {text!r}: balance by label or folder (label:uniform)")
    if target in ("", "uniform", "input"):
        return {"by": by, "target": target or "uniform"}
    shares: dict[str, float] = {}
    for part in target.split(","):
        name, _, share = part.partition("=")
        shares[name.strip()] = _strength(share, text)
    return {"by": by, "target": shares}


def _split_strength(rest: str, text: str) -> tuple[str, float]:
    head, _, tail = rest.rpartition(":")
    if head and _is_number(tail):
        return head, float(tail)
    return rest, 1.0


def _strength(value: str, text: str) -> float:
    if not _is_number(value):
        raise SieveError(f"{text!r}: {value!r} is not a number")
    return float(value)


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def selection_job(
    project: Project,
    embedding_set: EmbeddingSet,
    spec: SelectSpec,
    name: str,
    cancel: CancelToken,
    overwrite: bool = False,
    live: LiveRows | None = None,
) -> Job[SavedSelection]:
    """Run ``spec`` over the set's ``live`` rows (default: those whose samples remain) and save
    the result as selection ``name``."""
    run = yield from selection_run_job(project, embedding_set, spec, name, cancel, overwrite, live)
    return run.saved


def selection_run_job(
    project: Project,
    embedding_set: EmbeddingSet,
    spec: SelectSpec,
    name: str,
    cancel: CancelToken,
    overwrite: bool = False,
    live: LiveRows | None = None,
) -> Job[SelectionRun]:
    """:func:`selection_job`, returning the rows and pick distances besides the selection."""
    if spec.fraction is None and spec.n < 1:
        raise SieveError(f"select at least 1 sample, not {spec.n}")
    yield Progress("select", 0, None, "loading embeddings")
    live = embedding_set.live(project) if live is None else live
    live = _leave_out(project, live, spec.leave_out_tag)
    vectors = np.asarray(live.vectors, dtype=np.float32)
    ids = live.ids
    strategies = [_strategy(project, entry, vectors, ids, spec) for entry in spec.strategies]
    if spec.balance is not None:
        strategies.append(_balancing(project, spec.balance, ids))
    if not strategies:
        raise SieveError("choose at least one strategy")
    preselected = _excluded_rows(project, spec.exclude_tag, ids)
    pool = np.setdiff1d(np.arange(len(ids)), preselected)
    wanted = spec.count(len(pool))
    cancel.raise_if_cancelled()
    yield Progress("select", 0, wanted, f"selecting {wanted:,} of {len(pool):,}")
    result: Selection = run_selection(
        wanted, strategies, preselected=preselected, seed=spec.seed, cancel=cancel
    )
    cancel.raise_if_cancelled()
    strategy = {**spec.to_dict(), "embedding_set": embedding_set.id}
    if result.stopped_early:
        strategy["stopped_early"] = result.reason
    saved = save_selection(project, name, ids[result.indices], strategy, result.scores, overwrite)
    message = f"selected {len(result.indices):,} samples as {name!r}"
    if result.stopped_early:
        message += f" (stopped early: {result.reason})"
    yield Progress("select", len(result.indices), wanted, message)
    return SelectionRun(saved, live.rows[result.indices], result.distances, live.rows[pool])


def _strategy(project, entry, vectors, ids, spec):
    kind = entry.get("kind")
    strength = float(entry.get("strength", 1.0))
    if kind == "diversity":
        return Diversity(vectors, strength=strength, min_distance=spec.min_distance)
    if kind == "typicality":
        return Typicality(vectors, k=int(entry.get("k", 20)), strength=strength)
    if kind == "weight":
        values = numeric_scores(project, ids).get(entry["score"])
        if values is None:
            known = ", ".join(sorted(numeric_scores(project, ids[:1]))) or "none yet"
            raise SieveError(f"no score named {entry['score']!r} (scores: {known})")
        return Weighting(values, strength=strength)
    if kind == "similarity":
        if "samples" in entry:
            wanted, what = np.asarray(entry["samples"], dtype=np.int64), "the chosen samples"
        else:
            wanted, what = members_of(project, entry["query"]), entry["query"]
        rows = np.flatnonzero(np.isin(ids, wanted))
        if not len(rows):
            raise SieveError(f"{what} has no embedded sample to be similar to")
        return Similarity(vectors, rows, strength=strength)
    if kind == "random":
        return Random(seed=spec.seed, count=len(ids))
    raise SieveError(f"unknown strategy {kind!r}: choose {', '.join(KINDS)}")


def sample_classes(project: Project, ids: np.ndarray, by: str) -> list[str]:
    """Per sample id: its label, or the first component of its relative path ("" if none)."""
    if by not in BALANCE_BY:
        raise SieveError(f"balance by {' or '.join(BALANCE_BY)}, not {by!r}")
    rows = project.samples_by_id([int(i) for i in ids])
    if by == "label":
        return [rows[int(i)].label or "" for i in ids]
    return [_folder(rows[int(i)].relpath) for i in ids]


def _folder(relpath: str) -> str:
    return relpath.partition("/")[0] if "/" in relpath else ""


def _balancing(project: Project, balance: dict[str, Any], ids: np.ndarray) -> Balancing:
    by = balance.get("by", "label")
    labels = np.array(sample_classes(project, ids, by), dtype=object)
    known = labels != ""
    if len(set(labels[known])) < 2:
        what = "labels (folder names)" if by == "label" else "top-level folders"
        raise SieveError(f"{by} balancing needs at least two {what}")
    names = sorted(set(labels[known]))
    index = {name: code for code, name in enumerate(names)}
    codes = np.array([index.get(x, -1) for x in labels], dtype=np.int64)
    target = balance.get("target", "uniform")
    if isinstance(target, dict):
        unknown = [name for name in target if name not in index]
        if unknown:
            raise SieveError(f"no {by} {unknown[0]!r} ({by}s: {', '.join(names)})")
        target = {index[name]: share for name, share in target.items()}
    return Balancing(codes, target=target, strength=float(balance.get("strength", 1.0)))


def _leave_out(project: Project, live: LiveRows, tag: str | None) -> LiveRows:
    """``live`` without the samples tagged ``tag`` (e.g. ``exclude`` from the Issues tab): they
    are not candidates, and do not count as chosen either (``exclude_tag``'s samples do, so
    their neighbours are picked less)."""
    if tag is None:
        return live
    keep = ~np.isin(live.ids, members_of(project, f"tag:{tag}"))
    if keep.all():
        return live
    vectors = np.asarray(live.vectors)[keep]
    return replace(live, rows=live.rows[keep], ids=live.ids[keep], vectors=vectors)


def _excluded_rows(project: Project, tag: str | None, ids: np.ndarray) -> np.ndarray:
    if tag is None:
        return np.empty(0, dtype=np.int64)
    return np.flatnonzero(np.isin(ids, members_of(project, f"tag:{tag}")))
