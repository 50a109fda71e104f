"""A linear probe on embeddings: multinomial logistic regression fitted with full-batch L-BFGS.

The loss (mean cross-entropy plus ``weight_decay * |W|^2``) is convex and the weights start at
zero, so a fit has no randomness: the same labelled rows give the same probe. torch is imported
by the fit only, so reading round histories (the GUI's Label panel) stays torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.core.active.uncertainty import softmax
from app.core.jobs import CancelToken

ITERATIONS = 500
WEIGHT_DECAY = 1e-4
_CHUNK = 65_536


@dataclass
class Probe:
    """``logits = embeddings @ weight + bias``; column ``j`` is the label ``classes[j]``."""

    weight: np.ndarray  # D x C float32
    bias: np.ndarray  # C float32
    classes: np.ndarray  # C int64, ascending

    def logits(self, embeddings: np.ndarray) -> np.ndarray:
        out = np.empty((len(embeddings), len(self.classes)), dtype=np.float32)
        for start in range(0, len(embeddings), _CHUNK):
            block = np.asarray(embeddings[start : start + _CHUNK], dtype=np.float32)
            out[start : start + len(block)] = block @ self.weight + self.bias
        return out

    def probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        """N x C class probabilities (one column of ones when one class was labelled)."""
        return softmax(self.logits(embeddings))

    def predict(self, embeddings: np.ndarray) -> np.ndarray:
        """The most probable label of every row."""
        return self.classes[self.logits(embeddings).argmax(axis=1)]


def fit_probe(
    embeddings: np.ndarray,
    labels: np.ndarray,
    iterations: int = ITERATIONS,
    weight_decay: float = WEIGHT_DECAY,
    cancel: CancelToken | None = None,
) -> Probe:
    """Fit a probe on labelled rows (``labels`` any integers, one per row of ``embeddings``).

    ``cancel`` is checked before every evaluation of the loss (JobCancelled).
    """
    import torch
    import torch.nn.functional as F

    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) != len(embeddings) or not len(labels):
        raise ValueError(f"{len(labels)} labels for {len(embeddings)} embeddings")
    classes, targets = np.unique(labels, return_inverse=True)
    features = torch.from_numpy(np.ascontiguousarray(embeddings, dtype=np.float32))
    dim = features.shape[1]
    if len(classes) == 1:
        return Probe(np.zeros((dim, 1), np.float32), np.zeros(1, np.float32), classes)
    weight = torch.zeros(dim, len(classes), requires_grad=True)
    bias = torch.zeros(len(classes), requires_grad=True)
    target = torch.from_numpy(targets.astype(np.int64))
    optimiser = torch.optim.LBFGS(
        [weight, bias],
        lr=1.0,
        max_iter=iterations,
        history_size=20,
        tolerance_grad=1e-6,
        tolerance_change=1e-9,
        line_search_fn="strong_wolfe",
    )

    def closure() -> torch.Tensor:
        if cancel is not None:
            cancel.raise_if_cancelled()
        optimiser.zero_grad()
        loss = F.cross_entropy(features @ weight + bias, target)
        loss = loss + weight_decay * weight.pow(2).sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    if cancel is not None:
        cancel.raise_if_cancelled()  # a fit that converged just after a cancel is still cancelled
    return Probe(
        weight.detach().numpy().copy(), bias.detach().numpy().copy(), classes.astype(np.int64)
    )
