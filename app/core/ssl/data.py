"""Training images: every usable sample decoded once into a square uint8 cache on disk.

Decoding JPEGs and PNGs on every epoch is what makes the usual PyTorch loop slow on few cores.
Sieve decodes each image (or video frame) once, resizes it to a square of ``cache_side``
pixels and keeps the result in ``<project>/cache/train-<side>.npy`` (memory-mapped, N x S x S x 3).
Epochs then read raw pixels and augment whole batches as tensor ops (see ``augment.py``).

The cache is rebuilt when the samples or their files change (a key over ids, paths, sizes and
mtimes). Images are squashed to the square, which keeps every pixel in view for random crops.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

import numpy as np
from PIL import Image

from app.core.data.images import ImageError, load_rgb
from app.core.data.video import VideoError, VideoReader
from app.core.errors import JobCancelled, SieveError
from app.core.jobs import CancelToken, Job, Progress
from app.core.store.arrays import atomic_file
from app.core.store.project import Project, SampleRow

if TYPE_CHECKING:
    import torch

UNLABELLED = -1
POLL_S = 0.1  # the longest a prefetch consumer or producer waits before looking again
T = TypeVar("T")


def cache_side(image_size: int, rows: Sequence[SampleRow] = ()) -> int:
    """Side of the cached squares: the training size up to 64 px, else 8/7 of it (224 -> 256).

    Never more than the largest sample side: small images (28 px digits for 32 px training) are
    kept at their own resolution, so crops are resized once, from the original pixels.
    """
    side = image_size if image_size <= 64 else round(image_size * 8 / 7)
    largest = max((max(row.width or 0, row.height or 0) for row in rows), default=0)
    return min(side, largest) if largest else side


@dataclass
class TrainImages:
    """Decoded training pixels with their sample ids and integer labels (-1: none)."""

    ids: np.ndarray
    labels: np.ndarray
    label_names: list[str]
    pixels: np.ndarray
    skipped: list[str]

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def labelled(self) -> bool:
        """Whether at least two classes have labels (enough for a kNN monitor)."""
        return len(set(self.labels[self.labels >= 0].tolist())) >= 2


def train_images_job(
    project: Project, image_size: int, cancel: CancelToken, workers: int = 0
) -> Job[TrainImages]:
    """Load the training cache for ``image_size``, decoding what is missing or stale."""
    rows = project.samples(status="ok")
    if not rows:
        raise SieveError(f"the project at {project.path} has no usable samples to train on")
    side = cache_side(image_size, rows)
    folder = project.path / "cache"
    key = _cache_key(project.dataset_root, rows, side)
    cached = _load_cache(folder, side, key)
    if cached is None:
        pixels, ok, skipped = yield from _decode_all(
            project.dataset_root, rows, side, cancel, workers
        )
        rows = [row for row, good in zip(rows, ok, strict=True) if good]
        if not rows:
            raise SieveError("no sample could be decoded for training")
        pixels = pixels[np.asarray(ok, dtype=bool)]
        _save_cache(folder, side, key, pixels, [row.id for row in rows], skipped)
        cached = _load_cache(folder, side, key)
        assert cached is not None
    pixels, ids, skipped = cached
    by_id = {row.id: row for row in rows}
    names = sorted({row.label for row in rows if row.label is not None})
    index = {name: i for i, name in enumerate(names)}
    labels = np.array(
        [index.get(by_id[i].label, UNLABELLED) if by_id[i].label else UNLABELLED for i in ids],
        dtype=np.int64,
    )
    yield Progress("decoding", len(ids), len(ids), f"{len(ids):,} training images ready")
    return TrainImages(np.asarray(ids, dtype=np.int64), labels, names, pixels, skipped)


def _cache_key(root: Path, rows: Sequence[SampleRow], side: int) -> str:
    digest = hashlib.sha256(f"v1:{side}".encode())
    stats: dict[str, tuple[int, int]] = {}
    for row in rows:
        if row.relpath not in stats:
            try:
                stat = os.stat(root / row.relpath)
                stats[row.relpath] = (stat.st_size, stat.st_mtime_ns)
            except OSError:
                stats[row.relpath] = (-1, -1)
        digest.update(f"{row.id}|{row.relpath}|{row.frame}|{stats[row.relpath]}\n".encode())
    return digest.hexdigest()


def _paths(folder: Path, side: int) -> tuple[Path, Path]:
    return folder / f"train-{side}.npy", folder / f"train-{side}.json"


def load_fresh_cache(
    project: Project, rows: Sequence[SampleRow], side: int
) -> tuple[np.ndarray, list[int], list[str]] | None:
    """The training cache's ``(pixels, ids, skipped)`` at ``side`` if it matches the files."""
    return _load_cache(project.path / "cache", side, _cache_key(project.dataset_root, rows, side))


def _load_cache(
    folder: Path, side: int, key: str
) -> tuple[np.ndarray, list[int], list[str]] | None:
    pixels_path, meta_path = _paths(folder, side)
    try:
        meta = json.loads(meta_path.read_text())
        if meta.get("key") != key:
            return None
        pixels = np.load(pixels_path, mmap_mode="r")
    except (OSError, ValueError):
        return None
    if pixels.shape != (len(meta["ids"]), side, side, 3):
        return None
    return pixels, meta["ids"], meta["skipped"]


def _save_cache(
    folder: Path, side: int, key: str, pixels: np.ndarray, ids: list[int], skipped: list[str]
) -> None:
    pixels_path, meta_path = _paths(folder, side)
    try:
        with atomic_file(pixels_path) as handle:
            np.save(handle, pixels)
        with atomic_file(meta_path) as handle:
            handle.write(json.dumps({"key": key, "ids": ids, "skipped": skipped}).encode())
    except OSError as error:
        raise SieveError(f"cannot write the training cache in {folder}: {error}") from error


def _decode_all(
    root: Path, rows: Sequence[SampleRow], side: int, cancel: CancelToken, workers: int
) -> Iterator[Progress]:
    """Decode every row into one array; returns (pixels, ok flags, skipped messages)."""
    pixels = np.zeros((len(rows), side, side, 3), dtype=np.uint8)
    ok = [False] * len(rows)
    skipped: list[str] = []
    groups = group_by_file(rows)
    done = 0
    yield Progress("decoding", 0, len(rows), "decoding training images")
    with ThreadPoolExecutor(max_workers=workers or min(8, os.cpu_count() or 2)) as pool:
        for finished in pool.map(lambda g: decode_group(root, rows, g, side, cancel), groups):
            if cancel.cancelled:
                raise JobCancelled()
            for position, image, problem in finished:
                if image is not None:
                    pixels[position] = image
                    ok[position] = True
                else:
                    skipped.append(problem)
            done += len(finished)
            yield Progress("decoding", done, len(rows), f"decoded {done:,} of {len(rows):,}")
    return pixels, ok, skipped


def group_by_file(rows: Sequence[SampleRow]) -> list[list[int]]:
    """Positions of rows: one group per image, one per video with all its frames."""
    videos: dict[str, list[int]] = defaultdict(list)
    groups: list[list[int]] = []
    for position, row in enumerate(rows):
        if row.frame is None:
            groups.append([position])
        else:
            videos[row.relpath].append(position)
    groups.extend(videos.values())
    return groups


Decoded = list[tuple[int, np.ndarray | None, str]]


def decode_group(
    root: Path, rows: Sequence[SampleRow], group: list[int], side: int, cancel: CancelToken
) -> Decoded:
    if cancel.cancelled:
        return []
    first = rows[group[0]]
    if first.frame is None:
        try:
            image = load_rgb(root / first.relpath, draft_size=(side, side))
        except ImageError as error:
            return [(group[0], None, f"{first.relpath}: {error}")]
        return [(group[0], square(image, side), "")]
    return _decode_frames(root / first.relpath, rows, group, side)


def _decode_frames(path: Path, rows: Sequence[SampleRow], group: list[int], side: int) -> Decoded:
    by_frame = {rows[position].frame: position for position in group}
    out: Decoded = []
    try:
        with VideoReader(path) as reader:
            for frame, image in reader.iter_frames(sorted(by_frame)):
                out.append((by_frame.pop(frame), square(image, side), ""))
    except VideoError as error:
        message = f"{rows[group[0]].relpath}: {error}"
        out.extend((position, None, message) for position in by_frame.values())
    return out


def square(image: Image.Image, side: int) -> np.ndarray:
    if image.size != (side, side):
        image = image.resize((side, side), Image.Resampling.BILINEAR, reducing_gap=3.0)
    return np.asarray(image, dtype=np.uint8)


_DONE = object()


@dataclass(frozen=True)
class _Failure:
    """What the producer raised, handed to the consumer."""

    error: BaseException


class Prefetcher(Generic[T]):
    """Iterates ``items`` on a background thread, up to ``depth`` items ahead of the consumer.

    An exception in the producer reaches the consumer: a :class:`SieveError` as it is, anything
    else as a SieveError naming ``what`` failed (chained). The consumer waits at most
    :data:`POLL_S` at a time, so it notices ``cancel``, :meth:`close` and a dead producer.
    """

    def __init__(
        self, items: Iterable[T], depth: int, what: str, cancel: CancelToken | None = None
    ) -> None:
        self._items = items
        self._what = what
        self._cancel = cancel
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._fill, name="sieve-prefetch", daemon=True)
        self._thread.start()

    def _fill(self) -> None:
        try:
            for item in self._items:
                if not self._put(item):
                    return
        except BaseException as error:
            self._put(_Failure(error))
            return
        self._put(_DONE)

    def _put(self, item: object) -> bool:
        """Queue ``item``, giving up (False) once the consumer stopped."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[T]:
        while True:
            item = self._next()
            if item is _DONE:
                return
            yield item

    def _next(self) -> object:
        """The next item, ``_DONE`` at the end or after :meth:`close`; raises what failed."""
        while not self._stop.is_set():
            if self._cancel is not None:
                self._cancel.raise_if_cancelled()
            try:
                item = self._queue.get(timeout=POLL_S)
            except queue.Empty:
                if not self._thread.is_alive() and self._queue.empty():
                    raise SieveError(f"{self._what} stopped unexpectedly") from None
                continue
            if isinstance(item, _Failure):
                _raise_failure(item.error, self._what)
            return item
        return _DONE

    def close(self, timeout: float | None = 5.0) -> None:
        """Stop the producer and wait up to ``timeout`` seconds for its thread (None: no limit)."""
        self._stop.set()
        self._thread.join(timeout=timeout)


def _raise_failure(error: BaseException, what: str) -> None:
    """Raise what the producer raised: a SieveError as it is, else one naming ``what``."""
    if isinstance(error, SieveError):
        raise error
    raise SieveError(f"{what} failed: {error or type(error).__name__}") from error


class BatchPrefetcher(Prefetcher["torch.Tensor"]):
    """Reads uint8 batches from the cache on a background thread, ready as (B, 3, S, S) tensors.

    Reading is deterministic (indices are fixed by the caller), so prefetching never touches the
    random state that augmentation uses.
    """

    def __init__(
        self,
        pixels: np.ndarray,
        batches: Sequence[np.ndarray],
        pin: bool,
        depth: int = 3,
        cancel: CancelToken | None = None,
    ) -> None:
        reads = _read_batches(pixels, batches, pin)
        super().__init__(reads, depth, "reading the training cache", cancel)


def _read_batches(
    pixels: np.ndarray, batches: Sequence[np.ndarray], pin: bool
) -> Iterator[torch.Tensor]:
    import torch

    for indices in batches:
        order = np.argsort(indices)
        block = np.empty((len(indices), *pixels.shape[1:]), dtype=np.uint8)
        block[order] = pixels[indices[order]]
        tensor = torch.from_numpy(block).permute(0, 3, 1, 2)
        yield tensor.pin_memory() if pin else tensor
