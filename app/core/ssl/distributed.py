"""Process-group helpers for self-supervised losses.

`gather` concatenates a tensor from every rank along dim 0. Its backward sums the incoming
gradients over ranks and returns this rank's slice, so gradients are not divided by the world
size (the pitfall of lightly issues #1977 and #1528). Without an initialised process group every
helper behaves as a single process.
"""

from __future__ import annotations

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
