"""Process-group helpers for self-supervised losses.

`gather` concatenates a tensor from every rank along dim 0. Its backward sums the incoming
gradients over ranks and returns this rank's slice, so gradients are not divided by the world
size (the pitfall of lightly issues #1977 and #1528). Without an initialised process group every
helper behaves as a single process.
"""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor


def is_initialized() -> bool:
    """Whether torch.distributed is available and a process group is initialised."""
    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    """Number of processes in the default group (1 when not distributed)."""
    return dist.get_world_size() if is_initialized() else 1


def rank() -> int:
    """Rank of this process in the default group (0 when not distributed)."""
    return dist.get_rank() if is_initialized() else 0


class _Gather(torch.autograd.Function):
    """All-gather along dim 0 whose backward returns the local slice of the summed gradient."""

    @staticmethod
    def forward(ctx: Any, tensor: Tensor) -> Tensor:
        n = world_size()
        parts = [torch.empty_like(tensor) for _ in range(n)]
        dist.all_gather(parts, tensor.contiguous())
        ctx.sizes = [p.shape[0] for p in parts]
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        start = sum(ctx.sizes[: rank()])
        return grad[start : start + ctx.sizes[rank()]]


def gather(tensor: Tensor) -> Tensor:
    """Concatenate `tensor` from all ranks along dim 0, keeping gradients for the local part.

    Every rank must pass a tensor of the same shape. Returns `tensor` itself when not distributed.
    """
    if world_size() == 1:
        return tensor
    return _Gather.apply(tensor)


@torch.no_grad()
def all_reduce_sum(tensor: Tensor) -> Tensor:
    """Sum `tensor` in place over all ranks (no gradient); a no-op when not distributed."""
    if world_size() > 1:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def launched_by_torchrun() -> bool:
    """Whether this process was started by torchrun with more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_from_env(device_type: str) -> None:
    """Join the process group torchrun describes: NCCL for CUDA, gloo otherwise."""
    if is_initialized() or not launched_by_torchrun():
        return
    backend = "nccl" if device_type == "cuda" else "gloo"
    dist.init_process_group(backend=backend)


def local_rank() -> int:
    """This process's index on its machine (torchrun's LOCAL_RANK; 0 when not distributed)."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def barrier() -> None:
    """Wait for every rank; a no-op when not distributed."""
    if world_size() > 1:
        dist.barrier()


def broadcast_object(value: Any, src: int = 0) -> Any:
    """Rank ``src``'s picklable ``value`` on every rank."""
    if world_size() == 1:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def gather_objects(value: Any) -> list[Any]:
    """Every rank's picklable ``value``, in rank order, on every rank."""
    if world_size() == 1:
        return [value]
    out: list[Any] = [None] * world_size()
    dist.all_gather_object(out, value)
    return out


def rank_from_env() -> int:
    """This process's global rank as torchrun announces it, before any group exists."""
    return int(os.environ.get("RANK", "0"))
