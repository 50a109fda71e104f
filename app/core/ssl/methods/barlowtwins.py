"""Barlow Twins: the cross-correlation of two views' embeddings is pushed to the identity."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from app.core.ssl.heads import BarlowTwinsProjectionHead
from app.core.ssl.losses import BarlowTwinsLoss
from app.core.ssl.methods.base import Method, MethodDefaults, StepOutput


class BarlowTwins(Method):
    """Barlow Twins as in lightly's example: BarlowTwinsProjectionHead(D, 2048, 2048).

    Defaults follow lightly's benchmarks: SGD at lr 0.12 per 256 images, weight decay 5e-4, no
    warmup; augmentations are BYOL's, as in lightly.
    """

    name = "barlowtwins"
    summary = "Redundancy reduction: makes the views' embedding cross-correlation the identity."
    defaults = MethodDefaults("sgd", 0.12, 5e-4, 0, "byol")
    options = {"projection_dim": 2048, "hidden_dim": 2048, "lambda_param": 5e-3}

    def __init__(self, backbone: nn.Module, **config: Any) -> None:
        super().__init__(backbone, **config)
        self.projection_head = BarlowTwinsProjectionHead(
            self.feature_dim, int(self.hparams["hidden_dim"]), int(self.hparams["projection_dim"])
        )
        self.criterion = BarlowTwinsLoss(
            lambda_param=float(self.hparams["lambda_param"]),
            gather_distributed=self.gather_distributed,
        )

    def forward(self, views: list[Tensor], epoch: int, step: int) -> StepOutput:
        """Barlow Twins loss between the embeddings of the two views."""
        return self.paired_projection_step(views)
