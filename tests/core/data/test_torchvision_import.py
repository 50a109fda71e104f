"""Tests for the IDX reader and the torchvision importer; nothing here touches the network."""

from __future__ import annotations

import gzip
import json
import struct
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from app.core.data.idx import read_idx
from app.core.data.torchvision_import import (
    MANIFEST,
    _as_uint8_hwc,
    _class_name,
    _to_pil,
    import_torchvision_job,
    list_torchvision_datasets,
    safe_class_name,
)
from app.core.errors import JobCancelled, SieveError
from app.core.jobs import CancelToken, Progress, run_job

N_TRAIN, N_TEST = 250, 10
MNIST_CLASSES = torchvision.datasets.MNIST.classes


def write_idx(path: Path, array: np.ndarray, type_code: int) -> None:
    """Write ``array`` as an IDX file, independently of the reader under test."""
    header = struct.pack(">BBBB", 0, 0, type_code, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    if path.suffix == ".gz":
        payload = gzip.compress(payload)
    path.write_bytes(payload)


@pytest.fixture(scope="module")
def mnist_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny MNIST laid out the way torchvision.datasets.MNIST expects it."""
    root = tmp_path_factory.mktemp("mnist_root")
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(7)
    for prefix, count in (("train", N_TRAIN), ("t10k", N_TEST)):
        images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
        labels = (np.arange(count) % 7).astype(np.uint8)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images, 0x08)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels, 0x08)
    return root


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_list_torchvision_datasets() -> None:
    names = list_torchvision_datasets()
    assert names == sorted(names)
    assert {"MNIST", "CIFAR10", "FakeData", "ImageFolder"} <= set(names)
    assert "VisionDataset" not in names
    assert "wrap_dataset_for_transforms_v2" not in names


@pytest.mark.parametrize(
    ("dtype", "code"), [(np.uint8, 0x08), (np.int16, 0x0B), (np.int32, 0x0C), (np.float32, 0x0D)]
)
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_read_idx_round_trip(tmp_path: Path, dtype: type, code: int, suffix: str) -> None:
    array = (np.arange(2 * 3 * 5) - 7).reshape(2, 3, 5).astype(dtype)
    path = tmp_path / f"data-idx3{suffix}"
    write_idx(path, array, code)
    loaded = read_idx(path)
    assert loaded.dtype == np.dtype(dtype)
    assert loaded.shape == (2, 3, 5)
    np.testing.assert_array_equal(loaded, array)


def test_read_idx_rejects_bad_files(tmp_path: Path) -> None:
    not_idx = tmp_path / "photo.png"
    not_idx.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(SieveError, match="bad magic number"):
        read_idx(not_idx)
    truncated = tmp_path / "short-idx1"
    write_idx(truncated, np.zeros(10, np.uint8), 0x08)
    truncated.write_bytes(truncated.read_bytes()[:-3])
    with pytest.raises(SieveError, match="promises 10"):
        read_idx(truncated)
    with pytest.raises(SieveError, match="not found"):
        read_idx(tmp_path / "missing")


def test_import_mnist_train(mnist_root: Path, tmp_path: Path) -> None:
    before = tree(mnist_root)
    out = tmp_path / "out"
    reports: list[Progress] = []
    result = run_job(import_torchvision_job("MNIST", mnist_root, out), reports.append)

    expected = {MNIST_CLASSES[c]: int(np.sum(np.arange(N_TRAIN) % 7 == c)) for c in range(7)}
    assert result.out_dir == out
    assert result.count == N_TRAIN
    assert result.classes == expected
    on_disk = {p.name: len(list(p.glob("*.png"))) for p in out.iterdir() if p.is_dir()}
    assert on_disk == expected
    assert tree(mnist_root) == before
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest == {"name": "MNIST", "split": "train", "count": N_TRAIN, "complete": True}

    images = read_idx(mnist_root / "MNIST" / "raw" / "train-images-idx3-ubyte")
    png = Image.open(out / MNIST_CLASSES[3] / "train_010.png")
    assert png.mode == "L"
    np.testing.assert_array_equal(np.asarray(png), images[10])

    dones = [r.done for r in reports]
    assert all(r.stage == "import" and r.total == N_TRAIN for r in reports)
    assert dones[0] == 0 and dones[-1] == N_TRAIN
    assert dones == sorted(set(dones))
    assert 50 <= len(reports) <= 102


def test_import_mnist_test_split_with_limit(mnist_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_job(import_torchvision_job("MNIST", mnist_root, out, split="test", limit=4))
    assert result.count == 4
    assert result.classes == {MNIST_CLASSES[c]: 1 for c in range(4)}
    assert (out / MNIST_CLASSES[2] / "test_02.png").is_file()
    images = read_idx(mnist_root / "MNIST" / "raw" / "t10k-images-idx3-ubyte")
    first = np.asarray(Image.open(out / "0 - zero" / "test_00.png"))
    np.testing.assert_array_equal(first, images[0])


def test_import_fakedata_without_classes(tmp_path: Path) -> None:
    out = tmp_path / "fake"
    result = run_job(import_torchvision_job("FakeData", tmp_path / "unused", out, limit=6))
    assert result.count == 6
    assert sum(result.classes.values()) == 6
    assert all(name.isdigit() for name in result.classes)
    assert not (tmp_path / "unused").exists()
    reference = torchvision.datasets.FakeData()
    image, target = reference[5]
    png = Image.open(out / str(target) / "train_0005.png")
    np.testing.assert_array_equal(np.asarray(png), np.asarray(image))


def test_cancel_then_resume(mnist_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    cancel = CancelToken()
    seen: list[int] = []

    def cancel_midway(progress: Progress) -> None:
        seen.append(progress.done)
        if progress.done >= 8:
            cancel.cancel()

    with pytest.raises(JobCancelled):
        run_job(import_torchvision_job("MNIST", mnist_root, out, cancel=cancel), cancel_midway)
    first = {p: p.stat().st_ino for p in out.rglob("*.png")}
    assert 8 <= seen[-1] < N_TRAIN
    assert len(first) == seen[-1]
    assert json.loads((out / MANIFEST).read_text())["complete"] is False

    result = run_job(import_torchvision_job("MNIST", mnist_root, out, cancel=CancelToken()))
    assert result.count == N_TRAIN
    assert len(list(out.rglob("*.png"))) == N_TRAIN
    assert {p: p.stat().st_ino for p in first} == first
    assert json.loads((out / MANIFEST).read_text())["complete"] is True


def test_refuses_foreign_out_dir(mnist_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(SieveError, match="not a Sieve import"):
        run_job(import_torchvision_job("MNIST", mnist_root, out))
    assert tree(out) == {"notes.txt"}
    assert (out / "notes.txt").read_text() == "keep me"


def test_refuses_import_of_another_split(mnist_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_job(import_torchvision_job("MNIST", mnist_root, out, split="test", limit=2))
    with pytest.raises(SieveError, match=r"holds an import of MNIST \(test\)"):
        run_job(import_torchvision_job("MNIST", mnist_root, out, split="train"))


def test_missing_dataset_without_download(tmp_path: Path) -> None:
    with pytest.raises(SieveError, match="--download") as info:
        run_job(import_torchvision_job("CIFAR10", tmp_path / "empty", tmp_path / "out"))
    assert "CIFAR10 not found under" in str(info.value)
    assert not (tmp_path / "out").exists()


def test_unknown_name_suggests_close_match(tmp_path: Path) -> None:
    with pytest.raises(SieveError, match="did you mean MNIST") as info:
        run_job(import_torchvision_job("MNSIT", tmp_path, tmp_path / "out"))
    assert "unknown torchvision dataset 'MNSIT'" in str(info.value)


def test_download_failure_is_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(var, raising=False)
    start = time.monotonic()
    job = import_torchvision_job("MNIST", tmp_path / "root", tmp_path / "out", download=True)
    with pytest.raises(SieveError, match=r"could not download MNIST: no internet connection\?"):
        run_job(job)
    assert time.monotonic() - start < 5


def test_safe_class_name() -> None:
    assert safe_class_name("T-shirt/top") == "T-shirt_top"
    assert safe_class_name('a\\b:c*d?"e<f>g|h') == "a_b_c_d__e_f_g_h"
    assert safe_class_name("0 - zero") == "0 - zero"
    assert safe_class_name("..") == "_"
    assert safe_class_name(".hidden") == "_hidden"
    assert safe_class_name("CON") == "CON_"
    assert safe_class_name("") == "_"


def test_class_name_rejects_non_class_targets() -> None:
    assert _class_name(3, ["a", "b", "c", "d"], "X", 0) == "d"
    assert _class_name(np.int64(1), None, "X", 0) == "1"
    assert _class_name(torch.tensor(2), ["a", "b", "c"], "X", 0) == "c"
    for target in ({"boxes": []}, (1, 2), torch.tensor([1, 2]), 0.5, True):
        with pytest.raises(SieveError, match=r"not \(image, class\) pairs"):
            _class_name(target, None, "X", 0)


def test_image_conversion() -> None:
    chw = torch.arange(3 * 4 * 5, dtype=torch.uint8).reshape(3, 4, 5)
    np.testing.assert_array_equal(_as_uint8_hwc(chw), chw.permute(1, 2, 0).numpy())
    gray = np.arange(20, dtype=np.uint8).reshape(4, 5)
    assert _to_pil(gray, "X", 0).mode == "L"
    assert _to_pil(gray[:, :, None], "X", 0).size == (5, 4)
    assert _to_pil(np.zeros((4, 5, 3), np.uint8), "X", 0).mode == "RGB"
    with pytest.raises(SieveError, match="cannot turn a Tensor"):
        _to_pil(torch.rand(3, 4, 5), "X", 0)
    with pytest.raises(SieveError, match="cannot turn a str"):
        _to_pil("not an image", "X", 0)


def test_fast_names_match_the_real_list_without_importing_torch():
    import subprocess
    import sys

    from app.core.data.torchvision_import import dataset_names_fast, list_torchvision_datasets

    code = (
        "import sys\nfrom app.core.data.torchvision_import import dataset_names_fast\n"
        "names = dataset_names_fast()\nprint(len(names), 'torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    count, imported = result.stdout.split()
    assert int(count) > 20 and imported == "False"
    assert set(list_torchvision_datasets()) <= set(dataset_names_fast())
