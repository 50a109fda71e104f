"""MoCo v2: a momentum key encoder and a FIFO bank of negative keys."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from app.core.ssl.heads import MoCoProjectionHead
from app.core.ssl.losses import NTXentLoss
from app.core.ssl.methods.base import Method, MethodDefaults, StepOutput, fp32_loss, two_views
from app.core.ssl.methods.momentum import cosine_schedule, frozen_copy, update_momentum


class MoCo(Method):
    """MoCo v2 as in lightly's example and benchmarks.

    MoCoProjectionHead(D, D, 128); NT-Xent at temperature 0.1 against a (4096, 128) bank of keys;
    query from the first view, key from the second through the momentum encoder, whose momentum
    follows a cosine from 0.996 to 1 over all steps. Defaults: SGD at lr 0.12 per 256 images,
    weight decay 5e-4, no warmup. The bank is a buffer of the loss, saved with the state_dict.
    """

    name = "moco"
    summary = "Contrastive against a momentum encoder's keys and a queue of past keys (MoCo v2)."
    defaults = MethodDefaults("sgd", 0.12, 5e-4, 0, "moco")
    options = {
        "temperature": 0.1,
        "projection_dim": 128,
        "memory_bank_size": 4096,
        "momentum_start": 0.996,
    }

    def __init__(self, backbone: nn.Module, **config: Any) -> None:
        super().__init__(backbone, **config)
        dim, out_dim = self.feature_dim, int(self.hparams["projection_dim"])
        self.projection_head = MoCoProjectionHead(dim, dim, out_dim)
        self.momentum_backbone = frozen_copy(self.backbone)
        self.momentum_projection_head = frozen_copy(self.projection_head)
        self.criterion = NTXentLoss(
            temperature=float(self.hparams["temperature"]),
            memory_bank_size=(int(self.hparams["memory_bank_size"]), out_dim),
            gather_distributed=self.gather_distributed,
        )

    def forward(self, views: list[Tensor], epoch: int, step: int) -> StepOutput:
        """Queries of the first view against the key of the second and the banked keys."""
        x_query, x_key = two_views(self.name, views)
        query = self.projection_head(self.backbone(x_query))
        with torch.no_grad():
            key = self.momentum_projection_head(self.momentum_backbone(x_key))
        return StepOutput(fp32_loss(self.criterion, query, key), query.detach().float())

    def prefill_batches(self, global_batch: int) -> int:
        """Enough batches to replace the bank's random start with real keys."""
        return math.ceil(self.criterion.memory_bank.num_features / global_batch)

    @torch.no_grad()
    def prefill(self, views: list[Tensor]) -> None:
        """Enqueue the momentum encoder's keys of one batch (the bank's first contents).

        lightly starts the bank with random unit vectors, easy negatives that make the loss rise
        while real keys replace them; Sieve fills the bank with real keys before the first step.
        """
        _, x_key = two_views(self.name, views)
        key = self.momentum_projection_head(self.momentum_backbone(x_key))
        bank = self.criterion.memory_bank
        bank.negatives(F.normalize(key.float(), dim=1), update=True)

    def after_optimizer_step(self, epoch: int, step: int) -> None:
        """Move the momentum encoder towards the online one."""
        momentum = cosine_schedule(
            step, self.total_steps, float(self.hparams["momentum_start"]), 1.0
        )
        update_momentum(self.backbone, self.momentum_backbone, momentum)
        update_momentum(self.projection_head, self.momentum_projection_head, momentum)
