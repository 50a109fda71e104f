"""Training monitors: collapse (std of normalised outputs) and weighted kNN accuracy."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


class CollapseMeter:
    """Mean over batches of the per-dimension std of L2-normalised outputs.

    An uncollapsed D-dimensional output has a std near 1/sqrt(D); a collapsed one near 0.
    ``relative`` is the std times sqrt(D), so 1.0 is healthy and values near 0 mean collapse.
    """

    def __init__(self) -> None:
        self._total = 0.0
        self._count = 0
        self._dim = 1

    def update(self, outputs: Tensor) -> None:
        if outputs.shape[0] < 2:
            return
        normalised = F.normalize(outputs.detach().float(), dim=1)
        self._total += float(normalised.std(dim=0).mean())
        self._count += 1
        self._dim = outputs.shape[1]

    @property
    def std(self) -> float | None:
        return self._total / self._count if self._count else None

    @property
    def relative(self) -> float | None:
        std = self.std
        return None if std is None else std * self._dim**0.5


COLLAPSE_WARNING = 0.1


@torch.no_grad()
def knn_predict(
    features: Tensor,
    bank: Tensor,
    bank_labels: Tensor,
    num_classes: int,
    k: int = 200,
    temperature: float = 0.1,
) -> Tensor:
    """Class scores of each query by temperature-weighted voting of its k nearest bank rows.

    ``features`` (Q, D) and ``bank`` (N, D) must be L2-normalised; the similarity is cosine.
    This is the monitor of InstDisc / lightly's ``knn_predict`` (k=200, T=0.1 by default).
    """
    k = min(k, bank.shape[0])
    similarity = features @ bank.T
    weights, indices = similarity.topk(k, dim=1)
    weights = (weights / temperature).exp()
    one_hot = F.one_hot(bank_labels[indices], num_classes).float()
    return (one_hot * weights.unsqueeze(-1)).sum(dim=1)


@torch.no_grad()
def knn_accuracy(
    query: Tensor,
    query_labels: Tensor,
    bank: Tensor,
    bank_labels: Tensor,
    k: int = 200,
    temperature: float = 0.1,
    chunk: int = 1024,
) -> float:
    """Top-1 accuracy of :func:`knn_predict` over ``query``, computed in chunks."""
    query = F.normalize(query.float(), dim=1)
    bank = F.normalize(bank.float(), dim=1)
    num_classes = int(max(bank_labels.max(), query_labels.max())) + 1
    correct = 0
    for start in range(0, query.shape[0], chunk):
        scores = knn_predict(
            query[start : start + chunk], bank, bank_labels, num_classes, k, temperature
        )
        correct += int((scores.argmax(dim=1) == query_labels[start : start + chunk]).sum())
    return correct / max(1, query.shape[0])


def holdout_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions (train, held out): ``fraction`` of each labelled class held out, at least one.

    Unlabelled rows (-1) and classes with a single sample always stay in the training part.
    """
    rng = np.random.default_rng(seed)
    held: list[np.ndarray] = []
    if fraction > 0:
        for label in np.unique(labels[labels >= 0]):
            members = np.flatnonzero(labels == label)
            if len(members) < 2:
                continue
            count = max(1, int(round(len(members) * fraction)))
            held.append(rng.choice(members, size=count, replace=False))
    held_out = np.sort(np.concatenate(held)) if held else np.empty(0, dtype=np.int64)
    train = np.setdiff1d(np.arange(len(labels)), held_out)
    return train, held_out
