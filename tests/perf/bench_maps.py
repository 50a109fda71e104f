"""Benchmark: maps, search and embedding throughput, all in one run (issue 5's table).

    python tests/perf/bench_maps.py                 # everything (about 15-25 minutes on 2 cores)
    python tests/perf/bench_maps.py --only search   # one part: umap, search or embed

1. Fashion-MNIST 70k, pixels -> PCA-50: Sieve's UMAP against umap-learn's defaults, both with
   numba warm; wall time and trustworthiness (k=10) on a fixed 5k subsample.
2. 1M x 128 random unit vectors: k=10 query latency and recall@10 against exact search.
3. Embedding throughput from image files against the forward-only ceiling of the same model.
"""

from __future__ import annotations

from common import run_parts
from maps_embed import bench_embed
from maps_search import bench_search
from maps_umap import bench_umap

PARTS = {"umap": bench_umap, "search": bench_search, "embed": bench_embed}


if __name__ == "__main__":
    run_parts(__doc__, PARTS)
