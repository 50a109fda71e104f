"""SimCLR: contrastive learning with in-batch negatives."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from app.core.ssl.heads import SimCLRProjectionHead
from app.core.ssl.losses import NTXentLoss
from app.core.ssl.methods.base import Method, MethodDefaults, StepOutput


class SimCLR(Method):
    """SimCLR as in lightly's example: SimCLRProjectionHead(D, D, 128) and NT-Xent at 0.5.

    Defaults follow lightly's benchmarks: SGD (momentum 0.9) at lr 0.12 per 256 images, weight
    decay 5e-4, no warmup.
    """

    name = "simclr"
    summary = "Contrastive: two views of an image attract, the other images of the batch repel."
    defaults = MethodDefaults("sgd", 0.12, 5e-4, 0, "simclr")
    options = {"temperature": 0.5, "projection_dim": 128}

    def __init__(self, backbone: nn.Module, **config: Any) -> None:
        super().__init__(backbone, **config)
        dim = self.feature_dim
        self.projection_head = SimCLRProjectionHead(dim, dim, int(self.hparams["projection_dim"]))
        self.criterion = NTXentLoss(
            temperature=float(self.hparams["temperature"]),
            gather_distributed=self.gather_distributed,
        )

    def forward(self, views: list[Tensor], epoch: int, step: int) -> StepOutput:
        """NT-Xent between the projections of the two views."""
        return self.paired_projection_step(views)
