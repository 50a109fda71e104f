"""UMAP speed and quality: Sieve's map against umap-learn with its default settings.

Fashion-MNIST, all 70k images (train + test): pixels / 255 -> float32 -> PCA-50 with Sieve's PCA.
Both get the same PCA-50 array. umap-learn runs ``umap.UMAP().fit_transform(x)`` (euclidean,
nndescent, spectral start, 200 epochs, both cores). Sieve runs ``project_2d(x, "umap")`` as the
app does on embeddings: rows L2-normalised, cosine distance, a faiss inverted-file kNN graph
(exact up to 20k rows), PCA start, 50 epochs, 4 negative samples per edge (umap: 5), seeded
(so one core for the epochs). Both have
numba warm. Quality: sklearn's trustworthiness (10 neighbours) of the same 5k rows, measured
against the PCA-50 array (euclidean).

Before the timings, Sieve's epoch-by-epoch UMAP is checked to equal
``umap.UMAP(precomputed_knn=..., init=...)`` bit for bit on 2k rows.

    python tests/perf/maps_umap.py     # a few minutes on 2 cores
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import fashion_mnist, print_table, timed  # noqa: E402

from app.core.embeddings import maps  # noqa: E402
from app.core.store.embedding_sets import l2_normalise  # noqa: E402

TRUST_ROWS = 5_000
TRUST_NEIGHBOURS = 10
CHECK_ROWS = 2_000


def fashion_pca50() -> np.ndarray:
    """All 70k Fashion-MNIST images as PCA-50 float32 rows."""
    (train, _), (test, _) = fashion_mnist("train"), fashion_mnist("test")
    pixels = np.concatenate([train, test]).reshape(-1, 28 * 28).astype(np.float32) / 255.0
    return maps.pca(pixels, 50)


def matches_umap_learn(x: np.ndarray) -> bool:
    """Sieve's UMAP equals umap-learn's UMAP fed the same kNN graph and start, bit for bit."""
    import umap

    unit = l2_normalise(x)
    settings = maps.resolve_params("umap", {"n_epochs": 50})
    ours = maps.project_2d(unit, "umap", **settings)
    rows, dists = maps.neighbour_graph(unit, settings)
    reference = umap.UMAP(
        n_neighbors=settings["n_neighbors"],
        min_dist=settings["min_dist"],
        metric=settings["metric"],
        n_epochs=settings["n_epochs"],
        negative_sample_rate=maps.NEGATIVE_SAMPLE_RATE,
        precomputed_knn=(rows, dists),
        init=maps.init_layout(maps.pca(unit), settings["seed"]),
        random_state=settings["seed"],
    ).fit_transform(unit)
    return bool(np.array_equal(ours, reference))


def warm_up(x: np.ndarray) -> None:
    """Compile both: Sieve's kernels, and umap-learn's nndescent (> 4096 rows) path."""
    import umap

    maps.warm_up()
    umap.UMAP(n_epochs=5).fit_transform(x[:5_000])


def bench_umap() -> None:
    """Print wall time and trustworthiness of both UMAPs on Fashion-MNIST 70k (PCA-50)."""
    import warnings

    from sklearn.manifold import trustworthiness

    warnings.filterwarnings("ignore", module="umap")
    x = fashion_pca50()
    rows = np.random.default_rng(0).choice(len(x), TRUST_ROWS, replace=False)
    same = matches_umap_learn(x[:CHECK_ROWS])
    warm_up(x)

    import umap

    results = {
        "Sieve project_2d(umap)": timed(lambda: maps.project_2d(x, "umap")),
        "umap-learn UMAP() defaults": timed(lambda: umap.UMAP().fit_transform(x)),
    }
    reference_s, reference_xy = results["umap-learn UMAP() defaults"]
    reference_trust = trustworthiness(x[rows], reference_xy[rows], n_neighbors=TRUST_NEIGHBOURS)
    table = []
    for name, (seconds, xy) in results.items():
        trust = trustworthiness(x[rows], xy[rows], n_neighbors=TRUST_NEIGHBOURS)
        table.append(
            [
                name,
                f"{seconds:.1f}",
                f"{trust:.4f}",
                f"{seconds / reference_s:.2f}x",
                f"{trust / reference_trust:.3f}x",
            ]
        )
    print_table(
        f"UMAP of Fashion-MNIST 70k (PCA-50), trustworthiness k={TRUST_NEIGHBOURS} on "
        f"{TRUST_ROWS} rows; Sieve: unit rows, cosine, faiss IVF kNN, PCA start, "
        f"{maps.auto_epochs(len(x))} epochs, negative_sample_rate "
        f"{maps.NEGATIVE_SAMPLE_RATE:g}, 1 core; umap-learn: raw rows, euclidean, "
        "nndescent, spectral start, 200 epochs on all cores. "
        f"Sieve == umap.UMAP(precomputed_knn) on {CHECK_ROWS} rows: {'yes' if same else 'NO'}",
        ["method", "wall s", "trustworthiness", "time vs umap-learn", "trust vs umap-learn"],
        table,
    )


if __name__ == "__main__":
    bench_umap()
