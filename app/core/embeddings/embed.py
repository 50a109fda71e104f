"""Embedding: every usable sample through a backbone, stored as an embedding set.

The backbone is a training run's (``run``, or the newest finished run when neither ``run`` nor
``backbone`` is given), or a registered torchvision backbone with ImageNet weights, a weights file
or a seeded random init (a quick look that says so). ``EmbedConfig(quick=True)`` (see
:func:`quick_config` and ``quick.py``) is the fast quick look: a small input, ImageNet weights only
when they are cached offline, and pixels from the stored thumbnails where they hold enough
(``thumb_pixels.py``), the original files for the rest. Samples are prepared as training prepares
them: decoded and squashed to a square of ``cache_side`` pixels (``ssl/data.py``), resized to the
model's input size on the device and normalised with the ImageNet mean and std.

Batch ``k`` is ``rows[k * batch_size : (k + 1) * batch_size]`` of the project's usable samples.
Each finished batch is written to ``partial/batch-<k>.npz`` of the set, so a stopped job resumes
where it was. A prefetch thread decodes the next batches (images in a thread pool, or pixels from
a fresh training cache) while the backbone runs. Under torchrun each rank takes every
``world``-th batch and rank 0 merges the batch files into the set's arrays.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from app.core.data.images import ImageError, load_rgb
from app.core.embeddings import quick, small_maps
from app.core.embeddings.thumb_pixels import read_thumbnails, thumbnail_pixels
from app.core.errors import JobCancelled, SieveError
from app.core.jobs import CancelToken, Job, Progress, RateMeter, format_duration
from app.core.ssl import distributed
from app.core.ssl.augment import normalize
from app.core.ssl.backbones import Backbone, build_backbone
from app.core.ssl.config import PRECISIONS
from app.core.ssl.data import (
    Decoded,
    Prefetcher,
    cache_side,
    decode_group,
    group_by_file,
    load_fresh_cache,
    square,
)
from app.core.ssl.devices import resolve_device, resolve_precision
from app.core.ssl.trained import trained_backbone
from app.core.store.arrays import atomic_file
from app.core.store.embedding_sets import (
    EmbeddingSet,
    create_embedding_set,
    finish_embedding_set,
    get_embedding_set,
)
from app.core.store.project import Project, SampleRow

RANDOM_INIT_SEED = 0
TORCHVISION_SIZE = 224
PARTIAL = "partial"
PREFETCH_DEPTH = 2
QUICK_LOOK = "random init (quick look: random weights, not trained)"
# Settings that change the vectors or the batch boundaries; a resumed set must match them.
RESUME_KEYS = (
    "run",
    "backbone",
    "weights",
    "image_size",
    "batch_size",
    "precision",
    "side",
    "quick",
)


@dataclass
class EmbedConfig:
    """What to embed with; stored (resolved) in the embedding set's config."""

    run: int | None = None
    backbone: str | None = None
    weights: str = "none"
    image_size: int | None = None
    batch_size: int = 256
    device: str = "auto"
    workers: int = 0
    precision: str = "auto"
    quick: bool = False

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EmbedConfig:
        """The config stored in a set (extra keys such as ``source`` are ignored)."""
        names = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in names})

    def validate(self) -> None:
        if self.run is not None and self.backbone is not None:
            raise SieveError("choose a training run or a backbone to embed with, not both")
        if self.quick and self.run is not None:
            raise SieveError("a quick look embeds with a pretrained or random backbone, not a run")
        if self.batch_size < 1:
            raise SieveError("batch-size must be at least 1")
        if self.image_size is not None and self.image_size < 8:
            raise SieveError("image-size must be at least 8 pixels")
        if self.workers < 0:
            raise SieveError("workers cannot be negative")
        if self.precision not in PRECISIONS:
            raise SieveError(f"precision must be one of: {', '.join(PRECISIONS)}")


@dataclass
class _Model:
    """A backbone (eval mode), its input size, what it is (``source``) and a note for the user."""

    backbone: Backbone
    image_size: int
    source: str
    message: str | None = None


def embed_image_file(
    backbone: Backbone, image_size: int, path: str | os.PathLike, side: int | None = None
) -> np.ndarray:
    """An image file as a (D,) unit-length float32 vector (on the backbone's device).

    Prepared as a sample is: squashed to a square of ``side`` (default: ``cache_side``, and never
    more than the image's own largest side, as for the samples of a small-image dataset), then
    resized to ``image_size`` and normalised.
    """
    try:
        image = load_rgb(path, draft_size=(side or cache_side(image_size),) * 2)
    except ImageError as error:
        raise SieveError(f"cannot embed {path}: {error}") from error
    side = side or min(cache_side(image_size), max(image.size))
    device = next(backbone.parameters(), torch.zeros(0)).device
    pixels = torch.from_numpy(square(image, side)[None].copy())
    return _forward(backbone.eval(), pixels, image_size, device, None)[0]


def load_embedder(project: Project, embedding_set: EmbeddingSet) -> tuple[Backbone, int]:
    """The backbone (eval mode, CPU) and input size that made ``embedding_set``, rebuilt."""
    config = EmbedConfig.from_dict(embedding_set.config)
    model, resolved = _resolve(project, config)
    if resolved.weights != config.weights:
        raise SieveError(
            f"set {embedding_set.id} used {config.weights} weights that cannot be loaded now: "
            f"{model.message}"
        )
    return model.backbone, model.image_size


def embed_job(
    project: Project,
    config: EmbedConfig | None,
    cancel: CancelToken,
    resume_set: int | None = None,
) -> Job[EmbeddingSet]:
    """Embed every usable sample into a new set, or finish set ``resume_set``.

    ``config`` None resumes with the set's stored config. Returns the finished, active set.
    """
    started = time.perf_counter()
    rows = project.samples(status="ok")
    if not rows:
        raise SieveError(f"the project at {project.path} has no usable samples to embed")
    if config is None:
        if resume_set is None:
            raise SieveError("give an embedding config or a set to resume")
        config = EmbedConfig.from_dict(get_embedding_set(project, resume_set).config)
    config.validate()
    device = resolve_device(config.device, distributed.local_rank())
    distributed.init_from_env(device.type)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    model, resolved = _resolve(project, config)
    if model.message:
        yield Progress("embedding", 0, None, model.message)
    side = cache_side(model.image_size, rows)
    set_config = {**asdict(resolved), "source": model.source, "side": side}
    embedding_set = _open_set(project, set_config, resume_set)
    run = _EmbedRun(project, embedding_set, model, side, rows, resolved, device)
    counts = yield from run.embed_recording_status(cancel)
    return run.merge(counts, started)


def quick_config(**settings: Any) -> EmbedConfig:
    """A quick look's config; ``settings`` (device, batch_size, image_size, ...) override."""
    values: dict[str, Any] = {"quick": True, "backbone": quick.QUICK_BACKBONE}
    values.update({key: value for key, value in settings.items() if value is not None})
    return EmbedConfig(**values)


def _resolve(project: Project, config: EmbedConfig) -> tuple[_Model, EmbedConfig]:
    """The backbone ``config`` asks for (eval mode, CPU) and the config with its choices filled."""
    if config.quick:
        return _resolve_quick(config)
    if config.backbone is None:
        backbone, record = trained_backbone(project, config.run)
        size = config.image_size or record.config.image_size
        source = f"run {record.id} ({record.config.method}, {backbone.name}, {size} px)"
        resolved = replace(config, run=record.id, image_size=size, weights="none")
        return _Model(backbone, size, source), resolved
    size = config.image_size or TORCHVISION_SIZE
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_INIT_SEED)
        backbone = build_backbone(config.backbone, config.weights, size)
    weights = config.weights.strip().lower()
    message = backbone.load_message
    if weights in ("", "none", "random") or (weights == "imagenet" and backbone.fell_back):
        source = f"{backbone.name} {QUICK_LOOK}"
        if weights == "imagenet":
            message = f"{message} Embedding with a {QUICK_LOOK}."
        weights = "none"
    elif weights == "imagenet":
        source = f"{backbone.name} imagenet"
    else:
        weights = config.weights
        source = f"{backbone.name} weights from {Path(config.weights).name}"
    resolved = replace(config, backbone=backbone.name, image_size=size, weights=weights)
    return _Model(backbone.eval(), size, source, message), resolved


def _resolve_quick(config: EmbedConfig) -> tuple[_Model, EmbedConfig]:
    """The quick look's backbone: cached ImageNet weights, else random (never downloads)."""
    name = config.backbone or quick.QUICK_BACKBONE
    imagenet = config.weights.strip().lower() != quick.RANDOM
    found = quick.load_quick_model(config.image_size, name, imagenet)
    resolved = replace(
        config, backbone=found.backbone.name, image_size=found.input_size, weights=found.weights
    )
    return _Model(found.backbone, found.input_size, found.note, found.note), resolved


def _open_set(project: Project, config: dict[str, Any], resume_set: int | None) -> EmbeddingSet:
    """Rank 0 creates the set or checks the one to resume; every rank gets the same set."""
    outcome: tuple[int | None, str | None] = (None, None)
    if distributed.rank() == 0:
        try:
            outcome = (_create_or_check(project, config, resume_set), None)
        except SieveError as error:
            outcome = (None, str(error))
    set_id, problem = distributed.broadcast_object(outcome)
    if problem is not None:
        raise SieveError(problem)
    return get_embedding_set(project, set_id)


def _create_or_check(project: Project, config: dict[str, Any], resume_set: int | None) -> int:
    if resume_set is None:
        embedding_set = create_embedding_set(project, config)
    else:
        embedding_set = get_embedding_set(project, resume_set)
        if embedding_set.finished:
            raise SieveError(f"embedding set {resume_set} is finished already: nothing to resume")
        if embedding_set.kind != config.get("kind", "images"):
            flag = "with --objects" if embedding_set.of_objects else "without --objects"
            raise SieveError(
                f"embedding set {resume_set} is a set of {embedding_set.kind}: resume it {flag}"
            )
        stored = {"quick": False, **embedding_set.config}  # sets from before quick looks
        differs = [k for k in RESUME_KEYS if stored.get(k) != config.get(k)]
        if differs:
            changes = ", ".join(f"{k} {stored.get(k)} -> {config.get(k)}" for k in differs)
            raise SieveError(
                f"cannot resume embedding set {resume_set} with other settings ({changes}); "
                "start a new set instead"
            )
    project.update_run(embedding_set.id, status="running")
    return embedding_set.id


@dataclass
class _Batch:
    """Batch ``k``: every row's id, which rows decoded, their pixels and the problems."""

    k: int
    ids: np.ndarray
    ok: np.ndarray
    pixels: torch.Tensor
    skipped: list[str]


class _EmbedRun:
    """One embedding job on this process (one rank under torchrun)."""

    unit = ("samples", "images")  # what the progress lines count, and their speed

    def __init__(
        self,
        project: Project,
        embedding_set: EmbeddingSet,
        model: _Model,
        side: int,
        rows: Sequence[SampleRow],
        config: EmbedConfig,
        device: torch.device,
    ) -> None:
        self.project = project
        self.set = embedding_set
        self.model = model
        self.side = side
        self.rows = rows
        self.config = config
        self.device = device
        self.partial = embedding_set.folder / PARTIAL
        self.partial.mkdir(parents=True, exist_ok=True)
        size = config.batch_size
        self.batches = [rows[start : start + size] for start in range(0, len(rows), size)]
        backbone = model.backbone
        if config.quick:
            backbone = small_maps.inference_trunk(backbone, model.image_size)
        self.backbone = backbone.to(device, memory_format=torch.channels_last).eval()
        self.autocast = resolve_precision(config.precision, device)
        if config.quick and config.precision == "auto":
            self.autocast = quick.autocast_dtype(device)
        self.from_thumbnails = 0
        self.lanes: quick.Lanes | None = None

    def _forward(self, pixels: torch.Tensor) -> np.ndarray:
        """A batch's unit vectors; a quick look on the CPU runs it in lanes (``quick.Lanes``)."""
        size, device, autocast = self.model.image_size, self.device, self.autocast

        def forward(part: torch.Tensor) -> np.ndarray:
            return _forward(self.backbone, part, size, device, autocast)

        if self.lanes is None:
            return forward(pixels)
        return self.lanes.run(forward, pixels)

    def embed_recording_status(self, cancel: CancelToken) -> Iterator[Progress]:
        """:meth:`embed`, marking the set's run stopped (cancelled) or failed when it ends so."""
        try:
            return (yield from self.embed(cancel))
        except JobCancelled:
            self.project.update_run(self.set.id, status="stopped")
            raise
        except Exception as error:
            self.project.update_run(self.set.id, status="failed", metrics={"error": str(error)})
            raise

    def embed(self, cancel: CancelToken) -> Iterator[Progress]:
        """Embed this rank's batches that have no file yet; returns (images, batches) embedded."""
        world, rank = distributed.world_size(), distributed.rank()
        mine = [k for k in range(len(self.batches)) if k % world == rank]
        kept = {k for k in mine if self._kept(k)}
        todo = [k for k in mine if k not in kept]
        total = sum(len(self.batches[k]) for k in mine)
        done = sum(len(self.batches[k]) for k in kept)
        note = f"; {len(kept)} finished batches kept" if kept else ""
        yield Progress("embedding", done, total, f"embedding {total:,} {self.unit[0]}{note}")
        meter, embedded, computed = RateMeter(), 0, 0
        meter.update(done)
        source = self._source()
        loads = (self._load(source, k) for k in todo)
        stream = Prefetcher(loads, PREFETCH_DEPTH, "preparing images to embed", cancel)
        self.lanes = quick.cpu_lanes(self.device) if self.config.quick else None
        try:
            for batch in stream:
                cancel.raise_if_cancelled()
                vectors = self._forward(batch.pixels)
                self._save(batch, vectors)
                done += len(batch.ids)
                embedded += int(batch.ok.sum())
                computed += 1
                meter.update(done)
                text = _rate_text(done, total, meter, self.unit[1])
                yield Progress("embedding", done, total, text)
                cancel.raise_if_cancelled()
        finally:
            source.close()
            stream.close(timeout=None)
            source.shutdown()
            if self.lanes is not None:
                self.lanes.close()
            self.from_thumbnails = source.from_thumbnails
        return embedded, computed

    def _load(self, source: _PixelSource, k: int) -> _Batch:
        """Batch ``k``'s pixels, pinned for a fast copy to a GPU."""
        batch = source.load(k, self.batches[k])
        if self._pin:
            batch.pixels = batch.pixels.pin_memory()
        return batch

    @property
    def _pin(self) -> bool:
        return self.device.type == "cuda"

    def _source(self) -> _PixelSource:
        cache = load_fresh_cache(self.project, self.rows, self.side)
        thumbs = self.project.path if self.config.quick else None
        return _PixelSource(
            self.project.dataset_root, self.side, self.config.workers, cache, thumbs
        )

    def _file(self, k: int) -> Path:
        return self.partial / f"batch-{k}.npz"

    def _kept(self, k: int) -> bool:
        """Whether batch ``k`` has a file from an earlier run for exactly its samples."""
        path = self._file(k)
        if not path.exists():
            return False
        try:
            with np.load(path, allow_pickle=False) as stored:
                ids, ok, vectors = stored["ids"], stored["ok"], stored["vectors"]
        except (OSError, ValueError, KeyError):
            return False
        expected = np.array([row.id for row in self.batches[k]], dtype=np.int64)
        return np.array_equal(ids, expected) and len(vectors) == int(ok.sum())

    def _save(self, batch: _Batch, vectors: np.ndarray) -> None:
        with atomic_file(self._file(batch.k)) as handle:
            np.savez(
                handle,
                ids=batch.ids,
                ok=batch.ok,
                vectors=vectors,
                skipped=np.array(batch.skipped, dtype=str),
            )

    def merge(self, counts: tuple[int, int], started: float) -> EmbeddingSet:
        """Rank 0 joins every batch file into the set's arrays; every rank returns the set."""
        images, computed = (sum(n) for n in zip(*distributed.gather_objects(counts), strict=True))
        if distributed.rank() == 0:
            ids, vectors, skipped = self._read_batches()
            seconds = time.perf_counter() - started
            metrics = {
                "seconds": round(seconds, 3),
                "images_per_s": round(images / seconds, 1) if seconds > 0 else 0.0,
                "skipped": skipped,
                "device": str(self.device),
                "source": self.model.source,
                "batches": len(self.batches),
                "batches_computed": computed,
                "batches_kept": len(self.batches) - computed,
                "world": distributed.world_size(),
                "from_thumbnails": self.from_thumbnails,
            }
            if not len(ids):
                self.project.update_run(self.set.id, status="failed", metrics=metrics)
                raise SieveError(f"no sample could be embedded: {'; '.join(skipped[:3])}")
            finish_embedding_set(self.project, self.set, ids, vectors, metrics, center=True)
        distributed.barrier()
        return get_embedding_set(self.project, self.set.id)

    def _read_batches(self) -> tuple[np.ndarray, np.ndarray, list[str]]:
        ids, vectors, skipped = [], [], []
        for k in range(len(self.batches)):
            try:
                with np.load(self._file(k), allow_pickle=False) as stored:
                    ids.append(stored["ids"][stored["ok"]])
                    vectors.append(stored["vectors"])
                    skipped.extend(str(message) for message in stored["skipped"])
            except (OSError, ValueError, KeyError) as error:
                raise SieveError(f"batch {k} of embedding set {self.set.id} is missing") from error
        return np.concatenate(ids), np.concatenate(vectors), list(dict.fromkeys(skipped))


class _PixelSource:
    """Decoded square uint8 pixels for a batch of rows: from a fresh training cache, else from
    the stored thumbnails of the project at ``thumbs_from`` (when given) and the files."""

    def __init__(
        self,
        root: Path,
        side: int,
        workers: int,
        cache: tuple[np.ndarray, list[int], list[str]] | None,
        thumbs_from: Path | None = None,
    ) -> None:
        self.root, self.side, self.cache = root, side, cache
        self.thumbs_from = thumbs_from
        self.from_thumbnails = 0
        self.stop = CancelToken()
        self.pool: ThreadPoolExecutor | None = None
        if cache is None:
            self.pool = ThreadPoolExecutor(workers or min(8, os.cpu_count() or 2), "sieve-embed")
        else:
            self.index = {int(sample_id): i for i, sample_id in enumerate(cache[1])}
            self.problems = {message.split(": ", 1)[0]: message for message in cache[2]}

    def load(self, k: int, rows: Sequence[SampleRow]) -> _Batch:
        images: list[np.ndarray | None] = [None] * len(rows)
        problems: dict[int, str] = {}
        if self.pool is None:
            for position, row in enumerate(rows):
                if row.id in self.index:
                    images[position] = self.cache[0][self.index[row.id]]
                else:
                    problems[position] = self.problems.get(row.relpath, "")
        else:
            for position, image in self._thumbnails(rows):
                images[position] = image
            groups = [
                left
                for group in group_by_file(rows)
                if (left := [position for position in group if images[position] is None])
            ]
            for decoded in self.pool.map(lambda g: self._decode(rows, g), groups):
                for position, image, problem in decoded:
                    images[position] = image
                    problems[position] = problem
        return self._batch(k, rows, images, problems)

    def _thumbnails(self, rows: Sequence[SampleRow]) -> list[tuple[int, np.ndarray]]:
        """``(position, pixels)`` of the rows whose stored thumbnail is enough."""
        if self.thumbs_from is None or self.pool is None:
            return []
        stored = read_thumbnails(self.thumbs_from, [row.id for row in rows])
        positions = [position for position, row in enumerate(rows) if row.id in stored]
        pixels = self.pool.map(
            lambda p: thumbnail_pixels(stored[rows[p].id], rows[p], self.side), positions
        )
        found = [
            (p, image) for p, image in zip(positions, pixels, strict=True) if image is not None
        ]
        self.from_thumbnails += len(found)
        return found

    def _decode(self, rows: Sequence[SampleRow], group: list[int]) -> Decoded:
        try:
            return decode_group(self.root, rows, group, self.side, self.stop)
        except Exception as error:
            return [(position, None, f"{rows[position].name}: {error}") for position in group]

    def _batch(
        self,
        k: int,
        rows: Sequence[SampleRow],
        images: list[np.ndarray | None],
        problems: dict[int, str],
    ) -> _Batch:
        ok = np.array([image is not None for image in images], dtype=bool)
        pixels = np.empty((int(ok.sum()), self.side, self.side, 3), dtype=np.uint8)
        for target, image in enumerate(image for image in images if image is not None):
            pixels[target] = image
        skipped = [
            problems.get(position) or f"{rows[position].name}: could not be decoded"
            for position in np.flatnonzero(~ok)
        ]
        ids = np.array([row.id for row in rows], dtype=np.int64)
        return _Batch(k, ids, ok, torch.from_numpy(pixels), skipped)

    def close(self) -> None:
        self.stop.cancel()

    def shutdown(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def _rate_text(done: int, total: int, meter: RateMeter, unit: str = "images") -> str:
    rate = meter.rate
    speed = f"{rate:,.0f} {unit}/s" if rate else "measuring speed"
    return (
        f"embedded {done:,} of {total:,} ({speed}, ETA {format_duration(meter.eta(done, total))})"
    )


def _forward(
    backbone: torch.nn.Module,
    pixels: torch.Tensor,
    image_size: int,
    device: torch.device,
    autocast: torch.dtype | None,
) -> np.ndarray:
    """(B, S, S, 3) uint8 pixels -> (B, D) unit-length float32 features.

    Normalising commutes with bilinear resizing, so it runs on the smaller of the two sizes
    (antialiasing only matters when shrinking).
    """
    x = pixels.to(device, non_blocking=True).permute(0, 3, 1, 2).float().div_(255)
    side = x.shape[-1]
    if side < image_size:
        x = normalize(x)
    if side != image_size:
        shrink = side > image_size
        x = F.interpolate(x, size=(image_size, image_size), mode="bilinear", antialias=shrink)
    if side >= image_size:
        x = normalize(x)
    x = x.contiguous(memory_format=torch.channels_last)
    enabled = autocast is not None
    with (
        torch.inference_mode(),
        torch.autocast(device.type, dtype=autocast or torch.float32, enabled=enabled),
    ):
        features = backbone(x)
    return F.normalize(features.float(), dim=1).cpu().numpy()
