"""Training checkpoints: everything needed to continue a run exactly, written atomically.

A checkpoint holds the model (with momentum networks, memory banks and centres, which are
buffers), the optimizer and AMP scaler, the position (epoch, step in epoch, global step), the
partial epoch meters, the history and every random state (torch, CUDA, and each rank's
augmentation generator). It contains only tensors and plain containers, so it loads with
``weights_only=True``.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from app.core.errors import SieveError
from app.core.store.arrays import atomic_file

FORMAT = "sieve-checkpoint"
DISK_FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


class CheckpointDiskFull(SieveError):
    """The disk filled up while a checkpoint was written; the previous checkpoint is intact."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"disk full while saving the checkpoint to {path}")
        self.path = path


@dataclass
class Position:
    """Where a run stands: ``step`` steps of ``epoch`` done, ``global_step`` in total."""

    epoch: int = 0
    step: int = 0
    global_step: int = 0


@dataclass
class TrainState:
    """The resumable state besides module and optimizer weights."""

    position: Position = field(default_factory=Position)
    history: list[dict[str, Any]] = field(default_factory=list)
    meters: dict[str, float] = field(default_factory=dict)
    rng: dict[str, Any] = field(default_factory=dict)


def save_checkpoint(
    path: Path,
    config: dict[str, Any],
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler | None,
    state: TrainState,
) -> None:
    """Write the checkpoint to a temp file, then replace ``path`` with it in one rename.

    A failed write removes the temp file and leaves the previous checkpoint as it was.
    """
    payload = {
        "format": FORMAT,
        "version": 1,
        "config": config,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scaler": scaler.state_dict() if scaler is not None else None,
        "position": vars(state.position),
        "history": state.history,
        "meters": state.meters,
        "rng": state.rng,
    }
    try:
        with atomic_file(path) as handle:
            torch.save(payload, handle)
    except Exception as error:
        if is_disk_full(error):
            raise CheckpointDiskFull(path) from error
        if isinstance(error, OSError):
            raise SieveError(f"cannot write the checkpoint {path}: {error}") from error
        raise


def is_disk_full(error: BaseException | None) -> bool:
    """Whether ``error`` or an error it arose from is "no space left" (or over quota).

    torch's writer sometimes reports a failed write as a RuntimeError raised from the OSError.
    """
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in DISK_FULL_ERRNOS:
            return True
        error = error.__cause__ or error.__context__
    return False


def load_checkpoint(path: Path) -> dict[str, Any]:
    """The raw checkpoint dict (tensors on CPU); a clear error if it is not one of Sieve's."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as error:
        raise SieveError(f"checkpoint not found: {path}") from error
    except Exception as error:
        raise SieveError(f"cannot read the checkpoint {path}: {error}") from error
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise SieveError(f"{path} is not a Sieve training checkpoint")
    return payload


def restore(
    payload: dict[str, Any],
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler | None,
) -> TrainState:
    """Load weights and optimizer state into the given objects; return the rest."""
    model.load_state_dict(payload["model"])
    optimizer.load_state_dict(payload["optimizer"])
    if scaler is not None and payload.get("scaler"):
        scaler.load_state_dict(payload["scaler"])
    return TrainState(
        Position(**payload["position"]),
        list(payload["history"]),
        dict(payload["meters"]),
        dict(payload["rng"]),
    )
