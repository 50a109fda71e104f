"""What every self-supervised method offers the trainer: one training step and its hooks."""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from app.core.errors import SieveError
from app.core.ranges import Range

OptionValue = float | int

_POSITIVE = Range(0, low_open=True)
_SIZE = Range(1, integer=True)
_FLAG = Range(0, 1, integer=True)
OPTION_RANGES: dict[str, Range] = {
    "temperature": _POSITIVE,
    "teacher_temp": _POSITIVE,
    "warmup_teacher_temp": _POSITIVE,
    "student_temp": _POSITIVE,
    "sinkhorn_epsilon": _POSITIVE,
    "momentum_start": Range(0, 1),
    "center_momentum": Range(0, 1),
    "projection_dim": _SIZE,
    "hidden_dim": _SIZE,
    "output_dim": _SIZE,
    "bottleneck_dim": _SIZE,
    "prediction_hidden_dim": _SIZE,
    "n_prototypes": _SIZE,
    "num_layers": _SIZE,
    "sinkhorn_iterations": _SIZE,
    "memory_bank_size": _SIZE,
    "freeze_last_layer": Range(0, integer=True),
    "warmup_teacher_temp_epochs": Range(0, integer=True),
    "n_steps_frozen_prototypes": Range(0, integer=True),
    "center_from_first_batch": _FLAG,
}
"""The values each method option accepts (options not listed: any finite number)."""


@dataclass(frozen=True)
class MethodDefaults:
    """Training settings a method starts from; ``lr`` is for a batch of 256 (scaled linearly)."""

    optimizer: str
    lr: float
    weight_decay: float
    warmup_epochs: int
    augment: str


@dataclass
class StepOutput:
    """A step's float32 loss and a detached float32 (batch, dim) projection of the first view."""

    loss: Tensor
    projection: Tensor


class Method(nn.Module, abc.ABC):
    """A self-supervised method around a backbone with an int ``feature_dim``.

    Subclasses declare ``options`` (tunable hyperparameters and their defaults); the values in use
    are in ``self.hparams``. ``total_steps`` (max_epochs * steps_per_epoch) paces momentum
    schedules.
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    defaults: ClassVar[MethodDefaults]
    options: ClassVar[dict[str, OptionValue]]

    def __init__(
        self,
        backbone: nn.Module,
        *,
        max_epochs: int,
        steps_per_epoch: int,
        gather_distributed: bool = False,
        **options: OptionValue,
    ) -> None:
        super().__init__()
        if max_epochs < 1 or steps_per_epoch < 1:
            raise SieveError(
                f"{self.name} needs max_epochs and steps_per_epoch >= 1, "
                f"got {max_epochs} and {steps_per_epoch}"
            )
        self.hparams = resolve_options(self.name, self.options, options)
        self.backbone = backbone
        self.feature_dim = feature_dim(backbone)
        self.max_epochs = max_epochs
        self.steps_per_epoch = steps_per_epoch
        self.total_steps = max_epochs * steps_per_epoch
        self.gather_distributed = gather_distributed

    @abc.abstractmethod
    def forward(self, views: list[Tensor], epoch: int, step: int) -> StepOutput:
        """Loss for one batch of augmented views (in the preset's order) at a global step."""

    def prefill_batches(self, global_batch: int) -> int:
        """Batches :meth:`prefill` wants before the first step (default: none)."""
        return 0

    def prefill(self, views: list[Tensor]) -> None:
        """Fill memory banks from one batch of views before training (default: nothing)."""

    def before_optimizer_step(self, epoch: int, step: int) -> None:
        """Adjust gradients after backward, before the optimizer step (default: nothing)."""

    def after_optimizer_step(self, epoch: int, step: int) -> None:
        """Update momentum networks after the optimizer step (default: nothing)."""

    def paired_projection_step(self, views: list[Tensor]) -> StepOutput:
        """Both views through the backbone and ``projection_head``, ``criterion`` between them.

        The whole step of the symmetric two-view methods (SimCLR, Barlow Twins, VICReg).
        """
        x0, x1 = two_views(self.name, views)
        z0 = self.projection_head(self.backbone(x0))
        z1 = self.projection_head(self.backbone(x1))
        return StepOutput(fp32_loss(self.criterion, z0, z1), z0.detach().float())

    def embed(self, x: Tensor) -> Tensor:
        """Backbone features (batch, feature_dim) of images for embeddings and kNN."""
        return self.backbone(x)


def resolve_options(
    method: str, defaults: Mapping[str, OptionValue], given: Mapping[str, object]
) -> dict[str, OptionValue]:
    """Defaults overridden by ``given``; ints stay ints. Unknown or ill-typed -> SieveError."""
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise SieveError(
            f"unknown option(s) for {method}: {', '.join(unknown)}; "
            f"valid options: {', '.join(defaults)}"
        )
    resolved = dict(defaults)
    for key, value in given.items():
        resolved[key] = _coerce(method, key, value, defaults[key])
    return resolved


def _coerce(method: str, key: str, value: object, default: OptionValue) -> OptionValue:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SieveError(f"option {key} of {method} must be a number, got {value!r}")
    if isinstance(default, int) and not isinstance(default, bool):
        limits = OPTION_RANGES.get(key, Range(integer=True))
    else:
        limits = OPTION_RANGES.get(key, Range())
    limits.check(f"option {key} of {method}", value)
    return int(value) if limits.integer else float(value)


def feature_dim(backbone: nn.Module) -> int:
    """The backbone's ``feature_dim`` attribute (the width of its output features)."""
    dim = getattr(backbone, "feature_dim", None)
    if not isinstance(dim, int) or dim < 1:
        raise TypeError(f"backbone {type(backbone).__name__} has no positive int feature_dim")
    return dim


def fp32_loss(
    criterion: Callable[..., Tensor], *inputs: Tensor | list[Tensor], **kwargs: Any
) -> Tensor:
    """``criterion`` on float32 copies of ``inputs`` (tensors or lists of them), outside autocast.

    Networks may run in reduced precision; losses (sums over large matrices, exponentials,
    Sinkhorn) and the buffers they update stay in float32.
    """
    first = inputs[0] if isinstance(inputs[0], Tensor) else inputs[0][0]
    converted = [x.float() if isinstance(x, Tensor) else [t.float() for t in x] for x in inputs]
    with torch.autocast(first.device.type, enabled=False):
        return criterion(*converted, **kwargs)


def two_views(method: str, views: list[Tensor]) -> tuple[Tensor, Tensor]:
    """The two views of a two-view method; ValueError for any other count."""
    if len(views) != 2:
        raise ValueError(f"{method} takes 2 views per batch, got {len(views)}")
    return views[0], views[1]


def check_multi_crop(method: str, views: list[Tensor]) -> None:
    """Check that a multi-crop batch has its 2 global views (and any number of local ones)."""
    if len(views) < 2:
        raise ValueError(f"{method} takes 2 global views and any local ones, got {len(views)}")
