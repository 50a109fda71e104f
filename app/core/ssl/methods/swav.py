"""SwAV: swapped prediction of Sinkhorn cluster assignments across multi-crop views."""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from app.core.ssl.heads import SwaVProjectionHead, SwaVPrototypes
from app.core.ssl.losses import SwaVLoss
from app.core.ssl.methods.base import (
    Method,
    MethodDefaults,
    StepOutput,
    check_multi_crop,
    fp32_loss,
)
from app.core.ssl.methods.multicrop import forward_by_resolution


class SwaV(Method):
    """SwAV as in lightly's example (without the optional queue).

    SwaVProjectionHead(D, D, 128), SwaVPrototypes(128, n_prototypes=512,
    n_steps_frozen_prototypes=1), normalised at the start of every step; the first 2 views are
    the high-resolution ones. Same-sized views run as one batch. Defaults: AdamW at lr 1e-3 per
    256 images (lightly's example uses Adam at 1e-3), weight decay 1e-6 (the SwAV paper's), no
    warmup.
    """

    name = "swav"
    summary = "Online clustering: each crop predicts the other crops' balanced prototype codes."
    defaults = MethodDefaults("adamw", 1e-3, 1e-6, 0, "swav")
    options = {
        "projection_dim": 128,
        "n_prototypes": 512,
        "n_steps_frozen_prototypes": 1,
        "temperature": 0.1,
        "sinkhorn_iterations": 3,
        "sinkhorn_epsilon": 0.05,
    }

    def __init__(self, backbone: nn.Module, **config: Any) -> None:
        super().__init__(backbone, **config)
        h = self.hparams
        dim, out_dim = self.feature_dim, int(h["projection_dim"])
        self.projection_head = SwaVProjectionHead(dim, dim, out_dim)
        self.prototypes = SwaVPrototypes(
            out_dim,
            n_prototypes=int(h["n_prototypes"]),
            n_steps_frozen_prototypes=int(h["n_steps_frozen_prototypes"]),
        )
        self.criterion = SwaVLoss(
            temperature=float(h["temperature"]),
            sinkhorn_iterations=int(h["sinkhorn_iterations"]),
            sinkhorn_epsilon=float(h["sinkhorn_epsilon"]),
            sinkhorn_gather_distributed=self.gather_distributed,
        )

    def _project(self, x: Tensor) -> Tensor:
        return F.normalize(self.projection_head(self.backbone(x)), dim=1, p=2)

    def forward(self, views: list[Tensor], epoch: int, step: int) -> StepOutput:
        """Swapped prediction between the high- and low-resolution crops' prototype scores."""
        check_multi_crop(self.name, views)
        self.prototypes.normalize()
        projections = forward_by_resolution(self._project, views)
        scores = [self.prototypes(z) for z in projections]
        loss = fp32_loss(self.criterion, scores[:2], scores[2:])
        return StepOutput(loss.squeeze(0), projections[0].detach().float())

    def before_optimizer_step(self, epoch: int, step: int) -> None:
        """Keep the prototypes fixed during the first ``n_steps_frozen_prototypes`` steps."""
        self.prototypes.cancel_prototype_gradients(step)
