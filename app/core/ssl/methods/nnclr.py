"""NNCLR: contrastive learning with nearest neighbours from a support set as positives."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from app.core.ssl.heads import NNCLRPredictionHead, NNCLRProjectionHead
from app.core.ssl.losses import NTXentLoss
from app.core.ssl.methods.base import Method, MethodDefaults, StepOutput, fp32_loss, two_views
from app.core.ssl.methods.nn_bank import NearestNeighbourBank


class NNCLR(Method):
    """NNCLR as in lightly's example.

    NNCLRProjectionHead(D, D, 128), NNCLRPredictionHead(128, D, 128), a (4096, 128) support set
    and NT-Xent at 0.5 between each view's nearest neighbour and the other view's prediction.
    Defaults: SGD at lr 0.12 per 256 images, weight decay 5e-4, no warmup; the "nnclr"
    augmentation preset (SimCLR's, as in lightly).
    """

    name = "nnclr"
    summary = "Contrastive with nearest neighbours from a support set of past projections."
    defaults = MethodDefaults("sgd", 0.12, 5e-4, 0, "nnclr")
    options = {"temperature": 0.5, "projection_dim": 128, "memory_bank_size": 4096}

    def __init__(self, backbone: nn.Module, **config: Any) -> None:
        super().__init__(backbone, **config)
        dim, out_dim = self.feature_dim, int(self.hparams["projection_dim"])
        self.projection_head = NNCLRProjectionHead(dim, dim, out_dim)
        self.prediction_head = NNCLRPredictionHead(out_dim, dim, out_dim)
        self.memory_bank = NearestNeighbourBank(
            int(self.hparams["memory_bank_size"]), out_dim, self.gather_distributed
        )
        self.criterion = NTXentLoss(
            temperature=float(self.hparams["temperature"]),
            gather_distributed=self.gather_distributed,
        )

    def _project(self, x: Tensor) -> tuple[Tensor, Tensor]:
        z = self.projection_head(self.backbone(x))
        return z.detach(), self.prediction_head(z)

    def forward(self, views: list[Tensor], epoch: int, step: int) -> StepOutput:
        """Each view's nearest neighbour against the other view's prediction; banks view 1."""
        x0, x1 = two_views(self.name, views)
        z0, p0 = self._project(x0)
        z1, p1 = self._project(x1)
        nn0 = self.memory_bank(z0, update=False)
        nn1 = self.memory_bank(z1, update=self.training)
        loss = 0.5 * (fp32_loss(self.criterion, nn0, p1) + fp32_loss(self.criterion, nn1, p0))
        return StepOutput(loss, z0.float())
