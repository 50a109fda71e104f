"""Momentum (EMA) networks: frozen copies and their cosine-scheduled updates."""

from __future__ import annotations

import copy
import math

import torch
from torch import nn


def cosine_schedule(step: int, max_steps: int, start_value: float, end_value: float) -> float:
    """Cosine ramp from ``start_value`` at step 0 to ``end_value`` at step ``max_steps - 1``.

    Same values as lightly's ``cosine_schedule`` (without its ``period``); later steps stay at
    ``end_value``.
    """
    if step < 0 or max_steps < 0:
        raise ValueError(f"step {step} and max_steps {max_steps} must be non-negative")
    if max_steps <= 1 or step >= max_steps - 1:
        return end_value
    cosine = (math.cos(math.pi * step / (max_steps - 1)) + 1) / 2
    return end_value - (end_value - start_value) * cosine


def frozen_copy(module: nn.Module) -> nn.Module:
    """A deep copy of ``module`` whose parameters do not require gradients."""
    target = copy.deepcopy(module)
    target.requires_grad_(False)
    return target


@torch.no_grad()
def update_momentum(online: nn.Module, target: nn.Module, momentum: float) -> None:
    """``target = momentum * target + (1 - momentum) * online`` for every parameter."""
    target_params = list(target.parameters())
    online_params = list(online.parameters())
    if len(target_params) != len(online_params):
        raise ValueError("online and momentum networks have different parameter lists")
    torch._foreach_mul_(target_params, momentum)
    torch._foreach_add_(target_params, online_params, alpha=1.0 - momentum)
