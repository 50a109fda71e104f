"""Selecting objects: the strategies of ``spec.py`` over an object set's rows.

``object_selection_job`` runs a :class:`SelectSpec` over the live objects of an object set and
saves a selection of kind ``objects`` (the picked objects in pick order; its members are the
images that contain them, so image exports write those images with all their labels).

What the strategy entries mean for objects: ``diversity``, ``typicality`` and ``random`` as for
images; ``weight:SCORE`` reads ``score`` (the object's own score, e.g. a prediction's
confidence), ``label_disagreement`` (stored by ``sieve object-label-errors``) or any per-image
score of the object's image; ``similarity:REF`` is similar to the objects on REF's images;
balance ``label`` balances object classes (``folder``: the image's top folder); an excluded tag
excludes the objects on its images.

Balance over objects is met by quotas, not by a soft preference: each class gets its share of
``n`` (uniform, the input's shares, or the given ones; a class with too few objects gives its
remainder to the others), and the strategies choose within each class. Classes are often very
imbalanced (a rare class of 12 objects beside 160 of a common one), and a soft preference
multiplied with typicality leaves rare classes short: their objects are atypical by nature.
Picks are listed round-robin over the classes (each class's first pick, then its second ...).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from app.core.embeddings.object_scores import DISAGREEMENT, stored_disagreement
from app.core.embeddings.object_table import object_columns
from app.core.errors import SieveError
from app.core.jobs import CancelToken, Job, Progress
from app.core.selection.select import (
    Diversity,
    Random,
    Selection,
    Similarity,
    Strategy,
    Typicality,
    Weighting,
)
from app.core.selection.select import select as run_selection
from app.core.selection.spec import KINDS, SelectSpec, sample_classes
from app.core.store.embedding_sets import EmbeddingSet, LiveRows
from app.core.store.metadata import numeric_scores
from app.core.store.objects import ObjectArrays
from app.core.store.project import Project
from app.core.store.selections import SavedSelection, members_of, save_object_selection

OBJECT_SCORE = "score"


def object_selection_job(
    project: Project,
    embedding_set: EmbeddingSet,
    spec: SelectSpec,
    name: str,
    cancel: CancelToken,
    overwrite: bool = False,
    live: LiveRows | None = None,
) -> Job[SavedSelection]:
    """Run ``spec`` over the object set's ``live`` rows and save the picks as selection
    ``name`` (kind ``objects``)."""
    if not embedding_set.of_objects:
        raise SieveError(f"embedding set {embedding_set.id} is a set of images, not of objects")
    if spec.fraction is None and spec.n < 1:
        raise SieveError(f"select at least 1 object, not {spec.n}")
    yield Progress("select", 0, None, "loading object embeddings")
    live = embedding_set.live(project) if live is None else live
    vectors = np.asarray(live.vectors, dtype=np.float32)
    objects = object_columns(project, embedding_set, live.ids)
    strategies = [
        _strategy(project, embedding_set, live, entry, vectors, objects, spec)
        for entry in spec.strategies
    ]
    if not strategies:
        raise SieveError("choose at least one strategy")
    preselected = _excluded_rows(project, spec.exclude_tag, objects)
    pool = len(objects) - len(preselected)
    wanted = spec.count(pool)
    yield Progress("select", 0, wanted, f"selecting {wanted:,} of {pool:,} objects")
    if spec.balance is None:
        result = run_selection(
            wanted, strategies, preselected=preselected, seed=spec.seed, cancel=cancel
        )
    else:
        codes, shares = _balance_classes(project, spec.balance, objects)
        result = stratified_select(
            wanted, strategies, codes, shares, preselected, spec.seed, cancel
        )
    cancel.raise_if_cancelled()
    strategy = {**spec.to_dict(), "embedding_set": embedding_set.id, "objects": True}
    if result.stopped_early:
        strategy["stopped_early"] = result.reason
    picked = objects.ids[result.indices]
    saved = save_object_selection(project, name, picked, strategy, result.scores, overwrite)
    message = f"selected {len(picked):,} objects on {len(saved.members):,} images as {name!r}"
    yield Progress("select", len(picked), wanted, message)
    return saved


def _strategy(project, embedding_set, live, entry, vectors, objects: ObjectArrays, spec):
    kind = entry.get("kind")
    strength = float(entry.get("strength", 1.0))
    if kind == "diversity":
        return Diversity(vectors, strength=strength, min_distance=spec.min_distance)
    if kind == "typicality":
        return Typicality(vectors, k=int(entry.get("k", 20)), strength=strength)
    if kind == "weight":
        values = object_weights(project, embedding_set, live, objects, entry["score"])
        return Weighting(values, strength=strength)
    if kind == "similarity":
        if "samples" in entry:
            images, what = np.asarray(entry["samples"], dtype=np.int64), "the chosen samples"
        else:
            images, what = members_of(project, entry["query"]), entry["query"]
        rows = np.flatnonzero(np.isin(objects.sample_ids, images))
        if not len(rows):
            raise SieveError(f"{what} has no embedded object to be similar to")
        return Similarity(vectors, rows, strength=strength)
    if kind == "random":
        return Random(seed=spec.seed, count=len(objects))
    raise SieveError(f"unknown strategy {kind!r}: choose {', '.join(KINDS)}")


def object_weights(
    project: Project,
    embedding_set: EmbeddingSet,
    live: LiveRows,
    objects: ObjectArrays,
    score: str,
) -> np.ndarray:
    """Per object: its ``score`` (its own score, its stored label disagreement, or its image's
    per-sample score of that name)."""
    if score == OBJECT_SCORE:
        if np.isnan(objects.scores).all():
            raise SieveError("these objects have no scores (ground truth): weight by another")
        return objects.scores.astype(np.float64)
    if score == DISAGREEMENT:
        stored = stored_disagreement(embedding_set)
        if stored is None:
            raise SieveError("no label disagreement yet: run 'sieve object-label-errors' first")
        return stored[0][live.rows].astype(np.float64)
    images, at = np.unique(objects.sample_ids, return_inverse=True)
    per_image = numeric_scores(project, images).get(score)
    if per_image is None:
        known = ", ".join(sorted(numeric_scores(project, images[:1]))) or "none yet"
        raise SieveError(
            f"no score named {score!r} (object scores: {OBJECT_SCORE}, {DISAGREEMENT}; "
            f"image scores: {known})"
        )
    return per_image[at]


def class_quotas(available: np.ndarray, shares: np.ndarray, wanted: int) -> np.ndarray:
    """Picks per class: ``wanted`` split by ``shares`` (largest remainders), never more than a
    class has; what a class cannot take goes to the others by their shares."""
    available = np.asarray(available, dtype=np.int64)
    shares = np.asarray(shares, dtype=np.float64)
    quotas = np.zeros(len(available), dtype=np.int64)
    remaining = int(min(wanted, available[shares > 0].sum()))
    while remaining > 0:
        room = (available - quotas > 0) & (shares > 0)
        weights = np.where(room, shares, 0.0)
        ideal = remaining * weights / weights.sum()
        add = np.minimum(np.floor(ideal).astype(np.int64), available - quotas)
        if not add.any():
            order = np.argsort(-(ideal - np.floor(ideal)), kind="stable")
            add[[c for c in order if room[c]][:remaining]] = 1
        quotas += add
        remaining -= int(add.sum())
    return quotas


def stratified_select(
    wanted: int,
    strategies: list[Strategy],
    codes: np.ndarray,
    shares: np.ndarray,
    preselected: np.ndarray,
    seed: int,
    cancel: CancelToken,
) -> Selection:
    """``wanted`` rows split over the classes ``codes`` by :func:`class_quotas`, each class's
    picks chosen by ``strategies`` among its own rows; picks listed round-robin over classes."""
    excluded = np.zeros(len(codes), dtype=bool)
    excluded[preselected] = True
    available = np.array(
        [int(((codes == c) & ~excluded).sum()) for c in range(len(shares))], dtype=np.int64
    )
    quotas = class_quotas(available, shares, wanted)
    picks, scores, ranks, reasons = [], [], [], []
    for code in np.flatnonzero(quotas):
        rows = np.flatnonzero(codes == code)
        sliced = [_slice(strategy, rows) for strategy in strategies]
        inside = np.flatnonzero(excluded[rows])
        found = run_selection(
            int(quotas[code]), sliced, preselected=inside, seed=seed, cancel=cancel
        )
        picks.append(rows[found.indices])
        scores.append(found.scores)
        ranks.append(np.arange(len(found.indices)))
        if found.stopped_early:
            reasons.append(found.reason)
    if not picks:
        return Selection(np.zeros(0, np.int64), np.zeros(0, np.float32), None, True, "no class")
    rank, row = np.concatenate(ranks), np.concatenate(picks)
    order = np.lexsort((codes[row], rank))
    chosen = row[order]
    stopped = len(chosen) < wanted
    reason = "; ".join(reasons) or (
        "the classes to balance have fewer objects than asked for" if stopped else ""
    )
    return Selection(chosen, np.concatenate(scores)[order], None, stopped, reason)


def _slice(strategy: Strategy, rows: np.ndarray) -> Strategy:
    """``strategy`` over ``rows`` only."""
    if isinstance(strategy, Diversity):
        return replace(strategy, embeddings=strategy.embeddings[rows])
    if isinstance(strategy, Typicality):
        k = max(1, min(strategy.k, len(rows) - 1))
        return replace(strategy, embeddings=strategy.embeddings[rows], k=k)
    if isinstance(strategy, Similarity):
        query = np.asarray(strategy.query)
        if query.ndim == 1 and np.issubdtype(query.dtype, np.integer):
            query = strategy.embeddings[query]
        return replace(strategy, embeddings=strategy.embeddings[rows], query=query)
    if isinstance(strategy, Weighting):
        return replace(strategy, values=np.asarray(strategy.values)[rows])
    if isinstance(strategy, Random):
        return replace(strategy, count=len(rows))
    raise SieveError(f"cannot balance with {type(strategy).__name__}")


def _balance_classes(
    project: Project, balance: dict, objects: ObjectArrays
) -> tuple[np.ndarray, np.ndarray]:
    """``(class code per object, target share per class)`` of a balance request."""
    by = balance.get("by", "label")
    if by == "label":
        codes = objects.labels.astype(np.int64)
        names = list(objects.classes)
    else:
        images, at = np.unique(objects.sample_ids, return_inverse=True)
        folders = np.array(sample_classes(project, images, by), dtype=object)[at]
        names = sorted(set(folders.tolist()) - {""})
        index = {name: code for code, name in enumerate(names)}
        codes = np.array([index.get(x, -1) for x in folders], dtype=np.int64)
    if len(set(codes[codes >= 0].tolist())) < 2:
        raise SieveError(f"{by} balancing needs objects of at least two classes")
    target = balance.get("target", "uniform")
    if isinstance(target, dict):
        unknown = [name for name in target if name not in names]
        if unknown:
            raise SieveError(f"no class {unknown[0]!r} (classes: {', '.join(names)})")
        shares = np.zeros(len(names))
        for name, share in target.items():
            shares[names.index(name)] = float(share)
    elif target == "input":
        shares = np.bincount(codes[codes >= 0], minlength=len(names)).astype(np.float64)
    elif target == "uniform":
        shares = np.ones(len(names))
    else:
        raise SieveError(f"balance target must be uniform, input or class shares, not {target!r}")
    if shares.sum() <= 0 or (shares < 0).any():
        raise SieveError("balance shares must be positive")
    return codes, shares


def _excluded_rows(project: Project, tag: str | None, objects: ObjectArrays) -> np.ndarray:
    if tag is None:
        return np.empty(0, dtype=np.int64)
    return np.flatnonzero(np.isin(objects.sample_ids, members_of(project, f"tag:{tag}")))
