"""Label errors, confident-learning style: a label both its embedding neighbours and a
cross-validated linear probe disagree with.

Each labelled row gets two out-of-sample class distributions: the labels of its ``k`` nearest
neighbours (itself left out) and a logistic probe fitted on the other folds. Their mean ``p``
decides: a row is flagged when its neighbours' majority and the probe's prediction are both
another class, and that class ``c`` is confidently there (``p[c]`` at least the mean ``p[c]``
of the rows labelled ``c``: the per-class threshold of confident learning). The score is the
margin ``max_{c != given} p[c] - p[given]`` (-1..1, higher: more likely wrong); the suggested
label is that ``c``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.core.jobs import CancelToken

FOLDS = 5
NEIGHBOURS = 10
PROBE_ITERATIONS = 100
PROBE_DIMS = 128  # wider embeddings are projected on their top principal axes first
WEIGHT_DECAY = 1e-4


@dataclass(frozen=True)
class LabelVerdict:
    """Per labelled row: the margin score, whether it is flagged, and the suggested class."""

    score: np.ndarray
    flagged: np.ndarray
    suggested: np.ndarray  # class index (into the classes given)


def neighbour_votes(knn_rows: np.ndarray, codes: np.ndarray, classes: int) -> np.ndarray:
    """N x C shares of each row's neighbours (column 0, itself, left out) in each class;
    rows of ``knn_rows`` are indices into ``codes`` (-1: none)."""
    neighbours = knn_rows[:, 1:]
    valid = neighbours >= 0
    labels = np.where(valid, codes[np.clip(neighbours, 0, None)], -1)
    votes = np.zeros((len(codes), classes))
    for c in range(classes):
        votes[:, c] = ((labels == c) & valid).sum(axis=1)
    return (votes + 0.5 / classes) / (votes.sum(axis=1, keepdims=True) + 0.5)


def cross_validated_probe(
    vectors: np.ndarray, codes: np.ndarray, classes: int, cancel: CancelToken, seed: int = 0
) -> np.ndarray:
    """N x C out-of-fold probabilities of a logistic probe (:data:`FOLDS` folds)."""
    rng = np.random.default_rng(seed)
    fold = rng.permutation(len(codes)) % FOLDS
    features = principal_axes(np.asarray(vectors, dtype=np.float64), PROBE_DIMS, rng)
    out = np.full((len(codes), classes), 1.0 / classes)
    for k in range(FOLDS):
        test = fold == k
        if not test.any() or test.all():
            continue
        weight, bias = fit_logistic(features[~test], codes[~test], classes, cancel)
        out[test] = softmax(features[test] @ weight + bias)
    return out


def principal_axes(vectors: np.ndarray, dims: int, rng: np.random.Generator) -> np.ndarray:
    """Rows projected on their ``dims`` top principal axes (from a sample of 4,096 rows) and
    normalised: what the probe needs of a wide embedding, at a fraction of the fit's cost."""
    if vectors.shape[1] <= dims:
        return np.ascontiguousarray(vectors)
    centred = vectors - vectors.mean(axis=0)
    sample = centred[rng.choice(len(centred), min(len(centred), 4096), replace=False)]
    axes = np.linalg.svd(sample, full_matrices=False)[2][:dims]
    projected = centred @ axes.T
    norms = np.linalg.norm(projected, axis=1, keepdims=True)
    return projected / np.where(norms > 0, norms, 1.0)


def fit_logistic(
    features: np.ndarray, codes: np.ndarray, classes: int, cancel: CancelToken
) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression (mean cross-entropy + ``WEIGHT_DECAY * |W|^2``), fitted
    with scipy's L-BFGS from zero (deterministic); ``cancel`` is checked per evaluation.

    numpy, not the torch probe of :mod:`app.core.active.probe`: the fits here are small and
    many, and the checks stay free of torch's start-up."""
    from scipy.optimize import minimize

    count, dim = features.shape
    onehot = np.zeros((count, classes))
    onehot[np.arange(count), codes] = 1.0

    def loss(flat: np.ndarray) -> tuple[float, np.ndarray]:
        cancel.raise_if_cancelled()
        weight, bias = flat[: dim * classes].reshape(dim, classes), flat[dim * classes :]
        logits = features @ weight + bias
        logits -= logits.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(logits).sum(axis=1, keepdims=True))
        value = -(onehot * (logits - log_norm)).sum() / count
        error = (np.exp(logits - log_norm) - onehot) / count
        grad_w = features.T @ error + 2 * WEIGHT_DECAY * weight
        value += WEIGHT_DECAY * float((weight**2).sum())
        return value, np.concatenate([grad_w.ravel(), error.sum(axis=0)])

    start = np.zeros(dim * classes + classes)
    options = {"maxiter": PROBE_ITERATIONS}
    flat = minimize(loss, start, jac=True, method="L-BFGS-B", options=options).x
    return flat[: dim * classes].reshape(dim, classes), flat[dim * classes :]


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def judge(knn: np.ndarray, probe: np.ndarray, codes: np.ndarray, margin: float) -> LabelVerdict:
    """The verdict from neighbour shares ``knn`` and probe probabilities (both N x C)."""
    rows = np.arange(len(codes))
    p = 0.5 * (knn + probe)
    classes = p.shape[1]
    per_class = np.array(
        [p[codes == c, c].mean() if (codes == c).any() else 1.0 for c in range(classes)]
    )
    given = p[rows, codes]
    others = p.copy()
    others[rows, codes] = -np.inf
    suggested = others.argmax(axis=1)
    score = others[rows, suggested] - given
    confident = others[rows, suggested] >= per_class[suggested]
    disagree = (knn.argmax(axis=1) != codes) & (probe.argmax(axis=1) != codes)
    flagged = disagree & confident & (score > margin)
    return LabelVerdict(score, flagged, suggested)
