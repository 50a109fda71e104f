"""SimSiam: a predictor on one view matches the stop-gradient projection of the other."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from app.core.ssl.heads import SimSiamPredictionHead, SimSiamProjectionHead
from app.core.ssl.losses import NegativeCosineSimilarity
from app.core.ssl.methods.base import Method, MethodDefaults, StepOutput, fp32_loss, two_views


class SimSiam(Method):
    """SimSiam as in lightly's example.

    SimSiamProjectionHead(D, D, 128) and SimSiamPredictionHead(128, 64, 128), symmetric negative
    cosine similarity. Defaults: SGD at lr 0.12 per 256 images, weight decay 5e-4, no warmup.
    """

    name = "simsiam"
    summary = "Siamese: a predictor matches the other view's projection, no negatives needed."
    defaults = MethodDefaults("sgd", 0.12, 5e-4, 0, "simsiam")
    options = {"projection_dim": 128, "prediction_hidden_dim": 64}

    def __init__(self, backbone: nn.Module, **config: Any) -> None:
        super().__init__(backbone, **config)
        dim, out_dim = self.feature_dim, int(self.hparams["projection_dim"])
        hidden = int(self.hparams["prediction_hidden_dim"])
        self.projection_head = SimSiamProjectionHead(dim, dim, out_dim)
        self.prediction_head = SimSiamPredictionHead(out_dim, hidden, out_dim)
        self.criterion = NegativeCosineSimilarity()

    def _project(self, x: Tensor) -> tuple[Tensor, Tensor]:
        z = self.projection_head(self.backbone(x))
        return z.detach(), self.prediction_head(z)

    def forward(self, views: list[Tensor], epoch: int, step: int) -> StepOutput:
        """Each view's prediction against the other view's detached projection."""
        x0, x1 = two_views(self.name, views)
        z0, p0 = self._project(x0)
        z1, p1 = self._project(x1)
        loss = 0.5 * (fp32_loss(self.criterion, z0, p1) + fp32_loss(self.criterion, z1, p0))
        return StepOutput(loss, z0.float())
