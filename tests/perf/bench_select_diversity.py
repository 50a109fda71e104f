"""Diversity selection speed and quality: Sieve's k-center greedy against lightly-mundig.

Random unit vectors (128-D, float32, seed 0); both pick with farthest-point greedy from row 0,
so with exact arithmetic they choose the same rows. Measured in one run, per case: wall time of
``select(n, [Diversity(embeddings)])`` and of mundig's ``Selection()`` +
``add_diversifying_strategy(embeddings, 1.0)`` + ``run_selection([], N, n)``, and the minimum
pairwise distance of each result (computed in blocks, never a full n x n matrix).

    python tests/perf/bench_select_diversity.py          # 100k -> 1k and 1M -> 10k (~15 min)
    python tests/perf/bench_select_diversity.py --quick  # 100k -> 1k only
"""

from __future__ import annotations

import argparse

import numpy as np
from common import print_table, timed

from app.core.selection.select import Diversity, select

CASES = [(100_000, 1_000), (1_000_000, 10_000)]
PAIR_BLOCK = 1024


def bench_diversity(cases: list[tuple[int, int]] | None = None) -> None:
    """Print Sieve vs mundig time and minimum pairwise distance for each (N, n) case."""
    import lightly_mundig

    rows = []
    for count, wanted in cases or CASES:
        embeddings = random_unit(count, 128)
        sieve_s, chosen = timed(lambda e=embeddings, w=wanted: select(w, [Diversity(e)]))
        mundig_s, theirs = timed(lambda e=embeddings, w=wanted: _mundig(lightly_mundig, e, w))
        ours = chosen.indices
        theirs = np.asarray(theirs, dtype=np.int64)
        ours_min = min_pairwise_distance(embeddings[ours])
        theirs_min = min_pairwise_distance(embeddings[theirs])
        same = int((ours == theirs).sum()) if len(ours) == len(theirs) else 0
        rows.append(
            [
                f"{count:,} x 128 -> {wanted:,}",
                f"{sieve_s:.2f}",
                f"{mundig_s:.2f}",
                f"{sieve_s / mundig_s:.3f}",
                f"{ours_min:.5f}",
                f"{theirs_min:.5f}",
                f"{ours_min / theirs_min:.4f}",
                f"{same:,}/{wanted:,}",
            ]
        )
        del embeddings
    print_table(
        "Diversity selection (k-center greedy), random unit vectors",
        [
            "case",
            "Sieve s",
            "mundig s",
            "ratio",
            "Sieve min distance",
            "mundig min distance",
            "ratio",
            "same picks",
        ],
        rows,
    )


def _mundig(module: object, embeddings: np.ndarray, wanted: int) -> list[int]:
    selection = module.Selection()
    selection.add_diversifying_strategy(embeddings, 1.0, None)
    return selection.run_selection([], len(embeddings), wanted)


def random_unit(count: int, dim: int, seed: int = 0) -> np.ndarray:
    """Random unit vectors, float32, normalised in chunks (memory N x D)."""
    vectors = np.random.default_rng(seed).standard_normal((count, dim), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def min_pairwise_distance(vectors: np.ndarray) -> float:
    """Smallest euclidean distance between two rows, in blocks of PAIR_BLOCK rows (float64)."""
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.einsum("ij,ij->i", vectors, vectors)
    smallest = np.inf
    for start in range(0, len(vectors) - 1, PAIR_BLOCK):
        block = vectors[start : start + PAIR_BLOCK]
        later = vectors[start + 1 :]
        squared = norms[start : start + PAIR_BLOCK, None] + norms[None, start + 1 :]
        squared -= 2.0 * block @ later.T
        rows = np.arange(len(block))[:, None]
        squared[np.arange(len(later))[None, :] < rows] = np.inf
        smallest = min(smallest, float(squared.min()))
    return float(np.sqrt(max(smallest, 0.0)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the 100k -> 1k case")
    args = parser.parse_args()
    bench_diversity(CASES[:1] if args.quick else CASES)


if __name__ == "__main__":
    main()
