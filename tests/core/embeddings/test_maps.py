"""2-D maps: exact PCA, umap-learn's UMAP over a faiss graph, layouts on the way, the cache."""

from __future__ import annotations

import importlib.metadata
import inspect
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.core.embeddings import maps
from app.core.embeddings.maps import map_job, pca, project_2d
from app.core.errors import JobCancelled, SieveError
from app.core.jobs import CancelToken, run_job
from app.core.store.embedding_sets import l2_normalise

REPO = Path(__file__).resolve().parents[3]
FAST = {"n_epochs": 30}


def clusters(
    count: int = 300, dim: int = 32, groups: int = 3, spread: float = 3.0
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian clusters (unit variance, centres ``spread`` apart) on the unit sphere, labels."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(groups, dim)) * spread
    labels = np.arange(count) % groups
    points = centres[labels] + rng.normal(size=(count, dim))
    return l2_normalise(points), labels


def knn_purity(xy: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    """The share of each point's ``k`` nearest points in 2-D that share its label."""
    distances = ((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(distances, np.inf)
    nearest = np.argsort(distances, axis=1)[:, :k]
    return float((labels[nearest] == labels[:, None]).mean())


def drive(job) -> tuple[list, np.ndarray]:
    reports = []
    result = run_job(job, reports.append)
    return reports, result


def test_pca_equals_numpy_svd_up_to_sign_per_component():
    rng = np.random.default_rng(1)
    data = (rng.normal(size=(400, 12)) * np.linspace(5.0, 0.5, 12)).astype(np.float32) + 3.0
    centred = data.astype(np.float64) - data.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    expected = centred @ vt[:2].T
    xy = project_2d(data, "pca")
    assert xy.shape == (400, 2) and xy.dtype == np.float32
    for column in range(2):
        sign = np.sign(xy[:, column] @ expected[:, column])
        np.testing.assert_allclose(xy[:, column], sign * expected[:, column], atol=1e-3)


def test_principal_axes_have_their_largest_loading_positive():
    rng = np.random.default_rng(2)
    data = rng.normal(size=(5000, 6)) * [8.0, 4.0, 2.0, 1.0, 0.5, 0.2]
    axes = maps.principal_axes(-data, 3)
    strongest = axes[np.abs(axes).argmax(axis=0), np.arange(3)]
    assert (strongest > 0).all()
    np.testing.assert_allclose(np.abs(axes[:3, :3]), np.eye(3), atol=0.1)


def test_pca_of_one_dimensional_data_has_a_zero_second_column():
    xy = pca(np.arange(5, dtype=np.float64).reshape(5, 1))
    assert xy.shape == (5, 2) and xy.dtype == np.float32
    assert (xy[:, 1] == 0).all()
    np.testing.assert_allclose(np.abs(xy[:, 0]), [2, 1, 0, 1, 2])


def test_reduce_dims_keeps_inner_products_of_low_rank_rows():
    rng = np.random.default_rng(3)
    unit = l2_normalise(rng.normal(size=(300, 8)) @ rng.normal(size=(8, 64)))
    reduced = maps.reduce_dims(unit, 20)
    assert reduced.shape == (300, 20)
    np.testing.assert_allclose(reduced @ reduced.T, unit @ unit.T, atol=1e-4)


def test_umap_pulls_apart_clusters_that_pca_mixes():
    points, labels = clusters(400, groups=8, spread=1.5)
    assert knn_purity(pca(points), labels) < 0.9
    xy = project_2d(points, "umap", n_epochs=100)
    assert xy.shape == (400, 2) and xy.dtype == np.float32
    assert knn_purity(xy, labels) > 0.95
    assert knn_purity(project_2d(points, "umap", n_epochs=100, metric="euclidean"), labels) > 0.95


def test_umap_is_deterministic_for_a_seed():
    points, _ = clusters(120)
    first = project_2d(points, "umap", **FAST)
    np.testing.assert_array_equal(first, project_2d(points, "umap", **FAST))
    assert not np.array_equal(first, project_2d(points, "umap", seed=1, **FAST))


def test_epochs_run_one_at_a_time_equal_umaps_optimizer():
    from umap.layouts import optimize_layout_euclidean

    points, _ = clusters(150)
    settings = maps.resolve_params("umap", {"n_epochs": 40})
    rows, dists = maps.neighbour_graph(points, settings)
    layout = maps.UmapLayout(rows, dists, pca(points), settings)
    start = layout.embedding.copy()
    expected = optimize_layout_euclidean(
        start,
        start,
        layout.head,
        layout.tail,
        40,
        len(points),
        layout.epochs_per_sample,
        layout.a,
        layout.b,
        layout.rng_state,
        1.0,
        1.0,
        maps.NEGATIVE_SAMPLE_RATE,
        parallel=False,
        move_other=True,
    )
    for _ in range(40):
        layout.run_epoch()
    np.testing.assert_array_equal(layout.embedding, expected)


def test_map_job_yields_pca_then_umap_layouts_then_the_final_one():
    points, _ = clusters(150)
    reports, xy = drive(map_job(points, "umap", FAST, CancelToken()))
    layouts = [report.partial for report in reports if report.partial]
    assert layouts[0]["kind"] == "layout" and layouts[0]["method"] == "pca"
    np.testing.assert_array_equal(layouts[0]["xy"], pca(points))
    frames = [layout for layout in layouts[1:] if layout["method"] == "umap"]
    assert len(frames) >= 1 and len(frames) == len(layouts) - 1
    epochs = [frame["epoch"] for frame in frames]
    assert epochs == sorted(epochs) and epochs[0] > 0 and epochs[-1] < 30
    assert all(frame["xy"].shape == (150, 2) for frame in frames)
    assert not np.array_equal(frames[0]["xy"], xy)
    np.testing.assert_array_equal(xy, project_2d(points, "umap", **FAST))


def test_cancel_stops_the_job_between_epochs():
    points, _ = clusters(150)
    cancel = CancelToken()
    job = map_job(points, "umap", FAST, cancel)
    assert next(job).partial["method"] == "pca"
    while not next(job).partial:
        pass
    cancel.cancel()
    with pytest.raises(JobCancelled):
        next(job)


@pytest.mark.parametrize("reports_before_cancel", [1, 2])
def test_cancel_before_the_first_epoch(reports_before_cancel: int):
    cancel = CancelToken()
    job = map_job(clusters(60)[0], "umap", FAST, cancel)
    for _ in range(reports_before_cancel):
        next(job)
    cancel.cancel()
    with pytest.raises(JobCancelled):
        next(job)


def test_the_cache_answers_the_same_inputs_and_misses_other_parameters(tmp_path: Path):
    points, _ = clusters(90)
    first = run_job(map_job(points, "umap", FAST, CancelToken(), cache_dir=tmp_path))
    files = list(tmp_path.glob("*.npy"))
    assert len(files) == 1 and files[0].name.startswith("umap-")
    np.testing.assert_array_equal(np.load(files[0]), first)
    planted = np.full_like(first, 7.0)
    np.save(files[0], planted)
    reports, again = drive(map_job(points, "umap", FAST, CancelToken(), cache_dir=tmp_path))
    np.testing.assert_array_equal(again, planted)
    assert len(reports) == 1 and "cache" in reports[0].message
    other = run_job(
        map_job(points, "umap", {**FAST, "min_dist": 0.3}, CancelToken(), cache_dir=tmp_path)
    )
    assert len(list(tmp_path.glob("*.npy"))) == 2
    assert not np.array_equal(other, planted)


def test_cache_key_fills_in_defaults_and_sees_the_data():
    points, _ = clusters(30)
    settings = maps.resolve_params("umap", {})
    key = maps.cache_key(points, "umap", settings)
    assert key == maps.cache_key(points, "umap", maps.resolve_params("umap", {"n_neighbors": 15}))
    assert key != maps.cache_key(points, "pca", settings)
    changed = points.copy()
    changed[5, 5] += 1e-6
    assert key != maps.cache_key(changed, "umap", settings)
    assert key != maps.cache_key(points.reshape(60, 16), "umap", settings)


def test_a_broken_cache_file_is_recomputed(tmp_path: Path):
    points, _ = clusters(30)
    run_job(map_job(points, "pca", {}, CancelToken(), cache_dir=tmp_path))
    (path,) = tmp_path.glob("*.npy")
    path.write_bytes(b"not an array")
    xy = run_job(map_job(points, "pca", {}, CancelToken(), cache_dir=tmp_path))
    np.testing.assert_array_equal(xy, pca(points))
    np.testing.assert_array_equal(np.load(path), xy)


@pytest.mark.parametrize(
    ("embeddings", "words"),
    [
        (np.zeros(10), "N x D"),
        (np.zeros((4, 3, 2)), "N x D"),
        (np.ones((2, 4)), "at least 3"),
        (np.array([[0.0, 1.0], [1.0, np.nan], [2.0, 0.0], [3.0, 3.0]]), "NaN"),
        (np.array([[0.0, 1.0], [1.0, np.inf], [2.0, 0.0], [3.0, 3.0]]), "rows 1"),
        (np.array([["a", "b"]] * 4), "numbers"),
    ],
)
def test_bad_embeddings_raise_readable_errors(embeddings, words):
    for method in maps.METHODS:
        with pytest.raises(SieveError, match=words):
            project_2d(embeddings, method)


@pytest.mark.parametrize(
    ("method", "params", "words"),
    [
        ("tsne", {}, "unknown map method"),
        ("pca", {"n_neighbors": 5}, "unknown pca parameter"),
        ("umap", {"neighbours": 5}, "unknown umap parameter"),
        ("umap", {"n_neighbors": 1}, "n_neighbors"),
        ("umap", {"n_neighbors": 7.5}, "n_neighbors"),
        ("umap", {"min_dist": 2.0}, "min_dist"),
        ("umap", {"metric": "manhattan"}, "metric"),
        ("umap", {"seed": -1}, "seed"),
        ("umap", {"n_epochs": 0}, "n_epochs"),
        ("umap", {"pca_dims": True}, "pca_dims"),
    ],
)
def test_bad_parameters_raise_readable_errors(method, params, words):
    with pytest.raises(SieveError, match=words):
        project_2d(clusters(30)[0], method, **params)


def test_fewer_points_than_neighbours_clamps_the_graph():
    points, _ = clusters(12)
    xy = project_2d(points, "umap", n_neighbors=15, **FAST)
    assert xy.shape == (12, 2) and np.isfinite(xy).all()


def test_very_few_points_fall_back_to_pca_with_a_note():
    points, _ = clusters(6)
    reports, xy = drive(map_job(points, "umap", {}, CancelToken()))
    assert "PCA" in reports[-1].message
    np.testing.assert_array_equal(xy, pca(points))


def test_identical_rows_still_map():
    xy = project_2d(np.ones((40, 8), dtype=np.float32), "umap", **FAST)
    assert xy.shape == (40, 2) and np.isfinite(xy).all()


def test_high_dimensional_embeddings_search_neighbours_on_fewer_axes():
    points, labels = clusters(200, dim=96, groups=8, spread=1.5)
    xy = project_2d(points, "umap", pca_dims=20, n_epochs=60)
    assert knn_purity(xy, labels) > 0.95


def test_warm_up_runs():
    maps.warm_up()


def test_importing_maps_loads_neither_umap_nor_numba():
    code = (
        "import sys, app.core.embeddings.maps; print('umap' in sys.modules, 'numba' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


def test_numba_cache_dir_defaults_to_a_user_cache_folder(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere/cache")
    if sys.platform.startswith("linux"):
        assert maps.numba_cache_dir() == Path("/somewhere/cache/sieve/numba")
    monkeypatch.setenv("NUMBA_CACHE_DIR", "/elsewhere")
    assert maps.numba_cache_dir() == Path("/elsewhere")


def test_large_sets_search_an_inverted_file_that_finds_almost_all_neighbours(
    monkeypatch: pytest.MonkeyPatch,
):
    rng = np.random.default_rng(4)
    points = l2_normalise(rng.normal(size=(4000, 5)) @ rng.normal(size=(5, 32)))
    settings = maps.resolve_params("umap", {})
    exact_rows, exact_dists = maps.neighbour_graph(points, settings)
    monkeypatch.setattr(maps, "EXACT_GRAPH_LIMIT", 1000)
    assert maps.graph_index(points) is not None
    rows, dists = maps.neighbour_graph(points, settings)
    assert rows.shape == exact_rows.shape and (rows[:, 0] == np.arange(4000)).all()
    recall = (rows[:, :, None] == exact_rows[:, None, :]).any(-1).mean()
    assert recall > 0.97
    assert (dists >= exact_dists - 1e-6).all()


def test_an_unwritable_cache_folder_costs_only_a_note(tmp_path: Path):
    blocker = tmp_path / "maps"
    blocker.write_text("a file where the folder should be")
    points, _ = clusters(30)
    reports, xy = drive(map_job(points, "pca", {}, CancelToken(), cache_dir=blocker))
    np.testing.assert_array_equal(xy, pca(points))
    assert "could not be cached" in reports[-1].message


class RecordingKernels:
    """umap's functions as maps.py loads them, each call recorded with its arguments."""

    def __init__(self, kernels: object) -> None:
        self.kernels = kernels
        self.calls: dict[str, tuple[object, tuple, dict]] = {}

    def __getattr__(self, name: str):
        kernel = getattr(self.kernels, name)

        def call(*args, **kwargs):
            self.calls[name] = (kernel, args, kwargs)
            return kernel(*args, **kwargs)

        return call


def test_umap_private_functions_take_the_keywords_sieve_passes(monkeypatch):
    recorder = RecordingKernels(maps._kernels())
    monkeypatch.setattr(maps, "_kernels", lambda: recorder)
    project_2d(clusters(60)[0], "umap", n_epochs=2)
    assert set(recorder.calls) == {
        "find_ab_params",
        "make_epochs_per_sample",
        "smooth",
        "membership",
        "epoch",
    }
    version = importlib.metadata.version("umap-learn")
    for kernel, args, kwargs in recorder.calls.values():
        function = getattr(kernel, "py_func", kernel)
        name = f"{function.__module__}.{function.__qualname__}"
        assert not args, f"{name} is called by position: pass keywords, checked here"
        signature = inspect.signature(function)
        try:
            signature.bind(**kwargs)
        except TypeError as error:
            pytest.fail(
                f"umap-learn {version} is incompatible: {name}{signature} does not take the "
                f"arguments Sieve passes, {sorted(kwargs)} ({error}); install the range "
                "pyproject.toml pins"
            )
