"""The selection strategies: plain descriptions, turned into objectives by ``selection_objectives``.

A ``strength`` is the exponent of the strategy's normalised objective (0 switches it off); a
negative strength inverts the objective (prefers what it would avoid).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass

import numpy as np

Target = str | Mapping[Hashable, float]


@dataclass(frozen=True, eq=False)
class Diversity:
    """Farthest-point (k-center greedy): each pick is far from every chosen or preselected one.

    Distances are euclidean between the L2-normalised embeddings (0 to 2). With
    ``min_distance`` the selection stops once every remaining candidate is closer than that.
    """

    embeddings: np.ndarray
    strength: float = 1.0
    min_distance: float | None = None


@dataclass(frozen=True, eq=False)
class Typicality:
    """Prefers typical samples: high mean cosine similarity to their ``k`` nearest others."""

    embeddings: np.ndarray
    k: int = 20
    strength: float = 1.0


@dataclass(frozen=True, eq=False)
class Similarity:
    """Prefers samples like the query: their largest cosine similarity to any query.

    ``query`` is embeddings (Q x D, or one D-vector) or sample rows (a 1-D integer array).
    """

    embeddings: np.ndarray
    query: np.ndarray
    strength: float = 1.0


@dataclass(frozen=True, eq=False)
class Weighting:
    """Prefers high ``values`` (any per-sample score); rows with NaN come after all others."""

    values: np.ndarray
    strength: float = 1.0


@dataclass(frozen=True, eq=False)
class Balancing:
    """Steers the class shares of preselected + chosen samples towards ``target``.

    ``labels_or_probabilities``: labels (1-D ints or strings; negative ints, NaN and None are
    unknown) or class probabilities (N x C; all-zero rows are unknown). Unknown rows count for
    no class and are never preferred by the balance. ``target``:
    ``"uniform"``, ``"input"`` (the shares among the input's known labels) or ``{class: share}``
    (classes are label values, or column numbers for probabilities; shares are normalised).
    """

    labels_or_probabilities: np.ndarray
    target: Target = "uniform"
    strength: float = 1.0


@dataclass(frozen=True, eq=False)
class Random:
    """Random preference: a uniform random value per sample (``seed`` None: select's seed).

    Alone it gives a random order; it then needs ``count``, the number of samples.
    """

    seed: int | None = None
    strength: float = 1.0
    count: int | None = None


Strategy = Diversity | Typicality | Similarity | Weighting | Balancing | Random
