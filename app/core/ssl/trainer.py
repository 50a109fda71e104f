"""The self-supervised trainer: a job generator that trains, monitors, checkpoints and resumes.

``train_job(project, config, cancel)`` yields a Progress per step (loss, learning rate, images/s,
ETA in ``partial``) and one per epoch (mean loss, collapse std, kNN accuracy). Stopping at any
step writes a consistent checkpoint; ``train_job(project, cancel=..., resume=RUN)`` continues
exactly where it stopped. Under ``torchrun`` the same job runs data-parallel (DDP): each rank
takes its slice of every global batch and only rank 0 writes to the project.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from app.core.errors import JobCancelled, SieveError
from app.core.jobs import CancelToken, Job, Progress, RateMeter, format_duration
from app.core.ssl import distributed
from app.core.ssl.augment import IMAGENET_MEAN, IMAGENET_STD, BatchAugment, preset
from app.core.ssl.backbones import build_backbone, resolve_backbone_name
from app.core.ssl.checkpoint import (
    CheckpointDiskFull,
    Position,
    TrainState,
    load_checkpoint,
    restore,
    save_checkpoint,
)
from app.core.ssl.checks import check_config, check_dataset
from app.core.ssl.config import TrainConfig
from app.core.ssl.data import BatchPrefetcher, TrainImages, train_images_job
from app.core.ssl.devices import resolve_device, resolve_precision
from app.core.ssl.methods import METHODS, Method, build_method
from app.core.ssl.monitor import COLLAPSE_WARNING, CollapseMeter, holdout_split, knn_accuracy
from app.core.ssl.optim import build_optimizer, learning_rate, set_learning_rate
from app.core.ssl.process_owner import ProcessOwner
from app.core.ssl.runs import (
    FINISHED,
    RunRecord,
    check_resumable,
    create_run,
    get_run,
    run_folder,
)
from app.core.store.project import Project

log = logging.getLogger("sieve")

MAX_WARMUP_FRACTION = 0.25
"""Warm-up never takes more than this share of a run (short runs would barely train)."""


@dataclass
class TrainResult:
    run_id: int
    status: str
    epochs_done: int
    history: list[dict[str, Any]]
    checkpoint: Path
    messages: list[str]


def resolve_config(config: TrainConfig) -> TrainConfig:
    """Fill "auto" and None with the method's defaults so a run records what it really used."""
    if config.method not in METHODS:
        raise SieveError(f"unknown method {config.method!r}: choose from {', '.join(METHODS)}")
    defaults = METHODS[config.method].defaults
    return replace(
        config,
        backbone=resolve_backbone_name(config.backbone, config.image_size),
        optimizer=defaults.optimizer if config.optimizer == "auto" else config.optimizer,
        lr=defaults.lr if config.lr is None else config.lr,
        weight_decay=defaults.weight_decay if config.weight_decay is None else config.weight_decay,
        warmup_epochs=(
            defaults.warmup_epochs if config.warmup_epochs is None else config.warmup_epochs
        ),
    )


def train_job(
    project: Project,
    config: TrainConfig | None = None,
    cancel: CancelToken | None = None,
    resume: int | None = None,
) -> Job[TrainResult]:
    """Train a new run from ``config``, or continue run ``resume`` with its stored config.

    Everything that can refuse the run (settings, weights, data, building the model) happens
    before a new run's row exists, so a rejected run leaves no record behind.
    """
    cancel = cancel or CancelToken()
    if (config is None) == (resume is None):
        raise SieveError("give either a training config or a run to resume")
    record = get_run(project, resume) if resume is not None else None
    if record is not None:
        check_resumable(record)
        config = record.config
    assert config is not None
    check_config(config if record is None else replace(config, weights="none"))
    config = resolve_config(config)
    device = resolve_device(config.device, distributed.local_rank())
    distributed.init_from_env(device.type)
    check_dataset(project, config, distributed.world_size())
    if distributed.rank() == 0:
        images = yield from _training_images(project, config, cancel)
        distributed.barrier()
    else:
        distributed.barrier()
        images = yield from _training_images(project, config, cancel)
    trainer = Trainer(project, config, images, device, initial_weights=record is None)
    if record is None:
        record = distributed.broadcast_object(
            create_run(project, config) if distributed.rank() == 0 else None
        )
    return (yield from trainer.run(record, cancel))


def _training_images(
    project: Project, config: TrainConfig, cancel: CancelToken
) -> Job[TrainImages]:
    """The training cache of whole images, or with ``config.objects`` the object crops."""
    if config.objects:
        from app.core.ssl.object_crops import train_crops_job

        crops = train_crops_job(project, config.objects, config.image_size, cancel, config.workers)
        return (yield from crops)
    return (yield from train_images_job(project, config.image_size, cancel, config.workers))


class Trainer:
    """One training run on this process (one rank under DDP)."""

    def __init__(
        self,
        project: Project,
        config: TrainConfig,
        images: TrainImages,
        device: torch.device,
        initial_weights: bool = True,
    ) -> None:
        """Build the model and optimizer; ``initial_weights`` False skips loading
        ``config.weights`` (a resumed run's weights come from its checkpoint)."""
        self.project = project
        self.config = config
        self.images = images
        self.device = device
        self.rank = distributed.rank()
        self.world = distributed.world_size()
        self.messages: list[str] = [f"{m}" for m in images.skipped[:20]]
        self.train_rows, self.held_rows = self._split()
        self.batch_size = self._batch_size()
        self.steps_per_epoch = len(self.train_rows) // self.batch_size
        self.total_steps = self.steps_per_epoch * config.epochs
        torch.manual_seed(config.seed)
        weights = config.weights if initial_weights else "none"
        backbone = build_backbone(config.backbone, weights, config.image_size)
        if getattr(backbone, "load_message", None):
            self.messages.append(backbone.load_message)
        self.method: Method = build_method(
            config.method,
            backbone,
            max_epochs=config.epochs,
            steps_per_epoch=self.steps_per_epoch,
            gather_distributed=self.world > 1,
            **self._method_options(),
        ).to(device, memory_format=torch.channels_last)
        self.model = self._wrap(self.method)
        self.augment = BatchAugment(
            preset(self.method.defaults.augment, config.image_size, **config.augment)
        )
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(config.seed + 1_000_003 * self.rank)
        self.base_lr = config.lr * self.batch_size / 256
        self.warmup_steps = min(
            int(round(config.warmup_epochs * self.steps_per_epoch)),
            int(self.total_steps * MAX_WARMUP_FRACTION),
        )
        self.optimizer = build_optimizer(
            config.optimizer, self.method, self.base_lr, config.weight_decay
        )
        self.autocast_dtype = resolve_precision(config.precision, device)
        self.scaler = torch.amp.GradScaler("cuda") if self.autocast_dtype == torch.float16 else None
        self.state = TrainState()
        self.owner = ProcessOwner.current()
        self._saved_step = -1

    # ------------------------------------------------------------------ setup
    def _split(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.images.labelled or self.config.knn_every == 0:
            return np.arange(len(self.images)), np.empty(0, dtype=np.int64)
        return holdout_split(self.images.labels, self.config.holdout, self.config.seed)

    def _batch_size(self) -> int:
        batch, n = self.config.batch_size, len(self.train_rows)
        if batch > n:
            batch = n - n % self.world
            self.messages.append(
                f"batch size lowered from {self.config.batch_size} to {batch}: "
                f"only {n} training images"
            )
        if batch % self.world:
            raise SieveError(f"batch size {batch} must divide evenly over {self.world} processes")
        if batch // self.world < 2:
            raise SieveError("each process needs at least 2 images per step: add images")
        return batch

    def _method_options(self) -> dict[str, float]:
        """The user's options; a memory bank larger than the data is shrunk to fit it."""
        options = dict(self.config.options)
        default = METHODS[self.config.method].options.get("memory_bank_size")
        if default is None or "memory_bank_size" in options:
            return options
        batch = self.batch_size
        fits = max(batch, (len(self.train_rows) - batch) // batch * batch)
        if fits < default:
            options["memory_bank_size"] = fits
            self.messages.append(
                f"memory bank shrunk from {default} to {fits} to fit {len(self.train_rows)} "
                f"training images (set --option memory_bank_size=N to choose)"
            )
        return options

    def _wrap(self, method: Method) -> nn.Module:
        if self.world == 1:
            return method
        if self.device.type == "cuda":
            method = nn.SyncBatchNorm.convert_sync_batchnorm(method)
        ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(method, device_ids=ids)

    # ------------------------------------------------------------------ run
    def run(self, record: RunRecord, cancel: CancelToken) -> Job[TrainResult]:
        """Train run ``record`` (a new one, or one to resume from its checkpoint)."""
        self.record = record
        self.checkpoint_path = run_folder(self.project, record.id) / "checkpoint.pt"
        if self.record.checkpoint is not None and self.record.status != "created":
            self._resume()
        self._write_status("running")
        try:
            yield from self._prefill(cancel)
            yield from self._epochs(cancel)
            self._save()
        except (JobCancelled, KeyboardInterrupt, GeneratorExit):
            self._stop()
            raise
        except torch.OutOfMemoryError as error:
            self._fail("out of GPU memory")
            smaller = max(2, self.batch_size // 2)
            raise SieveError(
                f"out of GPU memory at batch size {self.batch_size} "
                f"({self.config.image_size} px, {self.config.method}); "
                f"try --batch-size {smaller}"
            ) from error
        except BaseException as error:
            self._fail(str(error) or type(error).__name__)
            raise
        self._write_status(FINISHED)
        return TrainResult(
            self.record.id,
            FINISHED,
            self.state.position.epoch,
            self.state.history,
            self.checkpoint_path,
            self.messages,
        )

    def _stop(self) -> None:
        """Checkpoint a cancelled run and mark it stopped (failed if the checkpoint cannot be
        written: that error then replaces the cancellation)."""
        try:
            self._save()
        except SieveError as error:
            self._fail(str(error))
            raise
        self._write_status("stopped")

    def _fail(self, error: str) -> None:
        """Mark the run failed; a store that cannot be written (a full disk) leaves it running,
        which lists as interrupted once this process ends, and must not hide ``error``."""
        try:
            self._write_status("failed", error=error)
        except (sqlite3.Error, OSError):
            log.warning("cannot mark run %d failed (%s)", self.record.id, error, exc_info=True)

    def _prefill(self, cancel: CancelToken) -> Iterator[Progress]:
        """Fill memory banks with real keys before the first step of a new run."""
        wanted = min(self.method.prefill_batches(self.batch_size), self.steps_per_epoch)
        if wanted == 0 or self.state.position.global_step > 0:
            return
        batches = self._batches(0, self.steps_per_epoch - wanted, cancel, stream=1)
        for done, images in enumerate(batches, start=1):
            cancel.raise_if_cancelled()
            with self._autocast():
                self.method.prefill(self._views(images))
            yield Progress("filling memory bank", done, wanted)

    def _epochs(self, cancel: CancelToken) -> Iterator[Progress]:
        meter = RateMeter(window_s=20.0)
        position = self.state.position
        for epoch in range(position.epoch, self.config.epochs):
            started = tick = time.perf_counter()
            collapse = CollapseMeter()
            for views_uint8 in self._batches(epoch, position.step, cancel):
                cancel.raise_if_cancelled()
                loss, projection, lr = self._step(views_uint8, epoch, position.global_step)
                now = time.perf_counter()
                self.state.meters["train_seconds"] = self.state.meters.get("train_seconds", 0.0)
                self.state.meters["train_seconds"] += now - tick
                tick = now
                collapse.update(projection)
                self._accumulate(loss, collapse)
                position.step += 1
                position.global_step += 1
                meter.update(position.global_step * self.batch_size)
                yield self._step_progress(epoch, loss, lr, meter)
                if self._checkpoint_due(position):
                    self._save()
            entry = self._finish_epoch(epoch, time.perf_counter() - started)
            position.epoch, position.step = epoch + 1, 0
            self._save()
            self._write_metrics()
            yield Progress(
                "training",
                position.global_step,
                self.total_steps,
                _epoch_text(entry, self.config.epochs),
                {"kind": "epoch", **entry},
            )

    def _batches(
        self, epoch: int, skip: int, cancel: CancelToken, stream: int = 0
    ) -> Iterator[torch.Tensor]:
        """This rank's uint8 batches of ``epoch`` from step ``skip`` (``stream`` 1: bank fill)."""
        rng = np.random.default_rng([self.config.seed, stream, epoch])
        order = rng.permutation(self.train_rows)
        per_rank = self.batch_size // self.world
        batches = [
            order[s * self.batch_size + self.rank * per_rank :][:per_rank]
            for s in range(skip, self.steps_per_epoch)
        ]
        pin = self.device.type == "cuda"
        prefetcher = BatchPrefetcher(self.images.pixels, batches, pin=pin, cancel=cancel)
        try:
            for batch in prefetcher:
                yield batch.to(self.device, non_blocking=True)
        finally:
            prefetcher.close()

    def _views(self, images: torch.Tensor) -> list[torch.Tensor]:
        """The augmented views of a uint8 batch, channels-last for fast convolutions."""
        views = self.augment(images, self.generator)
        return [v.contiguous(memory_format=torch.channels_last) for v in views]

    def _autocast(self) -> torch.autocast:
        dtype = self.autocast_dtype
        return torch.autocast(self.device.type, dtype=dtype or torch.float32, enabled=bool(dtype))

    def _step(
        self, images: torch.Tensor, epoch: int, global_step: int
    ) -> tuple[float, torch.Tensor, float]:
        lr = learning_rate(global_step, self.total_steps, self.warmup_steps, self.base_lr)
        set_learning_rate(self.optimizer, lr)
        views = self._views(images)
        with self._autocast():
            output = self.model(views, epoch, global_step)
        loss = output.loss
        if not torch.isfinite(loss):
            raise SieveError(
                f"the loss became {float(loss)} at step {global_step + 1}: "
                f"lower the learning rate (--lr) or use --precision fp32"
            )
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
            self.method.before_optimizer_step(epoch, global_step)
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            self.method.before_optimizer_step(epoch, global_step)
            self.optimizer.step()
        self.method.after_optimizer_step(epoch, global_step)
        return float(loss.detach()), output.projection, lr

    def _accumulate(self, loss: float, collapse: CollapseMeter) -> None:
        meters = self.state.meters
        meters["loss_sum"] = meters.get("loss_sum", 0.0) + loss
        meters["steps"] = meters.get("steps", 0) + 1
        if collapse.std is not None:
            meters["std_last"] = collapse.std
            meters["std_rel_last"] = collapse.relative or 0.0
        meters["last_loss"] = loss

    def _step_progress(self, epoch: int, loss: float, lr: float, meter: RateMeter) -> Progress:
        position = self.state.position
        rate = meter.rate
        eta = meter.eta(position.global_step * self.batch_size, self.total_steps * self.batch_size)
        speed = f"{rate:,.0f} img/s" if rate else "… img/s"
        text = (
            f"epoch {epoch + 1}/{self.config.epochs} · step {position.step}/"
            f"{self.steps_per_epoch} · loss {loss:.4f} · lr {lr:.4g} · {speed} · "
            f"ETA {format_duration(eta)}"
        )
        partial = {
            "kind": "step",
            "epoch": epoch,
            "step": position.step,
            "global_step": position.global_step,
            "loss": loss,
            "lr": lr,
            "images_per_s": rate,
            "eta_s": eta,
        }
        return Progress("training", position.global_step, self.total_steps, text, partial)

    def _checkpoint_due(self, position: Position) -> bool:
        every = self.config.checkpoint_every
        return every > 0 and position.global_step % every == 0

    def _finish_epoch(self, epoch: int, seconds: float) -> dict[str, Any]:
        meters = self.state.meters
        steps = int(meters.get("steps", 0))
        train_seconds = meters.get("train_seconds", 0.0)
        entry: dict[str, Any] = {
            "epoch": epoch + 1,
            "loss": meters.get("loss_sum", 0.0) / steps if steps else None,
            "std": meters.get("std_last"),
            "std_relative": meters.get("std_rel_last"),
            "knn": self._knn(epoch),
            "seconds": seconds,
            "images_per_s": steps * self.batch_size / train_seconds if train_seconds else None,
        }
        relative = entry["std_relative"]
        if relative is not None and relative < COLLAPSE_WARNING:
            warning = (
                f"epoch {epoch + 1}: outputs are collapsing (normalised std {relative:.3f} of "
                f"the healthy 1.0); try a lower learning rate or another method"
            )
            entry["warning"] = warning
            self.messages.append(warning)
        self.state.history.append(entry)
        self.state.meters = {}
        return entry

    def _knn(self, epoch: int) -> float | None:
        every = self.config.knn_every
        if not len(self.held_rows) or every == 0 or (epoch + 1) % every:
            return None
        accuracy = None
        if self.rank == 0:
            bank = self._embed(self.train_rows)
            query = self._embed(self.held_rows)
            labels = torch.from_numpy(self.images.labels)
            train_labels = labels[self.train_rows]
            keep = train_labels >= 0
            accuracy = knn_accuracy(
                query,
                labels[self.held_rows],
                bank[keep],
                train_labels[keep],
                self.config.knn_k,
                self.config.knn_temperature,
            )
        return distributed.broadcast_object(accuracy)

    @torch.no_grad()
    def _embed(self, rows: np.ndarray, chunk: int = 256) -> torch.Tensor:
        """Backbone features of cached images resized to the training size (eval mode)."""
        self.method.eval()
        mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD, device=self.device).view(1, 3, 1, 1)
        size = self.config.image_size
        features = []
        try:
            for start in range(0, len(rows), chunk):
                block = np.asarray(self.images.pixels[np.sort(rows[start : start + chunk])])
                order = np.argsort(np.argsort(rows[start : start + chunk]))
                x = torch.from_numpy(block[order]).to(self.device).permute(0, 3, 1, 2).float()
                x = x / 255
                if x.shape[-1] != size:
                    x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True)
                x = ((x - mean) / std).contiguous(memory_format=torch.channels_last)
                features.append(self.method.embed(x).float().cpu())
        finally:
            self.method.train()
        return torch.cat(features)

    # ------------------------------------------------------------------ persistence
    def _rng_states(self) -> dict[str, Any]:
        augment = distributed.gather_objects(self.generator.get_state().cpu())
        states: dict[str, Any] = {"torch": torch.get_rng_state(), "augment": augment}
        if self.device.type == "cuda":
            states["cuda"] = torch.cuda.get_rng_state(self.device)
        return states

    def _save(self) -> None:
        if self._saved_step == self.state.position.global_step and self.state.position.step == 0:
            return
        self.state.rng = self._rng_states()
        if self.rank == 0:
            try:
                save_checkpoint(
                    self.checkpoint_path,
                    self.config.to_dict(),
                    self.method,
                    self.optimizer,
                    self.scaler,
                    self.state,
                )
            except CheckpointDiskFull as error:
                hint = self._resume_hint()
                raise SieveError(f"{error}: free space and resume with {hint}") from error
        self._saved_step = self.state.position.global_step

    def _resume_hint(self) -> str:
        run = self.record.id
        return f"'sieve train {self.project.path} --resume {run}' (in the app: Train, Runs, Resume)"

    def _resume(self) -> None:
        payload = load_checkpoint(self.checkpoint_path)
        self.state = restore(payload, self.method, self.optimizer, self.scaler)
        rng = self.state.rng
        torch.set_rng_state(rng["torch"])
        if "cuda" in rng and self.device.type == "cuda":
            torch.cuda.set_rng_state(rng["cuda"], self.device)
        augment = rng["augment"]
        if len(augment) != self.world:
            raise SieveError(
                f"run {self.record.id} was trained on {len(augment)} process(es); "
                f"resume it with the same number (now {self.world})"
            )
        self.generator.set_state(augment[self.rank])
        self.messages.append(
            f"resumed run {self.record.id} at epoch {self.state.position.epoch + 1}, "
            f"step {self.state.position.step}"
        )

    def _write_status(self, status: str, error: str | None = None) -> None:
        """Record the status, metrics and where the checkpoint lives (before it first exists,
        so a run killed right after its first checkpoint still finds it)."""
        if self.rank != 0:
            return
        self.record.status = status
        self._write_metrics(error)
        relative = self.checkpoint_path.relative_to(self.project.path).as_posix()
        self.project.update_run(self.record.id, status=status, checkpoint=relative)
        self.record.checkpoint = self.checkpoint_path

    def _write_metrics(self, error: str | None = None) -> None:
        if self.rank != 0:
            return
        metrics = {
            "epochs_done": self.state.position.epoch,
            "global_step": self.state.position.global_step,
            "total_steps": self.total_steps,
            "batch_size": self.batch_size,
            "world_size": self.world,
            "history": self.state.history,
            "messages": self.messages[-50:],
            "owner": self.owner.to_dict(),
        }
        if error:
            metrics["error"] = error
        self.record.metrics = metrics
        self.project.update_run(self.record.id, metrics=metrics)


def _epoch_text(entry: dict[str, Any], epochs: int) -> str:
    parts = [f"epoch {entry['epoch']}/{epochs} done", f"loss {entry['loss']:.4f}"]
    if entry.get("std_relative") is not None:
        parts.append(f"std {entry['std_relative']:.2f}")
    if entry.get("knn") is not None:
        parts.append(f"kNN {entry['knn']:.1%}")
    parts.append(f"{entry['images_per_s']:,.0f} img/s")
    return " · ".join(parts)
