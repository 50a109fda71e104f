"""Benchmark part: k=10 search over 1M x 128 random unit vectors, HNSW against exact search.

Exact search is faiss ``IndexFlatIP`` (what Sieve uses up to 200k rows) and numpy's brute force
(the detail view's strip); HNSW is what Sieve builds above 200k rows. Latency is per single
query (a click in the GUI), median over many; recall@10 is against the exact answer.
"""

from __future__ import annotations

import argparse
import time

import faiss
import numpy as np
from common import print_table

from app.core.embeddings.neighbours import HNSW_EF_SEARCH, build_index, search
from app.core.store.embedding_sets import l2_normalise

K = 10
EF_SEARCH = (64, 128, 256, 512)


def unit_vectors(count: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty((count, dim), dtype=np.float32)
    for start in range(0, count, 100_000):
        stop = min(start + 100_000, count)
        out[start:stop] = l2_normalise(rng.standard_normal((stop - start, dim), dtype=np.float32))
    return out


def single_query_ms(answer, queries: np.ndarray) -> float:
    times = []
    for query in queries:
        started = time.perf_counter()
        answer(query[None, :])
        times.append(time.perf_counter() - started)
    return 1000 * float(np.median(times))


def numpy_top_k(vectors: np.ndarray, query: np.ndarray) -> np.ndarray:
    sims = vectors @ query[0]
    top = np.argpartition(-sims, K)[:K]
    return top[np.argsort(-sims[top])]


def bench_search(count: int = 1_000_000, dim: int = 128, queries: int = 200) -> None:
    print(
        f"\nsearch: {count:,} x {dim} random unit vectors, k={K}, faiss {faiss.__version__}, "
        f"{faiss.omp_get_max_threads()} threads",
        flush=True,
    )
    vectors = unit_vectors(count, dim, seed=0)
    probes = unit_vectors(queries, dim, seed=1)
    started = time.perf_counter()
    exact = build_index(vectors, "exact")
    exact_build = time.perf_counter() - started
    truth, _ = search(exact, probes, K)
    started = time.perf_counter()
    hnsw = build_index(vectors, "hnsw")
    hnsw_build = time.perf_counter() - started
    exact_ms = single_query_ms(lambda q: search(exact, q, K), probes[:50])
    numpy_ms = single_query_ms(lambda q: numpy_top_k(vectors, q), probes[:50])
    rows = [
        ["numpy brute force", "-", f"{numpy_ms:.2f}", f"{exact_ms / numpy_ms:.2f}x", "1.000"],
        ["faiss exact (FlatIP)", f"{exact_build:.1f}", f"{exact_ms:.2f}", "1.00x", "1.000"],
    ]
    for ef in EF_SEARCH:
        hnsw.hnsw.efSearch = ef
        found, _ = search(hnsw, probes, K)
        recall = np.mean([len(set(a) & set(b)) / K for a, b in zip(truth, found, strict=True)])
        hnsw_ms = single_query_ms(lambda q: search(hnsw, q, K), probes)
        mark = " (Sieve's default)" if ef == HNSW_EF_SEARCH else ""
        build = f"{hnsw_build:.1f}" if ef == EF_SEARCH[0] else ""
        rows.append(
            [
                f"HNSW efSearch {ef}{mark}",
                build,
                f"{hnsw_ms:.3f}",
                f"{exact_ms / hnsw_ms:.0f}x",
                f"{recall:.3f}",
            ]
        )
    print_table(
        "k=10 nearest of one query (median), recall@10 against exact search",
        ["index", "build s", "query ms", "vs exact", "recall@10"],
        rows,
    )
    print("vs exact: how many times faster than one exact faiss query")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=128)
    args = parser.parse_args()
    bench_search(args.count, args.dim)
