"""VICReg: invariance between views, variance and decorrelation within each view."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from app.core.ssl.heads import VICRegProjectionHead
from app.core.ssl.losses import VICRegLoss
from app.core.ssl.methods.base import Method, MethodDefaults, StepOutput


class VICReg(Method):
    """VICReg as in lightly's example: VICRegProjectionHead(D, 2048, 2048, num_layers=2).

    Loss weights 25 / 25 / 1. Defaults follow lightly's benchmarks: SGD at lr 0.12 per 256
    images, weight decay 5e-4, no warmup.
    """

    name = "vicreg"
    summary = "Variance-invariance-covariance: matches views while keeping features spread out."
    defaults = MethodDefaults("sgd", 0.12, 5e-4, 0, "vicreg")
    options = {
        "projection_dim": 2048,
        "hidden_dim": 2048,
        "num_layers": 2,
        "lambda_param": 25.0,
        "mu_param": 25.0,
        "nu_param": 1.0,
    }

    def __init__(self, backbone: nn.Module, **config: Any) -> None:
        super().__init__(backbone, **config)
        self.projection_head = VICRegProjectionHead(
            self.feature_dim,
            int(self.hparams["hidden_dim"]),
            int(self.hparams["projection_dim"]),
            num_layers=int(self.hparams["num_layers"]),
        )
        self.criterion = VICRegLoss(
            lambda_param=float(self.hparams["lambda_param"]),
            mu_param=float(self.hparams["mu_param"]),
            nu_param=float(self.hparams["nu_param"]),
            gather_distributed=self.gather_distributed,
        )

    def forward(self, views: list[Tensor], epoch: int, step: int) -> StepOutput:
        """VICReg loss between the embeddings of the two views."""
        return self.paired_projection_step(views)
