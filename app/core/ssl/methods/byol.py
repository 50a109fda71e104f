"""BYOL: an online network predicts a momentum target network's projections."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from app.core.ssl.heads import BYOLPredictionHead, BYOLProjectionHead
from app.core.ssl.losses import NegativeCosineSimilarity
from app.core.ssl.methods.base import Method, MethodDefaults, StepOutput, fp32_loss, two_views
from app.core.ssl.methods.momentum import cosine_schedule, frozen_copy, update_momentum


class BYOL(Method):
    """BYOL as in lightly's example.

    BYOLProjectionHead(D, 1024, 256), BYOLPredictionHead(256, 1024, 256), symmetric negative
    cosine similarity against the target network, whose momentum follows a cosine from 0.996 to 1
    over all steps. Defaults: SGD at lr 0.12 per 256 images, weight decay 5e-4, no warmup.
    """

    name = "byol"
    summary = "Predicts a slowly moving target network's projection of the other view."
    defaults = MethodDefaults("sgd", 0.12, 5e-4, 0, "byol")
    options = {"projection_dim": 256, "hidden_dim": 1024, "momentum_start": 0.996}

    def __init__(self, backbone: nn.Module, **config: Any) -> None:
        super().__init__(backbone, **config)
        out_dim, hidden = int(self.hparams["projection_dim"]), int(self.hparams["hidden_dim"])
        self.projection_head = BYOLProjectionHead(self.feature_dim, hidden, out_dim)
        self.prediction_head = BYOLPredictionHead(out_dim, hidden, out_dim)
        self.momentum_backbone = frozen_copy(self.backbone)
        self.momentum_projection_head = frozen_copy(self.projection_head)
        self.criterion = NegativeCosineSimilarity()

    @torch.no_grad()
    def _target(self, x: Tensor) -> Tensor:
        return self.momentum_projection_head(self.momentum_backbone(x))

    def forward(self, views: list[Tensor], epoch: int, step: int) -> StepOutput:
        """Each view's online prediction against the other view's target projection."""
        x0, x1 = two_views(self.name, views)
        z0 = self.projection_head(self.backbone(x0))
        z1 = self.projection_head(self.backbone(x1))
        p0, p1 = self.prediction_head(z0), self.prediction_head(z1)
        target0, target1 = self._target(x0), self._target(x1)
        loss = 0.5 * (
            fp32_loss(self.criterion, p0, target1) + fp32_loss(self.criterion, p1, target0)
        )
        return StepOutput(loss, z0.detach().float())

    def after_optimizer_step(self, epoch: int, step: int) -> None:
        """Move the target network towards the online one."""
        momentum = cosine_schedule(
            step, self.total_steps, float(self.hparams["momentum_start"]), 1.0
        )
        update_momentum(self.backbone, self.momentum_backbone, momentum)
        update_momentum(self.projection_head, self.momentum_projection_head, momentum)
