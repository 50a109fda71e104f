"""Optimizers (SGD, AdamW, LARS) and the warm-up + cosine learning-rate schedule."""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

from app.core.errors import SieveError


class LARS(torch.optim.Optimizer):
    """SGD with momentum and layer-wise adaptive rate scaling (You et al., 2017).

    Parameter groups with ``lars_exclude=True`` (biases and norm weights) use plain SGD, as in
    the SimCLR / Barlow Twins / VICReg recipes.
    """

    def __init__(
        self,
        params: Iterable,
        lr: float,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        trust_coefficient: float = 0.001,
        eps: float = 1e-8,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            weight_decay=weight_decay,
            trust_coefficient=trust_coefficient,
            eps=eps,
            lars_exclude=False,
        )
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):  # noqa: ANN001 - torch's signature
        loss = None if closure is None else closure()
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                grad = param.grad
                if group["weight_decay"]:
                    grad = grad.add(param, alpha=group["weight_decay"])
                if not group["lars_exclude"]:
                    grad = grad * self._trust_ratio(param, grad, group)
                state = self.state[param]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = grad.clone()
                else:
                    state["momentum_buffer"].mul_(group["momentum"]).add_(grad)
                param.add_(state["momentum_buffer"], alpha=-group["lr"])
        return loss

    @staticmethod
    def _trust_ratio(param: torch.Tensor, grad: torch.Tensor, group: dict) -> torch.Tensor:
        param_norm = torch.linalg.vector_norm(param)
        grad_norm = torch.linalg.vector_norm(grad)
        ratio = group["trust_coefficient"] * param_norm / (grad_norm + group["eps"])
        return torch.where((param_norm > 0) & (grad_norm > 0), ratio, torch.ones_like(ratio))


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """LARS groups: weights adapt and decay; biases and norm parameters (1-D) do neither."""
    decay, no_decay = [], []
    for param in model.parameters():
        if param.requires_grad:
            (no_decay if param.ndim <= 1 else decay).append(param)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0, "lars_exclude": True},
    ]


def build_optimizer(
    name: str, model: nn.Module, lr: float, weight_decay: float
) -> torch.optim.Optimizer:
    """``sgd`` (momentum 0.9) or ``adamw`` decaying every trainable parameter, as lightly's
    examples do; ``lars`` with the SimCLR recipe's exclusion of biases and norm parameters."""
    params = [p for p in model.parameters() if p.requires_grad]
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "lars":
        return LARS(parameter_groups(model, weight_decay), lr=lr)
    raise SieveError(f"unknown optimizer {name!r}: use sgd, adamw or lars")


def learning_rate(step: int, total_steps: int, warmup_steps: int, base_lr: float) -> float:
    """Linear warm-up from 0 to ``base_lr``, then cosine decay to 0 at ``total_steps``."""
    if warmup_steps > 0 and step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return base_lr * 0.5 * (1.0 + math.cos(math.pi * progress))


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
