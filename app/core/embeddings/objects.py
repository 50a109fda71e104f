"""Object embeddings: every object's crop through a backbone, stored as a set of kind ``objects``.

The set's ids are OBJECT ids of one annotation source (the ground truth unless another is
named). The backbone is chosen as for images (a training run, a torchvision backbone with its
weights, see ``embed.py``); crops are cut as ``crops.py`` describes, squashed straight to the
model's input size. The job is image embedding's own (``embed._EmbedRun``): resumable batch
files in ``partial/``, a prefetch thread that decodes and crops the next batches while the
backbone runs, cancel between batches, and under torchrun every ``world``-th batch per rank with
rank 0 merging. Only the batches differ: each holds whole images' objects, so an image is
decoded once. The set records the source, padding and minimum size in its config and the
objects left out (too small, or on unusable images) in its metrics.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import torch

from app.core.embeddings.crops import (
    DEFAULT_MIN_SIZE,
    DEFAULT_PADDING,
    CropBatchItems,
    CropPlan,
    CropSource,
    annotation_source,
    plan_crops,
)
from app.core.embeddings.embed import (
    EmbedConfig,
    _Batch,
    _EmbedRun,
    _Model,
    _open_set,
    _resolve,
)
from app.core.errors import SieveError
from app.core.jobs import CancelToken, Job, Progress
from app.core.ssl import distributed
from app.core.ssl.devices import resolve_device
from app.core.store.embedding_sets import (
    OBJECTS,
    OBJECTS_SOURCE_KEY,
    EmbeddingSet,
    get_embedding_set,
    usable_sample_ids,
)
from app.core.store.objects import AnnotationSource, object_arrays
from app.core.store.project import Project, SampleRow


@dataclass
class CropConfig:
    """Which objects to crop and how; stored in the set's config."""

    source: str | None = None  # annotation source name; None: the ground truth
    padding: float = DEFAULT_PADDING
    min_size: float = DEFAULT_MIN_SIZE

    def validate(self) -> None:
        if not 0 <= self.padding <= 4:
            raise SieveError(f"padding is a fraction of the box from 0 to 4, not {self.padding}")
        if self.min_size < 0:
            raise SieveError(f"min-size cannot be negative ({self.min_size})")


def object_embed_job(
    project: Project,
    config: EmbedConfig | None,
    crops: CropConfig | None,
    cancel: CancelToken,
    resume_set: int | None = None,
) -> Job[EmbeddingSet]:
    """Embed the crops of every object of ``crops.source`` into a new object set, or finish
    object set ``resume_set`` (``config`` and ``crops`` None: with its stored settings).

    Returns the finished set, which becomes the active object set.
    """
    started = time.perf_counter()
    if config is None or crops is None:
        config, crops = _stored_settings(project, resume_set)
    config.validate()
    crops.validate()
    annotation = annotation_source(project, crops.source)
    if resume_set is not None:
        _check_resumable(project, resume_set, annotation)
    device = resolve_device(config.device, distributed.local_rank())
    distributed.init_from_env(device.type)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    model, resolved = _resolve(project, config)
    if model.message:
        yield Progress("embedding", 0, None, model.message)
    rows = _usable_rows(project)
    plan = plan_crops(
        object_arrays(project, annotation.id), set(rows), resolved.batch_size, crops.min_size
    )
    if not plan.count:
        raise SieveError(_nothing_to_embed(annotation, plan, crops))
    if plan.too_small:
        yield Progress("embedding", 0, None, _left_out(plan, crops))
    side = model.image_size
    set_config = {
        **asdict(resolved),
        "source": f"{model.source}; crops of {annotation.name}",
        "side": side,
        "kind": OBJECTS,
        "objects_source": annotation.name,
        OBJECTS_SOURCE_KEY: annotation.id,
        "padding": crops.padding,
        "min_size": crops.min_size,
    }
    embedding_set = _open_set(project, set_config, resume_set)
    run = _ObjectRun(project, embedding_set, model, plan, resolved, device, rows, crops.padding)
    counts = yield from run.embed_recording_status(cancel)
    finished = run.merge(counts, started)
    if distributed.rank() == 0:
        metrics = {
            **finished.metrics,
            "crops_per_s": finished.metrics.get("images_per_s", 0.0),
            "objects_too_small": plan.too_small,
            "objects_on_unusable_images": plan.off_samples,
        }
        project.update_run(finished.id, metrics=metrics)
        finished.metrics = metrics
    return finished


def _stored_settings(project: Project, resume_set: int | None) -> tuple[EmbedConfig, CropConfig]:
    if resume_set is None:
        raise SieveError("give an embedding config or a set to resume")
    stored = get_embedding_set(project, resume_set)
    if not stored.of_objects:
        raise SieveError(
            f"embedding set {resume_set} is a set of images: resume it without --objects"
        )
    crops = CropConfig(
        stored.config.get("objects_source"),
        float(stored.config.get("padding", DEFAULT_PADDING)),
        float(stored.config.get("min_size", DEFAULT_MIN_SIZE)),
    )
    return EmbedConfig.from_dict(stored.config), crops


def _check_resumable(project: Project, set_id: int, annotation: AnnotationSource) -> None:
    stored = get_embedding_set(project, set_id)
    if not stored.of_objects:
        raise SieveError(f"embedding set {set_id} is a set of images, not of objects")
    if stored.config.get(OBJECTS_SOURCE_KEY) != annotation.id:
        raise SieveError(
            f"the annotations {annotation.name!r} changed since set {set_id} was started "
            "(imported again): start a new set instead"
        )


def _usable_rows(project: Project) -> dict[int, SampleRow]:
    usable = set(usable_sample_ids(project).tolist())
    return {row.id: row for row in project.samples(status="ok") if row.id in usable}


def _left_out(plan: CropPlan, crops: CropConfig) -> str:
    return (
        f"{plan.too_small:,} objects smaller than {crops.min_size:g} px are left out "
        f"(embedding {plan.count:,})"
    )


def _nothing_to_embed(annotation: AnnotationSource, plan: CropPlan, crops: CropConfig) -> str:
    if not plan.too_small and not plan.off_samples:
        return f"the annotations {annotation.name!r} have no objects to embed"
    return (
        f"no object of {annotation.name!r} to embed: {plan.too_small:,} are smaller than "
        f"{crops.min_size:g} px, {plan.off_samples:,} lie on broken or missing images"
    )


class _ObjectRun(_EmbedRun):
    """Image embedding's run over batches of object crops."""

    unit = ("objects", "crops")

    def __init__(
        self,
        project: Project,
        embedding_set: EmbeddingSet,
        model: _Model,
        plan: CropPlan,
        config: EmbedConfig,
        device: torch.device,
        rows: dict[int, SampleRow],
        padding: float,
    ) -> None:
        super().__init__(project, embedding_set, model, model.image_size, [], config, device)
        self.batches = plan.batches
        self.sample_rows = rows
        self.padding = padding

    def _source(self) -> _CropPixels:
        crops = CropSource(
            self.project.dataset_root,
            self.sample_rows,
            self.side,
            self.padding,
            self.config.workers,
        )
        return _CropPixels(crops)


class _CropPixels:
    """A :class:`CropSource` whose batches carry torch pixels, as the embedding run reads them."""

    def __init__(self, crops: CropSource) -> None:
        self.crops = crops
        self.from_thumbnails = 0  # crops are always cut from the full image

    def load(self, k: int, items: CropBatchItems) -> _Batch:
        batch = self.crops.load(k, items)
        return _Batch(batch.k, batch.ids, batch.ok, torch.from_numpy(batch.pixels), batch.skipped)

    def close(self) -> None:
        self.crops.close()

    def shutdown(self) -> None:
        self.crops.shutdown()
