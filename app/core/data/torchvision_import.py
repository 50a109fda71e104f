"""Import a torchvision classification dataset into a folder of PNGs, one sub-folder per class.

The result is an ordinary image folder Sieve can scan: ``out_dir/<class>/<split>_<index>.png``.
A ``.sieve-import.json`` manifest marks the folder as an import, so an interrupted import of the
same dataset and split can be resumed; any other non-empty folder is refused.

torch and torchvision are imported inside the functions that use them: importing them takes
seconds, and the GUI imports this module at start-up.
"""

from __future__ import annotations

import ast
import difflib
import http.client
import importlib.util
import inspect
import json
import numbers
import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.error import URLError

import numpy as np
from PIL import Image

from app.core.errors import SieveError
from app.core.jobs import CancelToken, Job, Progress

MANIFEST = ".sieve-import.json"
STAGE = "import"

_PNG_MODES = {"1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"}
_UNSAFE_CHARS = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')
_RESERVED_NAMES = {"CON", "PRN", "AUX", "NUL"} | {
    f"{p}{i}" for p in ("COM", "LPT") for i in range(10)
}
_MAX_NAME_LEN = 120
_DOWNLOAD_ERRORS = (RuntimeError, OSError, http.client.HTTPException)


@dataclass(frozen=True)
class ImportResult:
    """What an import produced: the folder, the number of images and the images per class."""

    out_dir: Path
    count: int
    classes: dict[str, int]


def dataset_names_fast() -> list[str]:
    """The names in ``torchvision.datasets.__all__``, read from its source without importing it.

    For suggestions in the GUI (importing torchvision takes seconds); the import job still checks
    the name for real. Empty when torchvision is not installed or its layout is unexpected.
    """
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return []
    init = Path(spec.submodule_search_locations[0]) / "datasets" / "__init__.py"
    try:
        tree = ast.parse(init.read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        return []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            values = getattr(node.value, "elts", [])
            return sorted(v.value for v in values if isinstance(v, ast.Constant))
    return []


def list_torchvision_datasets() -> list[str]:
    """Names of the dataset classes in ``torchvision.datasets``, sorted."""
    import torchvision.datasets

    names = getattr(torchvision.datasets, "__all__", dir(torchvision.datasets))
    return sorted(name for name in names if _is_dataset_class(getattr(torchvision.datasets, name)))


def _is_dataset_class(obj: Any) -> bool:
    """True for concrete dataset classes (not the VisionDataset base)."""
    import torch.utils.data
    import torchvision.datasets

    return (
        isinstance(obj, type)
        and issubclass(obj, torch.utils.data.Dataset)
        and obj is not torchvision.datasets.VisionDataset
    )


def safe_class_name(name: str) -> str:
    """A readable folder name for a class: unsafe characters become ``_``."""
    cleaned = _UNSAFE_CHARS.sub("_", name).strip().rstrip(". ")
    if cleaned.startswith("."):
        cleaned = "_" + cleaned[1:]
    if not cleaned:
        cleaned = "_"
    if cleaned.split(".")[0].upper() in _RESERVED_NAMES:
        cleaned += "_"
    return cleaned[:_MAX_NAME_LEN]


def _class_folder_names(classes: Any) -> list[str] | None:
    """Folder names for a dataset's ``classes`` list, made unique (case-insensitively)."""
    if not isinstance(classes, Sequence) or isinstance(classes, str) or not classes:
        return None
    names: list[str] = []
    seen: set[str] = set()
    for index, label in enumerate(classes):
        name = safe_class_name(str(label))
        if name.lower() in seen:
            name = f"{name}_{index}"
        seen.add(name.lower())
        names.append(name)
    return names


def _dataset_class(name: str) -> type:
    """Look up a dataset class by name; unknown names get close-match suggestions."""
    import torchvision.datasets

    known = list_torchvision_datasets()
    if name in known:
        return getattr(torchvision.datasets, name)
    by_lower = {n.lower(): n for n in known}
    if name.lower() in by_lower:
        close = [name.lower()]
    else:
        close = difflib.get_close_matches(name.lower(), list(by_lower), n=3, cutoff=0.6)
    if close:
        hint = "did you mean " + " or ".join(by_lower[c] for c in close) + "?"
    else:
        hint = "known datasets: " + ", ".join(known)
    raise SieveError(f"unknown torchvision dataset {name!r}; {hint}")


def _constructor_args(
    name: str, cls: type, root: Path, split: str, download: bool
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Positional and keyword arguments for ``cls``, chosen from its signature."""
    params = inspect.signature(cls).parameters
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = {}
    if "root" in params:
        if params["root"].kind is inspect.Parameter.POSITIONAL_ONLY:
            args = (str(root),)
        else:
            kwargs["root"] = str(root)
    if "train" in params:
        kwargs["train"] = split == "train"
    if "split" in params:
        kwargs["split"] = split
    if "download" in params:
        kwargs["download"] = download
    _check_required(name, params, supplied={"root", *kwargs})
    return args, kwargs


def _check_required(name: str, params: Any, supplied: set[str]) -> None:
    """Refuse datasets that need arguments Sieve cannot guess."""
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    required = [p for p in params.values() if p.default is inspect.Parameter.empty]
    missing = [p.name for p in required if p.kind not in variadic and p.name not in supplied]
    if missing:
        raise SieveError(f"{name} needs arguments Sieve cannot supply: {', '.join(missing)}")


def _one_line(exc: BaseException) -> str:
    """A short, single-line description of an exception."""
    reason = exc.reason if isinstance(exc, URLError) else exc
    text = " ".join(str(reason).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _explain_open_error(name: str, root: Path, download: bool, exc: Exception) -> SieveError:
    """Turn torchvision's errors on opening a dataset into one readable SieveError."""
    if isinstance(exc, ValueError):
        return SieveError(f"{name} rejected its arguments: {_one_line(exc)}")
    if download:
        return SieveError(f"could not download {name}: no internet connection? ({_one_line(exc)})")
    text = str(exc).lower()
    if isinstance(exc, FileNotFoundError) or "not found" in text or "download=true" in text:
        return SieveError(
            f"{name} not found under {root}: put the dataset files there, "
            "or pass --download (needs internet)"
        )
    return SieveError(f"could not open {name} under {root}: {_one_line(exc)}")


def _open_dataset(name: str, root: Path, split: str, download: bool) -> Any:
    """Instantiate the named torchvision dataset, rephrasing the expected failures."""
    cls = _dataset_class(name)
    args, kwargs = _constructor_args(name, cls, root, split, download)
    try:
        return cls(*args, **kwargs)
    except (ValueError, *_DOWNLOAD_ERRORS) as exc:
        raise _explain_open_error(name, root, download, exc) from exc


def _dataset_length(name: str, dataset: Any) -> int:
    """``len(dataset)``, or a SieveError for datasets without a length."""
    try:
        return len(dataset)
    except TypeError as exc:
        raise SieveError(f"{name} does not report its size, so it cannot be imported") from exc


def _read_manifest(out_dir: Path) -> dict[str, Any] | None:
    """The import manifest in ``out_dir``, or None if absent or unreadable."""
    try:
        manifest = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def _write_manifest(out_dir: Path, name: str, split: str, count: int, complete: bool) -> None:
    """Atomically write the manifest that marks ``out_dir`` as an import."""
    manifest = {"name": name, "split": split, "count": count, "complete": complete}
    tmp = out_dir / (MANIFEST + ".part")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, out_dir / MANIFEST)


def _check_out_dir(out_dir: Path, name: str, split: str) -> None:
    """Refuse an ``out_dir`` that holds anything but an earlier import of this dataset and split."""
    if out_dir.exists() and not out_dir.is_dir():
        raise SieveError(f"{out_dir} is a file, not a folder")
    if not out_dir.exists() or not any(out_dir.iterdir()):
        return
    manifest = _read_manifest(out_dir)
    if manifest is None:
        raise SieveError(
            f"{out_dir} already contains files that are not a Sieve import; choose an empty folder"
        )
    if manifest.get("name") != name or manifest.get("split") != split:
        raise SieveError(
            f"{out_dir} holds an import of {manifest.get('name')} ({manifest.get('split')}); "
            f"choose an empty folder for {name} ({split})"
        )


def _existing_images(out_dir: Path, split: str) -> dict[int, str]:
    """Index -> class folder of the images an earlier run already wrote."""
    pattern = re.compile(rf"{re.escape(split)}_(\d+)\.png")
    found: dict[int, str] = {}
    for folder in (p for p in out_dir.iterdir() if p.is_dir()):
        for file in folder.iterdir():
            match = pattern.fullmatch(file.name)
            if match:
                found[int(match.group(1))] = folder.name
    return found


def _as_uint8_hwc(image: Any) -> np.ndarray | None:
    """An HxW or HxWxC uint8 array from a numpy array or a CxHxW tensor, else None."""
    import torch

    if isinstance(image, torch.Tensor):
        array = image.detach().cpu().numpy()
        if array.ndim == 3:
            array = np.moveaxis(array, 0, -1)
    elif isinstance(image, np.ndarray):
        array = image
    else:
        return None
    if array.dtype != np.uint8:
        return None
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4)):
        return np.ascontiguousarray(array)
    return None


def _to_pil(image: Any, name: str, index: int) -> Image.Image:
    """The item's image as a PIL image that PNG can store."""
    if not isinstance(image, Image.Image):
        array = _as_uint8_hwc(image)
        if array is None:
            shape = getattr(image, "shape", None)
            raise SieveError(
                f"{name} item {index}: cannot turn a {type(image).__name__} "
                f"{tuple(shape) if shape is not None else ''} into an image "
                "(expected a PIL image, an HxW(xC) uint8 array or a CxHxW uint8 tensor)"
            )
        image = Image.fromarray(array)
    return image if image.mode in _PNG_MODES else image.convert("RGB")


def _as_class_index(target: Any) -> int | None:
    """The integer class of a target, or None if it is not a single integer."""
    import torch

    if isinstance(target, bool):
        return None
    if isinstance(target, numbers.Integral):
        return int(target)
    if isinstance(target, np.ndarray) and target.ndim == 0:
        return int(target.item()) if np.issubdtype(target.dtype, np.integer) else None
    if isinstance(target, torch.Tensor) and target.ndim == 0:
        dtype = target.dtype
        integral = not (dtype.is_floating_point or dtype.is_complex or dtype == torch.bool)
        return int(target.item()) if integral else None
    return None


def _class_name(target: Any, folders: list[str] | None, name: str, index: int) -> str:
    """The folder name for an item's target."""
    label = _as_class_index(target)
    if label is None:
        raise SieveError(
            f"{name}'s items are not (image, class) pairs: item {index} has a "
            f"{type(target).__name__} target; Sieve imports classification datasets only"
        )
    if folders is not None and 0 <= label < len(folders):
        return folders[label]
    return str(label)


def _read_item(dataset: Any, name: str, index: int) -> tuple[Any, Any]:
    """``dataset[index]`` checked to be a pair; read failures become SieveErrors."""
    try:
        item = dataset[index]
    except (OSError, ValueError, RuntimeError) as exc:
        raise SieveError(f"could not read item {index} of {name}: {_one_line(exc)}") from exc
    if not isinstance(item, (tuple, list)) or len(item) != 2:
        raise SieveError(f"{name}'s items are not (image, class) pairs (item {index})")
    return item[0], item[1]


def _save_png(image: Image.Image, path: Path) -> None:
    """Write a lossless PNG atomically (temp file + rename)."""
    path.parent.mkdir(exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    try:
        image.save(tmp, format="PNG", compress_level=1)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise SieveError(f"cannot write {path}: {exc}") from exc


def _file_name(split: str, index: int, width: int) -> str:
    return f"{split}_{index:0{width}d}.png"


def import_torchvision_job(
    name: str,
    root: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    split: str = "train",
    download: bool = False,
    limit: int | None = None,
    cancel: CancelToken | None = None,
) -> Job[ImportResult]:
    """Job: write the first ``limit`` (default: all) items of a torchvision dataset as PNGs.

    Resumes an interrupted import into the same ``out_dir``: images already there are kept.
    """
    root, out_dir = Path(root), Path(out_dir)
    if limit is not None and limit < 0:
        raise SieveError(f"limit must be at least 0, not {limit}")
    file_split = safe_class_name(split)
    _check_out_dir(out_dir, name, split)
    dataset = _open_dataset(name, root, split, download)
    size = _dataset_length(name, dataset)
    total = size if limit is None else min(size, limit)
    folders = _class_folder_names(getattr(dataset, "classes", None))
    out_dir.mkdir(parents=True, exist_ok=True)
    existing = _existing_images(out_dir, file_split)
    _write_manifest(out_dir, name, split, len(existing), complete=False)

    width, step = len(str(size)), max(1, -(-total // 100))
    counts: Counter[str] = Counter()
    yield Progress(STAGE, 0, total, f"{name} ({split})")
    for index in range(total):
        if cancel is not None:
            cancel.raise_if_cancelled()
        folder = existing.get(index)
        if folder is None:
            image, target = _read_item(dataset, name, index)
            folder = _class_name(target, folders, name, index)
            path = out_dir / folder / _file_name(file_split, index, width)
            _save_png(_to_pil(image, name, index), path)
        counts[folder] += 1
        if (index + 1) % step == 0 or index + 1 == total:
            yield Progress(STAGE, index + 1, total, f"{name} ({split})")

    present = len(existing.keys() | set(range(total)))
    _write_manifest(out_dir, name, split, present, complete=True)
    return ImportResult(out_dir=out_dir, count=total, classes=dict(sorted(counts.items())))
