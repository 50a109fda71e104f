"""Benchmark: selection (issue 6's table), all in one run.

    python tests/perf/bench_select.py                  # everything
    python tests/perf/bench_select.py --only active    # one part: diversity or active

1. Diversity (k-center greedy), 100k x 128 -> 1k and 1M x 128 -> 10k unit vectors: Sieve against
   lightly-mundig's Selection().add_diversifying_strategy(...), time and minimum pairwise distance.
2. Active learning on Fashion-MNIST (PCA-64 of pixels): 20 random labels, 5 rounds of 40, probe
   accuracy on the test split per round and strategy, mean of 3 seeds, plus a PNG plot.
"""

from __future__ import annotations

from bench_select_active import bench_active
from bench_select_diversity import bench_diversity
from common import run_parts

PARTS = {"diversity": bench_diversity, "active": bench_active}


if __name__ == "__main__":
    run_parts(__doc__, PARTS)
