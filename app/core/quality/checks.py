"""The checks: one function per check, each turning the index statistics (and embeddings, for
the last three) into per-sample scores, a threshold and the samples beyond it.

Scores are in the unit of what they measure (brightness 0..1, sharpness, entropy bits, Hamming
bits, ...); ``direction`` says which end is the problem ("low": flagged below the threshold).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from app.core.jobs import CancelToken
from app.core.quality.duplicates import (
    Groups,
    distance_to_keeper,
    exact_pairs,
    group_pairs,
    hamming_pairs,
    nearest_hamming,
)
from app.core.quality.label_errors import cross_validated_probe, judge, neighbour_votes
from app.core.quality.thresholds import Fence
from app.core.store.stats import StatsColumns

GRAYSCALE_MAJORITY = 0.5  # more grayscale images than this share: grayscale is the norm here
OUTLIER_K = 10


@dataclass
class Inputs:
    """What checks read: the statistics of every usable sample, and embeddings when a set exists.

    ``vectors`` / ``vector_rows``: normalised embedding rows and, per row, its position in
    ``stats``; ``knn``: each embedding row's nearest rows (itself first) and similarities.
    """

    stats: StatsColumns
    vectors: np.ndarray | None = None
    vector_rows: np.ndarray | None = None
    knn: tuple[np.ndarray, np.ndarray] | None = None
    cancel: CancelToken = field(default_factory=CancelToken)


@dataclass
class CheckResult:
    """One check over the samples of ``Inputs.stats`` (row-aligned arrays)."""

    name: str
    threshold: float | None
    direction: str
    scores: np.ndarray
    flagged: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    groups: list[tuple[int, np.ndarray]] | None = None  # (keeper row, member rows)
    note: str = ""

    @property
    def count(self) -> int:
        return int(self.flagged.sum())

    def worst_first(self) -> np.ndarray:
        """Flagged rows, most severe first."""
        rows = np.flatnonzero(self.flagged)
        key = self.scores[rows]
        order = np.argsort(key if self.direction == "low" else -key, kind="stable")
        return rows[order]


@dataclass(frozen=True)
class Check:
    name: str
    direction: str
    needs_embeddings: bool
    describe: str
    run: Callable[[Inputs, float | None], CheckResult]


FENCES: dict[str, Fence] = {
    "dark": Fence("low", k=4.0, floor=0.06, cap=0.25, log=True),
    "light": Fence("high", k=4.0, floor=0.94, cap=0.80, log=True, mirror=True),
    "blurry": Fence("low", k=4.0, floor=0.03, cap=0.10, log=True),
    "low_information": Fence("low", k=4.0, floor=1.0, cap=3.0),
    "grayscale": Fence("low", k=4.0, floor=0.005, cap=0.02),
    "odd_aspect_ratio": Fence("high", k=4.0, floor=2.0, cap=1.0),
    "odd_size": Fence("high", k=4.0, floor=3.0, cap=1.5),
    "near_duplicates": Fence("low", k=4.0, floor=0.0, cap=8.0),
    "outliers": Fence("high", k=4.0, floor=1.0, cap=0.0),
}
# Embedding near duplicates: cosine to the nearest other row well above this dataset's usual
# (a weak embedding, e.g. random weights, puts everything close), and at least 0.95.
EMBEDDING_FENCE = Fence("high", k=4.0, floor=0.9999, cap=0.95)
STAT_OF = {
    "dark": "brightness",
    "light": "brightness",
    "blurry": "sharpness",
    "low_information": "entropy",
    "grayscale": "colourfulness",
}


def _statistic(name: str) -> Callable[[Inputs, float | None], CheckResult]:
    def run(inputs: Inputs, threshold: float | None) -> CheckResult:
        values = inputs.stats.values[STAT_OF[name]]
        return _fenced(name, values, threshold)

    return run


def _fenced(name: str, values: np.ndarray, threshold: float | None) -> CheckResult:
    fence = FENCES[name]
    limit = fence.threshold(values) if threshold is None else float(threshold)
    return CheckResult(name, limit, fence.direction, values, fence.flags(values, limit))


def grayscale(inputs: Inputs, threshold: float | None) -> CheckResult:
    result = _fenced("grayscale", inputs.stats.values["colourfulness"], threshold)
    measured = np.isfinite(result.scores).sum()
    if threshold is None and measured and result.count > GRAYSCALE_MAJORITY * measured:
        result.note = f"{result.count:,} of {measured:,} images are grayscale: not an issue here"
        result.flagged = np.zeros_like(result.flagged)
    return result


def odd_aspect_ratio(inputs: Inputs, threshold: float | None) -> CheckResult:
    """|log2(width / height)|: 1 is 2:1 (or 1:2), 2 is 4:1."""
    stats = inputs.stats
    with np.errstate(divide="ignore", invalid="ignore"):
        values = np.abs(np.log2(stats.width / stats.height))
    values[~np.isfinite(values)] = np.nan
    return _fenced("odd_aspect_ratio", values, threshold)


def odd_size(inputs: Inputs, threshold: float | None) -> CheckResult:
    """|log2 of the side (square root of the area) over the dataset's median side|."""
    stats = inputs.stats
    with np.errstate(divide="ignore", invalid="ignore"):
        side = np.log2(np.sqrt(stats.width * stats.height))
    side[~np.isfinite(side)] = np.nan
    centre = np.nanmedian(side) if np.isfinite(side).any() else 0.0
    return _fenced("odd_size", np.abs(side - centre), threshold)


def exact_duplicates(inputs: Inputs, threshold: float | None) -> CheckResult:
    """Same bytes (content hash); the score is the size of the sample's group."""
    stats = inputs.stats
    first, second = exact_pairs(stats.content_hash)
    groups = group_pairs(len(stats), first, second, _pixels(stats), stats.file_size)
    sizes = np.array([len(m) for m in groups.members], dtype=np.float64)
    scores = np.where(groups.group >= 0, sizes[groups.group] if len(sizes) else 0, np.nan)
    return _grouped("exact_duplicates", 0.0, scores, groups.redundant, groups)


def near_duplicates(inputs: Inputs, threshold: float | None) -> CheckResult:
    """Perceptual hashes at most ``threshold`` bits apart, or embeddings closer than is usual in
    this dataset (cosine >= 0.95 at least); groups that are all one file's copies are left to
    exact_duplicates."""
    from app.core.embeddings.scores import DUPLICATE_THRESHOLD

    stats = inputs.stats
    rows = np.flatnonzero(stats.measured)
    if threshold is None:
        nearest = nearest_hamming(stats.phash, rows).astype(np.float64)
        limit = float(np.floor(FENCES["near_duplicates"].threshold(nearest)))
    else:
        limit = float(threshold)
    first, second = hamming_pairs(stats.phash, rows, int(limit))
    if inputs.knn is not None and inputs.vector_rows is not None:
        knn_rows, similarity = inputs.knn
        source = np.repeat(np.arange(len(knn_rows)), knn_rows.shape[1])
        target = knn_rows.ravel()
        cosine = max(DUPLICATE_THRESHOLD, EMBEDDING_FENCE.threshold(similarity[:, 1]))
        close = (similarity.ravel() >= cosine) & (target > source)
        first = np.r_[first, inputs.vector_rows[source[close]]]
        second = np.r_[second, inputs.vector_rows[target[close]]]
    hashes = stats.content_hash.astype(str)
    differ = hashes[first] != hashes[second]
    groups = group_pairs(len(stats), first[differ], second[differ], _pixels(stats), stats.file_size)
    redundant = groups.redundant.copy()
    for keeper, members in zip(groups.keepers, groups.members, strict=True):
        redundant[members[hashes[members] == hashes[keeper]]] = False
    scores = distance_to_keeper(groups, stats.phash)
    return _grouped("near_duplicates", limit, scores, redundant, groups, direction="low")


def outliers(inputs: Inputs, threshold: float | None) -> CheckResult:
    """Mean cosine distance to the :data:`OUTLIER_K` nearest embeddings."""
    count = len(inputs.stats)
    values = np.full(count, np.nan)
    if inputs.knn is None or inputs.vector_rows is None:
        return _needs_embeddings("outliers", "high", count)
    _, similarity = inputs.knn
    distance = 1.0 - similarity[:, 1 : OUTLIER_K + 1].mean(axis=1)
    values[inputs.vector_rows] = distance
    return _fenced("outliers", values, threshold)


def label_errors(inputs: Inputs, threshold: float | None) -> CheckResult:
    """Labels their neighbours and a cross-validated probe both disagree with (see
    :mod:`app.core.quality.label_errors`); the threshold is the least margin flagged."""
    stats = inputs.stats
    count = len(stats)
    if inputs.knn is None or inputs.vector_rows is None or inputs.vectors is None:
        return _needs_embeddings("label_errors", "high", count)
    labels = np.array([label or "" for label in stats.labels], dtype=object)[inputs.vector_rows]
    labelled = labels != ""
    names, codes = np.unique(labels[labelled].astype(str), return_inverse=True)
    if len(names) < 2:
        result = _needs_embeddings("label_errors", "high", count)
        result.note = "fewer than two labels: nothing to compare"
        return result
    knn_rows, _ = inputs.knn
    position = np.full(len(labels), -1, dtype=np.int64)
    position[labelled] = np.arange(int(labelled.sum()))
    local = np.where(knn_rows >= 0, position[np.clip(knn_rows, 0, None)], -1)[labelled]
    votes = neighbour_votes(local, codes, len(names))
    probe = cross_validated_probe(
        np.asarray(inputs.vectors)[labelled], codes, len(names), inputs.cancel
    )
    margin = 0.0 if threshold is None else float(threshold)
    verdict = judge(votes, probe, codes, margin)
    rows = inputs.vector_rows[labelled]
    scores = np.full(count, np.nan)
    scores[rows] = verdict.score
    flagged = np.zeros(count, dtype=bool)
    flagged[rows] = verdict.flagged
    suggested = np.full(count, None, dtype=object)
    suggested[rows] = names[verdict.suggested]
    return CheckResult(
        "label_errors", margin, "high", scores, flagged, extra={"suggested_label": suggested}
    )


def _needs_embeddings(name: str, direction: str, count: int) -> CheckResult:
    return CheckResult(
        name,
        None,
        direction,
        np.full(count, np.nan),
        np.zeros(count, dtype=bool),
        note="needs embeddings: run 'sieve embed' first",
    )


def _grouped(
    name: str,
    threshold: float,
    scores: np.ndarray,
    flagged: np.ndarray,
    groups: Groups,
    direction: str = "high",
) -> CheckResult:
    listed = [
        (int(keeper), members)
        for keeper, members in zip(groups.keepers, groups.members, strict=True)
        if flagged[members].any()
    ]
    keep = np.full(len(scores), -1, dtype=np.int64)
    inside = groups.group >= 0
    keep[inside] = groups.keepers[groups.group[inside]]
    return CheckResult(name, threshold, direction, scores, flagged, {"keep": keep}, listed)


def _pixels(stats: StatsColumns) -> np.ndarray:
    return np.nan_to_num(stats.width * stats.height)


CHECKS: dict[str, Check] = {
    check.name: check
    for check in (
        Check("dark", "low", False, "mean brightness below the threshold", _statistic("dark")),
        Check("light", "high", False, "mean brightness above the threshold", _statistic("light")),
        Check("blurry", "low", False, "sharpness below the threshold", _statistic("blurry")),
        Check(
            "low_information",
            "low",
            False,
            "entropy (bits) below the threshold",
            _statistic("low_information"),
        ),
        Check("grayscale", "low", False, "colourfulness below the threshold", grayscale),
        Check(
            "odd_aspect_ratio",
            "high",
            False,
            "|log2(width/height)| above the threshold",
            odd_aspect_ratio,
        ),
        Check("odd_size", "high", False, "|log2(side/median side)| above the threshold", odd_size),
        Check("exact_duplicates", "high", False, "same file bytes", exact_duplicates),
        Check(
            "near_duplicates",
            "low",
            False,
            "perceptual hashes within the threshold (bits) or unusually close embeddings",
            near_duplicates,
        ),
        Check("outliers", "high", True, "mean distance to the nearest embeddings", outliers),
        Check(
            "label_errors",
            "high",
            True,
            "label disagrees with its neighbours and a cross-validated probe",
            label_errors,
        ),
    )
}
