"""2-D maps of an embedding set: PCA at once, then UMAP (umap-learn) animated epoch by epoch.

PCA is exact: the eigenvectors of the D x D covariance, signs fixed so that each component's
largest loading is positive. UMAP is umap-learn's algorithm fed a faiss kNN graph, the same as
``umap.UMAP(precomputed_knn=(indices, distances), init=<scaled PCA>, random_state=seed)``:
umap's fuzzy simplicial set and its SGD epoch, driven here one epoch at a time so that the job
can yield intermediate layouts and stop between epochs. umap's own ``fit`` runs the optimiser in
one call and only hands out intermediate layouts (``n_epochs=[...]``) once it has finished.

umap-learn has no public API for one epoch, so its private functions are called here, always by
keyword: pyproject.toml pins the umap-learn range they were tested with, and
tests/core/embeddings/test_maps.py binds the arguments Sieve passes to the installed umap's
signatures, failing with the function's name when they no longer fit.

umap's numba kernels are recompiled here with ``cache=True`` (umap compiles them afresh in
every process: 10 to 30 s on two cores): the first run ever pays the compilation, later
processes load it from ``$NUMBA_CACHE_DIR`` (default ``~/.cache/sieve/numba``, set before umap
is imported) in about two seconds, most of it importing umap. :func:`warm_up` does this off the
GUI thread. umap and numba are imported lazily: importing this module is cheap.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from threadpoolctl import threadpool_limits

from app.core.embeddings.neighbours import knn_graph
from app.core.errors import SieveError
from app.core.jobs import CancelToken, Job, Progress, run_job
from app.core.paths import user_cache_dir
from app.core.store.arrays import atomic_file
from app.core.store.embedding_sets import l2_normalise

VERSION = "sieve-maps-1"
METHODS = ("pca", "umap")
METRICS = ("cosine", "euclidean")
UMAP_DEFAULTS: dict[str, Any] = {
    "n_neighbors": 15,
    "min_dist": 0.1,
    "metric": "cosine",
    "seed": 0,
    "n_epochs": None,
    "pca_dims": 50,
}
MIN_UMAP_POINTS = 10
FRAMES = 25
INIT_SPAN = 10.0
DISCONNECTED = {"cosine": 2.0}
NEGATIVE_SAMPLE_RATE = 4.0  # umap: 5; on Fashion-MNIST 70k, 15% faster at 0.9996x the trust
EXACT_GRAPH_LIMIT = 20_000
IVF_PROBES = 8

_LOADING = threading.Lock()
_PARALLEL = threading.Lock()  # numba's workqueue threading layer is not thread-safe
_loaded: _Kernels | None = None


def numba_cache_dir() -> Path:
    """Where numba keeps compiled code: ``$NUMBA_CACHE_DIR`` or a per-user cache folder."""
    override = os.environ.get("NUMBA_CACHE_DIR")
    return Path(override) if override else user_cache_dir() / "numba"


def project_2d(embeddings: np.ndarray, method: str = "pca", **params: Any) -> np.ndarray:
    """``(N, 2)`` float32 coordinates of ``embeddings`` by ``"pca"`` or ``"umap"``."""
    return run_job(map_job(embeddings, method, params, CancelToken()))


def map_job(
    embeddings: np.ndarray,
    method: str,
    params: dict[str, Any] | None,
    cancel: CancelToken,
    cache_dir: Path | None = None,
) -> Job[np.ndarray]:
    """Compute a map, yielding layouts on the way (``partial={"kind": "layout", ...}``).

    PCA comes first, at once; UMAP follows with a layout every few epochs. With ``cache_dir``
    the result is saved there as ``<key>.npy`` and loaded instead of recomputed next time.
    """
    vectors = check_embeddings(embeddings)
    settings = resolve_params(method, params or {})
    key = cache_key(vectors, method, settings) if cache_dir is not None else ""
    cached = _load_cached(Path(cache_dir), key) if cache_dir is not None else None
    if cached is not None and cached.shape == (len(vectors), 2):
        yield Progress("map", 1, 1, "loaded from cache", _layout(method, cached))
        return cached
    if method == "pca":
        xy = pca(vectors)
        yield Progress("map", 1, 1, "PCA", _layout("pca", xy))
    else:
        xy = yield from _umap_job(vectors, settings, cancel)
    if cache_dir is not None:
        note = _save_cached(Path(cache_dir), key, xy)
        if note:
            yield Progress("map", 1, 1, note)
    return xy


def check_embeddings(embeddings: np.ndarray) -> np.ndarray:
    """``embeddings`` as a C-contiguous float32 N x D array, or SieveError saying what is wrong."""
    array = np.asarray(embeddings)
    if array.ndim != 2:
        raise SieveError(f"a map needs an N x D array of embeddings, not shape {array.shape}")
    if len(array) < 3:
        raise SieveError(f"a map needs at least 3 embeddings, got {len(array)}")
    if array.shape[1] < 1:
        raise SieveError("the embeddings have no dimensions")
    if not np.issubdtype(array.dtype, np.number):
        raise SieveError(f"embeddings must be numbers, not {array.dtype}")
    array = np.ascontiguousarray(array, dtype=np.float32)
    bad = ~np.isfinite(array).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        shown = ", ".join(str(row) for row in rows[:5]) + (", ..." if len(rows) > 5 else "")
        raise SieveError(f"{len(rows)} embeddings hold NaN or infinite values (rows {shown})")
    return array


def resolve_params(method: str, params: dict[str, Any]) -> dict[str, Any]:
    """The method's full parameters (defaults filled in), checked; SieveError when invalid."""
    if method not in METHODS:
        raise SieveError(f"unknown map method {method!r}: use one of {', '.join(METHODS)}")
    defaults = UMAP_DEFAULTS if method == "umap" else {}
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        allowed = ", ".join(defaults) or "none"
        raise SieveError(f"unknown {method} parameter(s) {', '.join(unknown)} (allowed: {allowed})")
    settings = {**defaults, **params}
    if method == "umap":
        _check_umap_params(settings)
    return settings


def _check_umap_params(settings: dict[str, Any]) -> None:
    if not _is_int(settings["n_neighbors"]) or settings["n_neighbors"] < 2:
        raise SieveError(f"n_neighbors must be an integer >= 2, not {settings['n_neighbors']!r}")
    min_dist = settings["min_dist"]
    if isinstance(min_dist, bool) or not isinstance(min_dist, (int, float)):
        raise SieveError(f"min_dist must be a number, not {min_dist!r}")
    if not 0.0 <= min_dist <= 1.0:
        raise SieveError(f"min_dist must be between 0 and 1, not {min_dist}")
    if settings["metric"] not in METRICS:
        raise SieveError(f"unknown metric {settings['metric']!r}: use {' or '.join(METRICS)}")
    if not _is_int(settings["seed"]) or settings["seed"] < 0:
        raise SieveError(f"seed must be an integer >= 0, not {settings['seed']!r}")
    epochs = settings["n_epochs"]
    if epochs is not None and (not _is_int(epochs) or epochs < 1):
        raise SieveError(f"n_epochs must be an integer >= 1 (or None: automatic), not {epochs!r}")
    if not _is_int(settings["pca_dims"]) or settings["pca_dims"] < 0:
        raise SieveError(f"pca_dims must be an integer >= 0 (0: off), not {settings['pca_dims']!r}")


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def cache_key(vectors: np.ndarray, method: str, settings: dict[str, Any]) -> str:
    """sha256 of the array (shape, dtype, bytes), the method, its parameters and the version."""
    vectors = np.ascontiguousarray(vectors)
    digest = hashlib.sha256()
    digest.update(f"{VERSION}|{method}|{vectors.dtype.str}|{vectors.shape}|".encode())
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    digest.update(memoryview(vectors).cast("B"))
    return f"{method}-{digest.hexdigest()[:40]}"


def _load_cached(folder: Path, key: str) -> np.ndarray | None:
    path = folder / f"{key}.npy"
    if not path.is_file():
        return None
    try:
        xy = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None
    return np.ascontiguousarray(xy, dtype=np.float32) if xy.ndim == 2 else None


def _save_cached(folder: Path, key: str, xy: np.ndarray) -> str:
    """Save a map; returns a note for the user when the folder cannot be written."""
    try:
        with atomic_file(folder / f"{key}.npy") as handle:
            np.save(handle, xy, allow_pickle=False)
    except OSError as error:
        return f"the map could not be cached in {folder}: {error.strerror or error}"
    return ""


def _layout(method: str, xy: np.ndarray, epoch: int | None = None) -> dict[str, Any]:
    partial: dict[str, Any] = {"kind": "layout", "method": method, "xy": xy}
    if epoch is not None:
        partial["epoch"] = epoch
    return partial


def principal_axes(vectors: np.ndarray, count: int, centre: bool = True) -> np.ndarray:
    """The top ``count`` principal directions (D x count), each with its largest loading > 0.

    ``centre=False`` takes them from the second moment instead of the covariance: projecting on
    them keeps inner products (cosine similarities) as well as ``count`` dimensions can.
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    if centre:
        vectors = vectors - vectors.mean(axis=0, dtype=np.float64).astype(np.float32)
    moment = (vectors.T @ vectors).astype(np.float64)
    with threadpool_limits(1, user_api="blas"):  # D x D: threads only wait (8k x 512: 2 s -> 0.03)
        values, axes = np.linalg.eigh(moment)
    axes = axes[:, np.argsort(values)[::-1][:count]]
    strongest = np.abs(axes).argmax(axis=0)
    axes *= np.sign(axes[strongest, np.arange(axes.shape[1])])
    return axes.astype(np.float32)


def pca(vectors: np.ndarray, dims: int = 2) -> np.ndarray:
    """The centred data on its first ``dims`` principal components (N x dims float32).

    Data with fewer than ``dims`` dimensions gets zero columns for the missing ones.
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    centred = vectors - vectors.mean(axis=0, dtype=np.float64).astype(np.float32)
    coords = np.zeros((len(vectors), dims), dtype=np.float32)
    axes = principal_axes(centred, dims, centre=False)
    coords[:, : axes.shape[1]] = centred @ axes
    return coords


def reduce_dims(unit_vectors: np.ndarray, dims: int) -> np.ndarray:
    """Unit rows projected on their top ``dims`` uncentred principal axes, normalised again."""
    axes = principal_axes(unit_vectors, dims, centre=False)
    return l2_normalise(unit_vectors @ axes)


def auto_epochs(count: int) -> int:
    """Epochs when none are asked for: 200 up to 5k rows, falling to 50 from 20k rows.

    Started from PCA, Fashion-MNIST 70k is as trustworthy after 50 epochs as after 200
    (0.978 both); umap's defaults (200/500 from a spectral start) cost four times as much.
    """
    return max(50, min(200, 1_000_000 // count))


def _umap_job(
    vectors: np.ndarray, settings: dict[str, Any], cancel: CancelToken
) -> Job[np.ndarray]:
    """UMAP from a PCA start: yields the PCA layout, then one every few epochs."""
    unit = l2_normalise(vectors)
    start = pca(unit)
    count = len(unit)
    if count < MIN_UMAP_POINTS:
        note = f"UMAP needs at least {MIN_UMAP_POINTS} points: showing PCA of {count}"
        yield Progress("map", 1, 1, note, _layout("pca", start))
        return start
    epochs = settings["n_epochs"] or auto_epochs(count)
    yield Progress(
        "map", 0, epochs, "PCA layout; building the neighbour graph", _layout("pca", start)
    )
    cancel.raise_if_cancelled()
    rows, dists = neighbour_graph(unit, settings)
    cancel.raise_if_cancelled()
    yield Progress("map", 0, epochs, "neighbour graph built; preparing UMAP")
    cancel.raise_if_cancelled()
    layout = UmapLayout(rows, dists, start, settings)
    step = max(1, epochs // FRAMES)
    for epoch in range(epochs):
        layout.run_epoch()
        cancel.raise_if_cancelled()
        done = epoch + 1
        if done % step == 0 and done < epochs:
            frame = _layout("umap", layout.embedding.copy(), done)
            yield Progress("map", done, epochs, f"UMAP epoch {done}/{epochs}", frame)
    return layout.embedding.copy()


def neighbour_distances(similarities: np.ndarray, metric: str) -> np.ndarray:
    """Cosine similarities of unit rows turned into ``metric`` distances (float32, >= 0)."""
    if metric == "cosine":
        return np.maximum(0.0, 1.0 - similarities).astype(np.float32)
    return np.sqrt(np.maximum(0.0, 2.0 - 2.0 * similarities)).astype(np.float32)


def init_layout(xy: np.ndarray, seed: int) -> np.ndarray:
    """A start layout scaled as umap scales its own (each axis to 0..10), with tiny noise."""
    noise = np.random.RandomState(seed).normal(scale=1e-4, size=xy.shape)
    return (_span(xy) + noise).astype(np.float32)


def _span(xy: np.ndarray) -> np.ndarray:
    """Each axis scaled to 0..INIT_SPAN (a constant axis to 0), C-contiguous float32."""
    low, high = xy.min(axis=0), xy.max(axis=0)
    scaled = INIT_SPAN * (xy - low) / np.maximum(high - low, 1e-12)
    return np.ascontiguousarray(scaled, dtype=np.float32)


class UmapLayout:
    """umap's layout optimisation over a faiss kNN graph, one epoch per :meth:`run_epoch`.

    Reproduces ``umap.UMAP(precomputed_knn=..., init=init_layout(start), n_epochs=...,
    random_state=seed)`` step for step: the same graph, start, random state and SGD epochs.
    """

    def __init__(
        self, rows: np.ndarray, dists: np.ndarray, start: np.ndarray, settings: dict[str, Any]
    ) -> None:
        kernels = _kernels()
        count = len(rows)
        seed = int(settings["seed"])
        self.n_epochs = int(settings["n_epochs"] or auto_epochs(count))
        graph = fuzzy_graph(rows, dists, settings["metric"], kernels)
        self.head, self.tail, self.epochs_per_sample = _edges(graph, self.n_epochs, kernels)
        self.embedding = _span(init_layout(start, seed))
        self.a, self.b = kernels.find_ab_params(spread=1.0, min_dist=float(settings["min_dist"]))
        int32 = np.iinfo(np.int32)
        self.rng_state = (
            np.random.RandomState(seed).randint(int32.min + 1, int32.max - 1, 3).astype(np.int64)
        )
        own_bits = self.embedding[:, 0].astype(np.float64).view(np.int64).reshape(-1, 1)
        self._rng = np.full((count, 3), self.rng_state, dtype=np.int64) + own_bits
        self._per_negative = self.epochs_per_sample / NEGATIVE_SAMPLE_RATE
        self._next_negative = self._per_negative.copy()
        self._next_sample = self.epochs_per_sample.copy()
        self._epoch_fn = kernels.epoch
        self._alpha = 1.0
        self.epoch = 0

    def run_epoch(self) -> None:
        """One SGD epoch: the body of umap's ``optimize_layout_euclidean`` loop, densMAP off."""
        self._epoch_fn(**self.epoch_arguments())
        self._alpha = 1.0 - float(self.epoch) / float(self.n_epochs)
        self.epoch += 1

    def epoch_arguments(self) -> dict[str, Any]:
        """The keyword arguments of umap's single-epoch kernel for the next epoch."""
        unused = np.zeros(1, dtype=np.float32)
        return {
            "head_embedding": self.embedding,
            "tail_embedding": self.embedding,
            "head": self.head,
            "tail": self.tail,
            "n_vertices": self.embedding.shape[0],
            "epochs_per_sample": self.epochs_per_sample,
            "a": self.a,
            "b": self.b,
            "rng_state_per_sample": self._rng,
            "gamma": 1.0,
            "dim": 2,
            "move_other": True,
            "alpha": self._alpha,
            "epochs_per_negative_sample": self._per_negative,
            "epoch_of_next_negative_sample": self._next_negative,
            "epoch_of_next_sample": self._next_sample,
            "n": self.epoch,
            "densmap_flag": False,
            "dens_phi_sum": unused,
            "dens_re_sum": unused,
            "dens_re_cov": 0,
            "dens_re_std": 0,
            "dens_re_mean": 0,
            "dens_lambda": 0,
            "dens_R": unused,
            "dens_mu": unused,
            "dens_mu_tot": 0,
        }


def neighbour_graph(unit: np.ndarray, settings: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``n_neighbors`` nearest rows (itself first) and their ``metric`` distances.

    Above ``pca_dims`` dimensions the search runs on that many (uncentred) principal axes.
    """
    neighbours = max(2, min(int(settings["n_neighbors"]), len(unit)))
    dims = int(settings["pca_dims"])
    searched = reduce_dims(unit, dims) if 0 < dims < unit.shape[1] else unit
    rows, sims = knn_graph(searched, neighbours, graph_index(searched))
    return rows, neighbour_distances(sims, settings["metric"])


def graph_index(unit: np.ndarray) -> faiss.Index | None:
    """The faiss index a map's kNN graph is searched with: None (exact) for small sets.

    Above :data:`EXACT_GRAPH_LIMIT` rows an inverted file (``sqrt(N)`` k-means lists, 8 probed)
    finds 99.2% of the exact neighbours of Fashion-MNIST 70k in a tenth of the time.
    """
    count, dim = unit.shape
    if count <= EXACT_GRAPH_LIMIT:
        return None
    lists = int(np.sqrt(count))
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, lists, faiss.METRIC_INNER_PRODUCT)
    index.cp.niter = 10
    sample = np.random.default_rng(0).choice(count, min(count, 40 * lists), replace=False)
    index.train(np.ascontiguousarray(unit[np.sort(sample)], dtype=np.float32))
    index.add(np.ascontiguousarray(unit, dtype=np.float32))
    index.nprobe = IVF_PROBES
    return index


def fuzzy_graph(rows: np.ndarray, dists: np.ndarray, metric: str, kernels: Any) -> Any:
    """umap's fuzzy simplicial set (a scipy sparse matrix) from a kNN graph, self in column 0."""
    import scipy.sparse

    rows = rows.copy()
    dists = dists.astype(np.float32)
    far = (rows < 0) | (dists >= DISCONNECTED.get(metric, np.inf))
    rows[far], dists[far] = -1, np.inf
    count, k = rows.shape
    with _PARALLEL:
        sigmas, rhos = kernels.smooth(
            distances=dists, k=float(k), n_iter=64, local_connectivity=1.0, bandwidth=1.0
        )
        heads, tails, values, _ = kernels.membership(
            knn_indices=rows, knn_dists=dists, sigmas=sigmas, rhos=rhos, return_dists=False
        )
    graph = scipy.sparse.coo_matrix((values, (heads, tails)), shape=(count, count))
    graph.eliminate_zeros()
    transpose = graph.transpose()
    graph = graph + transpose - graph.multiply(transpose)
    graph.eliminate_zeros()
    return graph


def _edges(graph: Any, n_epochs: int, kernels: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges kept for ``n_epochs`` epochs and how often each is sampled (umap's rules)."""
    graph = graph.tocoo()
    graph.sum_duplicates()
    umap_default = 500 if graph.shape[0] <= 10_000 else 200
    floor = graph.data.max() / float(n_epochs if n_epochs > 10 else umap_default)
    graph.data[graph.data < floor] = 0.0
    graph.eliminate_zeros()
    samples = kernels.make_epochs_per_sample(weights=graph.data, n_epochs=n_epochs)
    return graph.row, graph.col, samples


class _Kernels:
    """umap's functions, its numba kernels compiled again with ``cache=True``."""

    def __init__(self) -> None:
        os.environ.setdefault("NUMBA_CACHE_DIR", str(numba_cache_dir()))
        if "numba" in sys.modules:
            sys.modules["numba"].core.config.reload_config()
        import numba
        from umap import layouts, umap_

        self.find_ab_params: Callable[..., tuple[float, float]] = umap_.find_ab_params
        self.make_epochs_per_sample: Callable[..., np.ndarray] = umap_.make_epochs_per_sample
        self.smooth = _cached(numba, umap_.smooth_knn_dist)
        self.membership = _cached(numba, umap_.compute_membership_strengths)
        self.epoch = numba.njit(
            layouts._optimize_layout_euclidean_single_epoch,
            fastmath=True,
            parallel=False,
            cache=True,
        )


def _cached(numba: Any, dispatcher: Any) -> Any:
    """A numba dispatcher's function compiled with the same options plus ``cache=True``."""
    options = {
        key: value
        for key, value in dispatcher.targetoptions.items()
        if key in ("parallel", "fastmath", "boundscheck", "locals")
    }
    return numba.njit(dispatcher.py_func, cache=True, **options)


def _kernels() -> _Kernels:
    """The kernels, loaded once (the first call imports umap: seconds)."""
    global _loaded
    with _LOADING:
        if _loaded is None:
            _loaded = _Kernels()
        return _loaded


def warm_up() -> None:
    """Compile (or load from numba's cache) everything UMAP runs: seconds once, off the GUI."""
    points = np.random.default_rng(0).normal(size=(200, 16)).astype(np.float32)
    project_2d(points, "umap", n_epochs=11)
