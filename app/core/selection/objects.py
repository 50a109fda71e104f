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
"""

from __future__ import annotations

import numpy as np

from app.core.embeddings.object_scores import DISAGREEMENT, stored_disagreement
from app.core.embeddings.object_table import object_columns
from app.core.errors import SieveError
from app.core.jobs import CancelToken, Job, Progress
from app.core.selection.select import (
    Balancing,
    Diversity,
    Random,
    Similarity,
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
    if spec.balance is not None:
        strategies.append(_balancing(project, spec.balance, objects))
    if not strategies:
        raise SieveError("choose at least one strategy")
    preselected = _excluded_rows(project, spec.exclude_tag, objects)
    pool = len(objects) - len(preselected)
    wanted = spec.count(pool)
    yield Progress("select", 0, wanted, f"selecting {wanted:,} of {pool:,} objects")
    result = run_selection(
        wanted, strategies, preselected=preselected, seed=spec.seed, cancel=cancel
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


def _balancing(project: Project, balance: dict, objects: ObjectArrays) -> Balancing:
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
        target = {names.index(name): share for name, share in target.items()}
    return Balancing(codes, target=target, strength=float(balance.get("strength", 1.0)))


def _excluded_rows(project: Project, tag: str | None, objects: ObjectArrays) -> np.ndarray:
    if tag is None:
        return np.empty(0, dtype=np.int64)
    return np.flatnonzero(np.isin(objects.sample_ids, members_of(project, f"tag:{tag}")))
